"""Chain-sync fixtures: the standard market (chain.testing.fixtures) seen through a Network."""

from __future__ import annotations

import pytest

from chain import abi
from chain.models import Deployment, Network
from chain.testing import market as market_env


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


@pytest.fixture
def agents(shop, settings):
    """The shop's model sold per call in TUSDC; the outbox's sender may settle."""
    from licensing import entitlement
    from licensing.models import Currency
    from licensing.tests.publishing_setup import published_version
    from licensing.tests.x402_kit import PRICE
    from models_hub.models import AIModel, PayPerCallOffer

    settings.ENTITLEMENT_CACHE_SECONDS = 0
    settings.X402_AWAIT_SETTLEMENT = False  # settled below by draining the outbox
    entitlement.invalidate()
    env = shop.env
    model = shop.offers[market_env.LICENSE_NATIVE].model
    AIModel.objects.filter(pk=model.pk).update(listed=True)
    version = published_version(model)
    tusdc = Currency.objects.create(
        network=shop.network, symbol="TUSDC", address=env.usdc.address, decimals=6
    )
    offer = PayPerCallOffer.objects.create(
        model=model, network=shop.network, currency=tusdc, price=PRICE
    )
    role = env.pay_per_call.functions.SETTLER_ROLE().call()
    env.send(env.pay_per_call.functions.grantRole(role, env.acct.publisher), env.acct.admin)
    url = f"/api/models/{model.organization.slug}/{model.slug}/versions/{version.version}/predict"
    return shop, offer, url


@pytest.fixture
def agent(agents):
    """An agent's wallet (a key of its own; it never sends a transaction) holding TUSDC."""
    from eth_account import Account

    shop, _, _ = agents
    wallet = Account.create()
    shop.env.send(shop.env.usdc.functions.mint(wallet.address, 10**6), shop.env.acct.outsider)
    return wallet


@pytest.fixture
def governed(shop):
    """The shop's model with shares minted (alice 600, bob 400), governance on, the monthly
    license's price bounded to 0.005..0.05 ETH, and the bounds on chain."""
    from licensing import governance
    from licensing.models import GovernanceSettings, PriceBound
    from licensing.tests.governance_kit import PRICE, confirm
    from licensing.tests.publishing_setup import drain

    env, a = shop.env, shop.env.acct
    env.send(
        env.token.functions.mintShares(market_env.SHARES, [a.alice, a.bob], [600, 400]), a.publisher
    )
    confirm(shop)
    offer = shop.offers[market_env.LICENSE_NATIVE]
    model = offer.model
    governance.governance_settings_save(
        rules=GovernanceSettings(model=model, quorum_bps=3000, min_payees_bps=0, max_payees_bps=0)
    )
    governance.price_bound_save(
        bound=PriceBound(offer=offer, min_price=PRICE // 2, max_price=PRICE * 5)
    )
    drain(shop.network)
    assert env.governor.functions.priceBounds(market_env.LICENSE_NATIVE).call() == [
        PRICE // 2,
        PRICE * 5,
        True,
    ]
    return shop
