"""What the entitlement check costs a predict call: the gated endpoint against the same endpoint
with the check switched off, interleaved in one process.

A customer whose wallet holds a license of the demo breast-cancer model (the chain's state as
the sync would have projected it: an offer, its on-chain twin, the license) calls
``POST /api/models/{org}/{slug}/versions/{version}/predict`` with their own API key and a
10-row body. Gated: ``licensing.entitlement.check`` runs (its cache warm, as in a steady
stream of calls; ``ENTITLEMENT_CACHE_SECONDS`` at its default). Switched off: ``check`` is
replaced by a function that hands back the same decision, so everything else (authentication,
the row checks, the receipt the call writes, the estimator) is the same. The figure is the
ratio of the medians: target <= 1.10.
"""

from __future__ import annotations

import io
import json

from bench._common import case, measure, migrate

TARGET = "<=1.10"
ROWS = 10
QUICK = {"warmup": 10, "samples": 150, "budget_s": 20.0}
FULL = {"warmup": 30, "samples": 1500, "budget_s": 120.0}
SLUG = "breast-cancer"
WALLET = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil's public dev account #3


def _world() -> tuple[str, bytes, dict]:
    import time

    from allauth.socialaccount.models import SocialAccount
    from django.contrib.auth import get_user_model

    from chain.choices import OfferKind
    from chain.models import Network
    from licensing.models import ChainOffer, Currency, License
    from licensing.services.terms import terms_create
    from licensing.services.tokenomics import offer_create
    from models_hub import services
    from models_hub.demo_models import DEMO_MODELS, serialize, train
    from portal.services import customer_api_key_create, organization_create

    organization = organization_create(name="Gate Models", slug="gate")
    demo = {d.slug: d for d in DEMO_MODELS}[SLUG]
    estimator, X = train(SLUG)
    model = services.model_create(
        organization=organization, name=demo.name, task=demo.task, listed=True
    )
    row = services.version_upload(
        model=model,
        version="1.0.0",
        fileobj=io.BytesIO(serialize(estimator, "joblib")),
        filename="m.joblib",
    )
    services.version_publish(version=services.version_validate(version_id=row.pk))

    network = Network.objects.create(name="gate-bench", chain_id=990_777, confirmation_depth=1)
    eth = Currency.objects.create(network=network, symbol="ETH", decimals=18)
    terms = terms_create(organization=organization, name="Standard", commercial_use=True)
    offer = offer_create(
        model=model,
        network=network,
        kind=OfferKind.LICENSE,
        tier_name="Monthly",
        price=10**16,
        currency=eth,
        duration=30 * 86_400,
        terms=terms,
    )
    type(offer).objects.filter(pk=offer.pk).update(token_id=1)
    token = "0x" + "17" * 20
    chain_state = {"network": network, "token_address": token, "token_id": 1}
    ChainOffer.objects.create(
        **chain_state,
        model_id="0x" + "00" * 32,
        kind=OfferKind.LICENSE,
        price=10**16,
        currency="0x" + "00" * 20,
        duration=30 * 86_400,
        max_supply=0,
        transferable=False,
        terms_hash=terms.content_hash,
        active=True,
        block_number=1,
    )
    License.objects.create(
        **chain_state,
        holder=WALLET,
        expires_at=int(time.time()) + 30 * 86_400,
        terms_hash=terms.content_hash,
        block_number=1,
    )
    customer = get_user_model().objects.create_user(username="gate-customer")
    SocialAccount.objects.create(user=customer, provider="siwe", uid=WALLET)
    key = customer_api_key_create(owner=customer, name="bench").raw_key
    body = json.dumps({"rows": X.sample(ROWS, random_state=0).to_numpy().tolist()}).encode()
    path = f"/api/models/gate/{model.slug}/versions/1.0.0/predict"
    return path, body, {"Authorization": f"Bearer {key}"}


def run(quick: bool) -> list[dict]:
    import warnings

    migrate()
    from django.conf import settings
    from django.test import Client

    from licensing import entitlement
    from licensing.models import UsageReceipt

    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    params = QUICK if quick else FULL
    path, body, headers = _world()
    client = Client(HTTP_HOST="localhost")
    settings.DEBUG = False  # no query log
    real_check = entitlement.check

    def call():
        return client.post(path, body, content_type="application/json", headers=headers)

    first = call()
    if first.status_code != 200:
        raise RuntimeError(f"the gated call was refused: {first.status_code} {first.content!r}")
    decision = None

    def remembered(*, caller, version, now=None):
        nonlocal decision
        decision = decision or real_check(caller=caller, version=version, now=now)
        return decision

    def gated():
        entitlement.check = real_check
        return call()

    def ungated():
        entitlement.check = remembered  # the check switched off: the same decision, no work
        return call()

    def check(name, response):
        if response.status_code != 200:
            raise RuntimeError(f"{name}: {response.status_code} {response.content!r}")

    try:
        timings = measure(
            {"gated": gated, "ungated": ungated},
            samples=params["samples"],
            warmup=params["warmup"],
            budget_s=params["budget_s"],
            check=check,
        )
    finally:
        entitlement.check = real_check
    gated_t, ungated_t = timings["gated"], timings["ungated"]
    return [
        case(
            "gate.gated_vs_ungated_p50",
            ratio=gated_t.median_ms / ungated_t.median_ms,
            target=TARGET,
            detail={
                "meaning": "median gated predict / median with entitlement.check switched off",
                "mode": "quick" if quick else "full",
                "rows": ROWS,
                "right": decision.right.kind if decision else None,
                "gated": gated_t.summary(),
                "ungated": ungated_t.summary(),
                "receipts_written": UsageReceipt.objects.count(),
                "cache_seconds": settings.ENTITLEMENT_CACHE_SECONDS,
            },
        )
    ]
