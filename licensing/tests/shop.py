"""The standard market (``chain.testing.market``) as an organization configured it: a model
whose tokenomics carry the market's model id, currencies, terms, and an ``Offer`` per chain
offer with the chain's token id, synced, and a manager to work the admin with."""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account

from chain.choices import OfferKind
from chain.models import Network
from chain.sync import sync_network
from chain.testing.market import (
    CREDITS,
    DAY,
    LICENSE_NATIVE,
    MODEL,
    PASS_TOKEN,
    PERPETUAL,
    SHARES,
    TERMS,
    Env,
)
from licensing.choices import UsageUnit
from licensing.models import Currency, LicenseTerms, ModelTokenomics, Offer
from licensing.services.tokenomics import offer_create
from models_hub import services as models_services
from models_hub.choices import Task
from portal.choices import Role

# Anvil's published development key #2: the market's publisher (a public test key).
PUBLISHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
# Anvil's key #0: the market's admin, who holds no publisher role.
ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@dataclass
class Shop:
    """What the tests work with: the market, its network, the offers by chain id, staff."""

    env: Env
    network: Network
    organization: object
    manager: object
    offers: dict[int, Offer]
    eth: Currency
    usd: Currency
    terms: LicenseTerms

    def sync(self):
        return sync_network(network=self.network)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _offer(model, network, token_id: int, **fields) -> Offer:
    offer = offer_create(model=model, network=network, **fields)
    Offer.objects.filter(pk=offer.pk).update(token_id=token_id)  # the chain's id, set by hand
    offer.refresh_from_db()
    return offer


def open_shop(*, env: Env, network: Network, organization, make_staff, settings) -> Shop:
    """Configure the market's offers for ``organization``, sync, and sign the outbox with the
    market's publisher key."""
    assert Account.from_key(PUBLISHER_KEY).address == env.acct.publisher
    settings.CHAIN_OPERATOR_KEY = PUBLISHER_KEY
    settings.CHAIN_TX_RECEIPT_WAIT = 10
    model = models_services.model_create(
        organization=organization, name="Churn classifier", task=Task.CLASSIFICATION
    )
    ModelTokenomics.objects.create(model=model, chain_model_id=_hex(MODEL))
    eth = Currency.objects.create(network=network, symbol="ETH", address="", decimals=18)
    usd = Currency.objects.create(
        network=network, symbol="TUSD", address=env.usd.address, decimals=6
    )
    terms = LicenseTerms.objects.create(
        organization=organization, name="Standard", transferable=True, content_hash=_hex(TERMS)
    )
    common = {"terms": terms}
    offers = {
        LICENSE_NATIVE: _offer(
            model, network, LICENSE_NATIVE, kind=OfferKind.LICENSE, tier_name="Monthly",
            price=10**16, currency=eth, duration=30 * DAY, transferable=True, **common,
        ),
        PASS_TOKEN: _offer(
            model, network, PASS_TOKEN, kind=OfferKind.ACCESS_PASS, tier_name="Week pass",
            price=5 * 10**6, currency=usd, duration=7 * DAY, max_supply=5, **common,
        ),
        PERPETUAL: _offer(
            model, network, PERPETUAL, kind=OfferKind.LICENSE, tier_name="Perpetual",
            price=3 * 10**16, currency=eth, **common,
        ),
        CREDITS: _offer(
            model, network, CREDITS, kind=OfferKind.CREDITS, tier_name="Credits",
            price=10**12, currency=eth, credits_per_unit=1, usage_unit=UsageUnit.ROW, **common,
        ),
        SHARES: _offer(model, network, SHARES, kind=OfferKind.SHARES, tier_name="Shares"),
    }  # fmt: skip
    sync_network(network=network)
    return Shop(
        env=env,
        network=network,
        organization=organization,
        manager=make_staff(organization, Role.MANAGER),
        offers=offers,
        eth=eth,
        usd=usd,
        terms=terms,
    )
