"""Chain-sync fixtures: the standard market (chain.testing.fixtures) seen through a Network."""

from __future__ import annotations

import pytest

from chain import abi
from chain.models import Deployment, Network


@pytest.fixture
def network(db, market, settings):
    """The market's node as the 'anvil' network, with the suite's contracts recorded."""
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


@pytest.fixture
def store(db, org_a, make_staff):
    """Org A selling one model on the matrix network: ETH and USDC there, terms (one pair
    transferable), and a staff member of each role."""
    from types import SimpleNamespace

    from licensing.models import Currency
    from licensing.tests import factories
    from portal.choices import Role

    network = factories.matrix_network()
    return SimpleNamespace(
        org=org_a,
        model=factories.model_of(org_a, "Shop", "churn"),
        network=network,
        eth=factories.native_currency(network),
        usdc=Currency.objects.create(
            network=network, symbol="USDC", address="0x" + "5c" * 20, decimals=6
        ),
        terms=factories.plain_terms_row(org_a, "Standard"),
        open_terms=factories.plain_terms_row(org_a, "Transferable", transferable=True),
        owner=make_staff(org_a, Role.OWNER),
        manager=make_staff(org_a, Role.MANAGER),
        viewer=make_staff(org_a, Role.VIEWER),
    )


@pytest.fixture(scope="session")
def estimator_bytes():
    """A real, small scikit-learn classifier, serialized once per session."""
    from models_hub.demo_models import serialize, train

    return serialize(train("breast-cancer")[0], "joblib")
