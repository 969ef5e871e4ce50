"""Marketplace rows for DB-only tests: listed models with offers configured through the services
and their on-chain side as the projections write it (``ChainOffer`` rows tied to the offers by
network and token id, ``Holding`` rows for the supply), and published versions."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from django.utils import timezone

from chain.choices import OfferKind
from chain.models import Network
from licensing.choices import UsageUnit
from licensing.models import ChainOffer, Currency, Holding, LicenseTerms, Offer
from licensing.services.terms import terms_create
from licensing.services.tokenomics import offer_create
from licensing.tests.factories import TOKEN_ADDRESS, address, chain_offer_of
from models_hub import services as models_services
from models_hub.choices import Task, VersionStatus
from models_hub.models import AIModel, ModelVersion, version_sort_key

ETH = 10**18
USDC = 10**6
DAY = 86_400


@dataclass
class Market:
    """The networks and currencies the models of a test are sold on."""

    mainnet: Network
    testnet: Network
    eth: Currency
    test_eth: Currency
    usdc: Currency
    terms: dict[int, LicenseTerms] = field(default_factory=dict)


def market_setup() -> Market:
    mainnet = Network.objects.create(name="mainnet-like", chain_id=991_001, confirmation_depth=2)
    testnet = Network.objects.create(name="testnet-like", chain_id=991_002, confirmation_depth=2)
    return Market(
        mainnet=mainnet,
        testnet=testnet,
        eth=Currency.objects.create(network=mainnet, symbol="ETH", address="", decimals=18),
        test_eth=Currency.objects.create(network=testnet, symbol="tETH", address="", decimals=18),
        usdc=Currency.objects.create(
            network=mainnet, symbol="USDC", address="0x" + "5c" * 20, decimals=6
        ),
    )


def terms_of(market: Market, organization) -> LicenseTerms:
    """Commercial terms of ``organization`` (through the terms service: a real hash)."""
    if organization.pk not in market.terms:
        market.terms[organization.pk] = terms_create(
            organization=organization,
            name="Standard commercial",
            commercial_use=True,
            commercial_attribution=True,
            commercial_revenue_share_bps=500,
            seats=3,
        )
    return market.terms[organization.pk]


def model_for_sale(
    organization,
    name: str,
    *,
    summary: str = "",
    tags: tuple[str, ...] = (),
    task: str = Task.CLASSIFICATION,
    listed: bool = True,
    model_card: str = "",
) -> AIModel:
    return models_services.model_create(
        organization=organization,
        name=name,
        task=task,
        summary=summary,
        tags=tags,
        listed=listed,
        model_card=model_card,
    )


def sell(
    market: Market,
    model: AIModel,
    kind: OfferKind = OfferKind.LICENSE,
    *,
    price: int = ETH // 20,
    currency: Currency | None = None,
    tier: str = "",
    duration: int = 0,
    max_supply: int = 0,
    credits: int = 100,
    on_chain: bool = True,
    active: bool = True,
) -> Offer:
    """An offer of ``model`` configured (and, unless ``on_chain`` is False, its ``ChainOffer``:
    active unless ``active`` is False)."""
    currency = currency or market.eth
    fields = {
        "model": model,
        "network": currency.network,
        "kind": kind,
        "tier_name": tier or f"{kind.label} {secrets.token_hex(2)}",
        "max_supply": max_supply,
    }
    if kind != OfferKind.SHARES:
        terms = terms_of(market, model.organization)
        fields |= {"price": price, "currency": currency, "terms": terms}
    if kind == OfferKind.ACCESS_PASS:
        fields["duration"] = duration or 30 * DAY
    elif kind == OfferKind.LICENSE:
        fields["duration"] = duration
    if kind == OfferKind.CREDITS:
        fields |= {"credits_per_unit": credits, "usage_unit": UsageUnit.CALL}
    offer = offer_create(**fields)
    if on_chain:
        row = chain_offer_of(offer)
        if not active:
            ChainOffer.objects.filter(pk=row.pk).update(active=False)
    return offer


def hold(offer: Offer, amount: int) -> Holding:
    """Someone holds ``amount`` tokens of ``offer`` (the supply the chain counts)."""
    return Holding.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=address(),
        balance=amount,
    )


def published_version(
    model: AIModel,
    version: str,
    *,
    features: list[str],
    classes: list | None = None,
    estimator: str = "sklearn.ensemble.RandomForestClassifier",
    published: bool = True,
    status: str = VersionStatus.READY,
    schema_change: dict | None = None,
) -> ModelVersion:
    """A version as validation leaves it (written directly: the file is not what is tested)."""
    now = timezone.now()
    return ModelVersion.objects.create(
        model=model,
        version=version,
        sort_key=version_sort_key(version),
        artifact=f"artifacts/test/{secrets.token_hex(8)}.joblib",
        format="joblib",
        sha256=secrets.token_hex(32),
        size_bytes=1234,
        status=status,
        estimator_class=estimator,
        feature_names=features,
        n_features=len(features),
        classes=classes,
        sklearn_version="1.7.2",
        schema_change=schema_change,
        published_at=now if published else None,
        first_published_at=now if published else None,
    )
