"""The revenue dashboard: render time and queries of an organization 100 times larger.

Builds two organizations in one throwaway database (SQLite, or ``BENCH_DATABASE_URL``): a small
one with 1,000 payments and a large one with 100,000 (quick: 200 and 10,000), each with three
models sold through a license (ETH), a 30-day pass (a 6-decimal dollar token) and a credits pack
(ETH). Every purchase is a ``Purchased`` and a ``PaymentSplit`` event; one credits purchase in
four is followed by a ``CreditsBurned``. The events are written by the sync's own
``chain.sync.insert_events`` and projected by licensing's real batch projector (``Payment``,
``Sale``, ``License``, ``LicenseChange``, ``CreditEntry`` rows, with their blocks' times spread
over the last year), so the rows are what a sync writes. Buyers: one per ten purchases.

Cases:

- ``render_100k_vs_1k``: median time of ``GET /admin/licensing/dashboard/`` for the large
  organization ÷ for the small one, through Django's test client as a signed-in manager,
  interleaved (``DEBUG`` off). The page reads the projections' running totals and counts
  licenses over an index, so a hundred times the rows must cost far less than a hundred times
  the time.
- ``queries``: the page's query count (the large organization's; ``detail`` has both, and an
  error is raised when they differ).
"""

from __future__ import annotations

import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench._common import case, measure, migrate, setup_django

RENDER_TARGET = "<=3"
QUERIES_BOUND = 20
QUERIES_TARGET = f"<={QUERIES_BOUND}"
URL = "/admin/licensing/dashboard/"

FULL = {"small": 1_000, "large": 100_000, "warmup": 2, "samples": 15, "budget_s": 120.0}
QUICK = {"small": 200, "large": 10_000, "warmup": 1, "samples": 7, "budget_s": 20.0}

PRICE = 10**16  # a license, in wei
PASS_PRICE = 5 * 10**6  # a pass, in micro-dollars
CREDIT_PRICE = 10**12  # a credit, in wei
DOLLAR = "0x" + "d0" * 20  # the dollar token's address (no contract: nothing is called)
TOKEN, VAULT = "0x" + "70" * 20, "0x" + "7a" * 20
ZERO = "0x" + "0" * 40
CHUNK = 5_000  # events per projected batch (a sync's batch size, about)
YEAR = timedelta(days=365)


class Shop:
    """One organization with its models, offers and a manager, and its chain ids."""

    def __init__(self, network, name: str, first_token_id: int):
        from django.contrib.auth import get_user_model

        from portal.choices import Role
        from portal.services import membership_set, organization_create

        self.organization = organization_create(name=name, slug=name.lower())
        email = f"manager@{self.organization.slug}.example.com"
        self.manager = get_user_model().objects.create_user(
            username=email, email=email, is_staff=True
        )
        membership_set(organization=self.organization, user=self.manager, role=Role.MANAGER)
        self.offers: list[tuple[int, str, int, int]] = []  # (token id, model id, kind, price)
        for number in range(3):
            self._model(network, number, first_token_id + 3 * number)

    def _model(self, network, number: int, token_id: int) -> None:
        from chain.choices import OfferKind
        from licensing.models import Currency, LicenseTerms, ModelTokenomics, Offer
        from models_hub.services import model_create

        model = model_create(
            organization=self.organization, name=f"Model {number}", task="classification"
        )
        model_id = "0x" + os.urandom(32).hex()
        ModelTokenomics.objects.create(model=model, chain_model_id=model_id)
        terms = LicenseTerms.objects.create(organization=self.organization, name=f"Terms {number}")
        eth = Currency.objects.get_or_create(network=network, address="", symbol="ETH")[0]
        usd = Currency.objects.get_or_create(
            network=network, address=DOLLAR, symbol="TUSD", decimals=6
        )[0]
        kinds = [
            (OfferKind.LICENSE, "License", eth, PRICE, {}),
            (OfferKind.ACCESS_PASS, "Pass", usd, PASS_PRICE, {"duration": 30 * 86_400}),
            (OfferKind.CREDITS, "Credits", eth, CREDIT_PRICE, {"credits_per_unit": 1}),
        ]
        for offset, (kind, tier, currency, price, extra) in enumerate(kinds):
            if kind == OfferKind.CREDITS:
                extra["usage_unit"] = "call"
            Offer.objects.create(
                model=model,
                network=network,
                kind=kind,
                tier_name=tier,
                token_id=token_id + offset,
                price=price,
                currency=currency,
                terms=terms,
                **extra,
            )
            self.offers.append((token_id + offset, model_id, int(kind), price))


def _chain_offers(network, shops: list[Shop]) -> None:
    """What the sync would have projected from each offer's ``OfferConfigured``."""
    from licensing.models import ChainOffer

    ChainOffer.objects.bulk_create(
        ChainOffer(
            network=network,
            token_address=TOKEN,
            token_id=token_id,
            model_id=model_id,
            kind=kind,
            price=price,
            currency=ZERO,
            duration=0,
            max_supply=0,
            transferable=False,
            terms_hash="0x" + "00" * 32,
            active=True,
            block_number=0,
        )
        for shop in shops
        for token_id, model_id, kind, price in shop.offers
    )


class History:
    """Generates a shop's events: purchases and burns, in block order, over the last year."""

    def __init__(self, network, shop: Shop, purchases: int, first_block: int, seed: int):
        self.network, self.shop, self.purchases = network, shop, purchases
        self.block = first_block
        self.rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
        self.buyers = [f"0x{seed:04x}{n:036x}" for n in range(max(1, purchases // 10))]
        self.start = datetime.now(UTC) - YEAR

    def events(self):
        from chain.choices import OfferKind

        for number in range(self.purchases):
            moment = self.start + YEAR * (number / self.purchases)
            token_id, model_id, kind, price = self.rng.choice(self.shop.offers)
            buyer = self.rng.choice(self.buyers)
            amount = self.rng.randint(50, 500) if kind == OfferKind.CREDITS else 1
            paid = price * amount
            currency = DOLLAR if kind == OfferKind.ACCESS_PASS else ZERO
            expiry = 0 if kind == OfferKind.CREDITS else int((moment + timedelta(30)).timestamp())
            self.block += 1
            purchased = {
                "buyer": buyer, "id": token_id, "modelId": model_id, "amount": amount,
                "paid": str(paid), "currency": currency, "newExpiry": expiry,
                "termsHash": "0x" + "00" * 32,
            }  # fmt: skip
            split = {
                "modelId": model_id, "currency": currency, "amount": str(paid),
                "fee": str(paid // 40), "toPayees": str(paid // 10),
                "toHolders": str(paid - paid // 40 - paid // 10), "residualTo": ZERO,
                "toResidual": "0",
            }  # fmt: skip
            yield self._event(TOKEN, "Purchased", purchased, moment, 0)
            yield self._event(VAULT, "PaymentSplit", split, moment, 1)
            if kind == OfferKind.CREDITS and number % 4 == 0:
                burned = {
                    "holder": buyer, "id": token_id, "amount": amount // 3,
                    "receiptRoot": "0x" + "01" * 32,
                }  # fmt: skip
                yield self._event(TOKEN, "CreditsBurned", burned, moment, 2)

    def _event(self, address: str, name: str, args: dict, moment: datetime, log_index: int):
        from chain import handlers

        contract = "RevenueVault" if address == VAULT else "LicenseToken"
        return handlers.Event(
            self.network, contract, address, name, args, self.block,
            f"0x{self.block:064x}", f"0x{self.block:064x}", log_index, True,
            block_time=moment,
        )  # fmt: skip


def _write(network, history: History) -> int:
    """Insert and project the history's events in sync-sized batches; returns how many."""
    from django.db import transaction

    from chain import handlers
    from chain.sync import insert_events

    written, batch = 0, []
    events = history.events()
    while True:
        batch = [event for _, event in zip(range(CHUNK), events, strict=False)]
        if not batch:
            return written
        with transaction.atomic():  # as the sync writes a range: events, then projections
            new = insert_events(network, batch)
            handlers.dispatch_batch(new)
        written += len(new)


def _publishing(network, shop: Shop) -> None:
    """A few publishing steps: two pending, one failed, two confirmed."""
    from chain.choices import TxStatus
    from chain.models import OutboundTransaction
    from licensing.choices import PublishStepKind
    from licensing.models import PublishStep
    from models_hub.models import AIModel

    model = AIModel.objects.filter(organization=shop.organization).first()
    statuses = [TxStatus.PENDING, TxStatus.SUBMITTED, TxStatus.REVERTED] + [TxStatus.CONFIRMED] * 2
    for number, status in enumerate(statuses):
        tx = OutboundTransaction.objects.create(
            network=network,
            idempotency_key=f"{shop.organization.slug}-{number}",
            sender="0x" + "11" * 20,
            data="0x",
            status=status,
        )
        PublishStep.objects.create(
            model=model, network=network, kind=PublishStepKind.OFFER, transaction=tx
        )


def build(params: dict) -> dict[str, Any]:
    """The two organizations and their histories; what was written."""
    from chain.models import Network

    network = Network.objects.create(name="bench", chain_id=31_337_000, confirmation_depth=12)
    small = Shop(network, "Small", first_token_id=100)
    large = Shop(network, "Large", first_token_id=200)
    _chain_offers(network, [small, large])
    started = time.perf_counter()
    events = {
        "small": _write(network, History(network, small, params["small"], 1, seed=1)),
        "large": _write(network, History(network, large, params["large"], 10**7, seed=2)),
    }
    for shop in (small, large):
        _publishing(network, shop)
    return {
        "shops": {"small": small, "large": large},
        "events": events,
        "build_s": round(time.perf_counter() - started, 1),
    }


def _rows(shops: dict) -> dict[str, dict[str, int]]:
    from licensing.models import CreditEntry, License, Payment, Sale

    counts = {}
    for size, shop in shops.items():
        org = shop.organization
        counts[size] = {
            "payments": Payment.objects.filter(listing__model__organization=org).count(),
            "sales": Sale.objects.filter(listing__model__organization=org).count(),
            "licenses": License.objects.filter(offer__model__organization=org).count(),
            "credit_entries": CreditEntry.objects.filter(offer__model__organization=org).count(),
        }
    return counts


def _clients(shops: dict) -> dict:
    from django.test import Client

    clients = {}
    for size, shop in shops.items():
        client = Client(HTTP_HOST="localhost")
        client.force_login(shop.manager)
        clients[size] = (client, {"organization": shop.organization.pk})
    return clients


def _queries(client, params) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # the log is a deque of 9,000: once building the data filled it, a capture counts 0
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    if response.status_code != 200:
        raise RuntimeError(f"GET {URL}: {response.status_code}")
    return len(captured)


def run(quick: bool) -> list[dict]:
    setup_django()
    migrate()
    from django.db import connection
    from django.test import override_settings

    params = QUICK if quick else FULL
    built = build(params)
    shops = built["shops"]
    clients = _clients(shops)
    queries = {size: _queries(client, query) for size, (client, query) in clients.items()}
    if queries["small"] != queries["large"]:
        raise RuntimeError(f"the page's query count depends on the data: {queries}")

    def check(name: str, response) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"GET {URL} ({name}): {response.status_code}")

    with override_settings(DEBUG=False):
        timings = measure(
            {size: (lambda c=c, q=q: c.get(URL, q)) for size, (c, q) in clients.items()},
            samples=params["samples"],
            warmup=params["warmup"],
            budget_s=params["budget_s"],
            check=check,
        )
    common = {
        "mode": "quick" if quick else "full",
        "payments": {"small": params["small"], "large": params["large"]},
        "rows": _rows(shops),
        "events": built["events"],
        "build_s": built["build_s"],
        "database": connection.vendor,
    }
    small, large = timings["small"], timings["large"]
    return [
        case(
            "dashboard.render_100k_vs_1k",
            ratio=large.median_ms / small.median_ms,
            target=RENDER_TARGET,
            detail={
                "meaning": "median GET of the dashboard, large organization / small one",
                "large": large.summary(),
                "small": small.summary(),
                **common,
            },
        ),
        case(
            "dashboard.queries",
            value=queries["large"],
            target=QUERIES_TARGET,
            detail={
                "meaning": "queries of one dashboard page (the same at both sizes)",
                "queries_1k": queries["small"],
                "queries_100k": queries["large"],
                **common,
            },
        ),
    ]
