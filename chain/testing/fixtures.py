"""The chain's pytest fixtures, shared by every app's tests (the root ``conftest.py`` loads this
module as a plugin, so no app's tests import another app's conftest).

- ``anvil``: a session's shared anvil node, for tests that only read or add to its chain;
- ``chain_node``: a node of its own for the tests that move its clock, mine, reorganize and
  revert it to snapshots (which would pull state from under the ``anvil`` users);
- ``deployed``: the suite on ``chain_node``, deployed once per session;
- ``chain``: ``deployed``, reverted to its session state after each test (``evm_snapshot`` /
  ``evm_revert``), so tests see the same fresh state and run in any order;
- ``market``: ``chain`` plus the standard model, payee and offers (``chain.testing.market``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.testing.devnode import ANVIL, AnvilNode
from chain.testing.market import Env, configure_standard_offers, deploy_env
from chain.testing.required import require_service

ANVIL_MISSING = "anvil is not installed (npm ci installs @foundry-rs/anvil)"


def _start_node() -> AnvilNode:
    require_service(ANVIL.exists(), ANVIL_MISSING)
    return AnvilNode()


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilNode]:
    node = _start_node()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def chain_node() -> Iterator[AnvilNode]:
    node = _start_node()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def deployed(chain_node) -> Env:
    return deploy_env(chain_node)


@pytest.fixture
def chain(chain_node, deployed) -> Iterator[Env]:
    """The deployed suite, reverted to its session state after the test (on our own node:
    checked before each test, as its port could have been taken over if it died)."""
    chain_node.check()
    snapshot_id = deployed.snapshot()
    try:
        yield deployed
    finally:
        deployed.revert(snapshot_id)


@pytest.fixture
def market(chain) -> Env:
    """``chain`` plus a registered model, its payees and the standard offers."""
    configure_standard_offers(chain)
    return chain
