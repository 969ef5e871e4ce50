"""Chain-sync fixtures: the standard market (chain.testing.fixtures) seen through a Network."""

from __future__ import annotations

import pytest

from chain import abi
from chain.models import Deployment, Network


@pytest.fixture
def network(db, market, settings):
    """The market's node as the 'anvil' network, with its three contracts recorded."""
    settings.CHAIN_RPC_URLS = {"anvil": market.node_url}
    network = Network.objects.create(name="anvil", chain_id=market.chain_id, confirmation_depth=3)
    for name, address in market.suite.addresses.items():
        Deployment.objects.create(
            network=network,
            contract_name=name,
            address=address,
            deploy_block=0,
            code_hash="0x",
            sources_sha256=abi.load_artifact(name).sources_sha256,
        )
    return network


@pytest.fixture
def shop(network, market, org_a, make_staff, settings):
    """The market configured by org A (``licensing.tests.shop``), synced, with a manager."""
    from licensing.tests.shop import open_shop

    return open_shop(
        env=market, network=network, organization=org_a, make_staff=make_staff, settings=settings
    )
