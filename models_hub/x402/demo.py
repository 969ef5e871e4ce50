"""The demo's pay-per-call offers (``manage.py demo``, after the chain part, on the local anvil):
two demo models sold to agents in TUSDC, the test EIP-3009 token, so ``manage.py agent_demo``
has something to pay for. Only what is missing is created; a publisher's later change stays."""

from __future__ import annotations

from chain.models import Network
from licensing.models import Currency
from models_hub.models import AIModel, PayPerCallOffer
from models_hub.x402.services import pay_per_call_offer_save

# (organization slug, model slug, price in TUSDC's atomic units, per row)
DEMO_OFFERS = [
    ("globex", "iris", 2_000, False),  # 0.002 TUSDC a call
    ("acme", "wine", 500, True),  # 0.0005 TUSDC a row
]


def load_demo_pay_per_call(*, network: Network, models: list[AIModel]) -> list[PayPerCallOffer]:
    """Create the demo's missing pay-per-call offers on ``network``; returns those created."""
    tusdc = Currency.objects.filter(network=network, symbol="TUSDC", eip3009=True).first()
    if tusdc is None:
        return []
    by_slug = {(model.organization.slug, model.slug): model for model in models}
    created = []
    for organization, slug, price, per_row in DEMO_OFFERS:
        model = by_slug.get((organization, slug))
        if model is None or PayPerCallOffer.objects.filter(model=model, network=network).exists():
            continue
        data = {"model": model, "network": network, "currency": tusdc, "price": price}
        offer = pay_per_call_offer_save(offer=PayPerCallOffer(), data={**data, "per_row": per_row})
        created.append(offer)
    return created
