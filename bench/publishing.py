"""Publishing a model to chain: outbox transactions sent ÷ the minimum the plan needs.

Starts its own anvil node and a throwaway SQLite database, deploys the suite node-signed (the
operator, anvil's development account #0, holds the registrar, publisher and split-manager
roles), and configures one model through the services as staff would: a published version, four
offers (a perpetual license and a credits pack in the native coin, a 30-day pass in a test
ERC-20, ownership shares), three payees and a cap table of two holders. Then
``licensing.services.publishing.model_publish`` plans and queues, the real outbox sender
(``chain.sender.outbox_process``, signing with the operator key) sends, and the sync confirms.

Cases (counts are exact, so one run is a measurement):

- ``sent_vs_minimum``: transactions the operator sent (its nonce on the node, before and
  after) ÷ the minimum for this model: 1 registry entry + 1 per published version + 1 per
  offer + 1 payee list + 1 share mint. Every step must end confirmed by the sync (else an error).
- ``republish_unchanged``: transactions sent by publishing the same model again (none needed).
- ``price_change``: transactions sent after one offer's price changed (one ``configureOffer``).

``--quick`` is the same case: it is small (about 50 s, most of it the database migrations).
"""

from __future__ import annotations

import io
import sys

from bench._common import case, deploy_bench_suite, migrate, setup_django

# Anvil's published development key #0 (public: anvil prints it): the operator.
OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
NETWORK = "bench-publishing"
DAY = 86_400
PAYEES = [(4, "Data partner", 500), (5, "Labelling", 300), (6, "Reseller", 200)]  # (account, ...)
HOLDERS = [(3, 7000), (7, 3000)]  # (dev account, shares)


def _log(message: str) -> None:
    print(f"publishing: {message}", file=sys.stderr, flush=True)


def _network(node, suite):
    from chain import abi
    from chain.models import Deployment, Network

    network = Network.objects.create(name=NETWORK, chain_id=node.chain_id, confirmation_depth=1)
    for name, address in suite.addresses.items():
        Deployment.objects.create(
            network=network,
            contract_name=name,
            address=address,
            deploy_block=0,
            code_hash="0x",
            sources_sha256=abi.load_artifact(name).sources_sha256,
        )
    return network


def _version(model):
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from models_hub import services as registry

    X, y = load_iris(return_X_y=True, as_frame=True)
    buffer = io.BytesIO()
    joblib.dump(LogisticRegression(max_iter=500).fit(X, y), buffer)
    buffer.seek(0)
    row = registry.version_upload(model=model, version="1.0.0", fileobj=buffer, filename="m.joblib")
    row = registry.version_validate(version_id=row.pk)
    registry.version_publish(version=row)
    return row


def _model(network, dev: list[str], usd_address: str):
    """One model configured through the services: version, four offers, payees, cap table."""
    from chain.choices import OfferKind
    from licensing.choices import UsageUnit
    from licensing.models import Currency
    from licensing.services import tokenomics
    from licensing.services.terms import terms_create
    from models_hub import services as registry
    from models_hub.choices import Task
    from portal.services import organization_create

    organization = organization_create(name="Bench Models", treasury_address=dev[1])
    model = registry.model_create(
        organization=organization, name="Iris", task=Task.CLASSIFICATION, listed=True
    )
    _version(model)
    eth = Currency.objects.create(network=network, symbol="ETH", decimals=18)
    usd = Currency.objects.create(network=network, symbol="TUSD", address=usd_address, decimals=6)
    terms = terms_create(organization=organization, name="Standard", commercial_use=True)
    paid = {"model": model, "network": network, "terms": terms}
    tokenomics.offer_create(
        kind=OfferKind.LICENSE, tier_name="Pro", price=10**16, currency=eth, **paid
    )
    tokenomics.offer_create(
        kind=OfferKind.ACCESS_PASS,
        tier_name="30 days",
        price=5 * 10**6,
        currency=usd,
        duration=30 * DAY,
        **paid,
    )
    tokenomics.offer_create(
        kind=OfferKind.CREDITS,
        tier_name="1,000 calls",
        price=10**15,
        currency=eth,
        credits_per_unit=1000,
        usage_unit=UsageUnit.CALL,
        **paid,
    )
    tokenomics.offer_create(model=model, network=network, kind=OfferKind.SHARES, tier_name="Own")
    for account, label, bps in PAYEES:
        tokenomics.payee_create(model=model, address=dev[account], label=label, bps=bps)
    for account, amount in HOLDERS:
        tokenomics.share_allocation_create(model=model, holder=dev[account], amount=amount)
    return model


def _publish(model, network, w3, operator: str) -> tuple[int, list]:
    """Publish, send and sync; returns the transactions sent and the new steps."""
    from chain.choices import TX_OPEN
    from chain.models import OutboundTransaction
    from chain.sender import outbox_process
    from chain.sync import sync_network
    from licensing.choices import PublishStepStatus
    from licensing.models import PublishStep
    from licensing.services.publishing import model_publish, step_views

    before = w3.eth.get_transaction_count(operator)
    steps = model_publish(model=model, network=network)
    for _ in range(50):
        if not OutboundTransaction.objects.filter(network=network, status__in=TX_OPEN).exists():
            break
        outbox_process(network=network)
    sync_network(network=network)
    views = step_views(PublishStep.objects.filter(pk__in=[s.pk for s in steps]))
    unconfirmed = [v for v in views if v.status != PublishStepStatus.CONFIRMED]
    if unconfirmed:
        reasons = [f"{v.step}: {v.status} {v.reason}" for v in unconfirmed]
        raise RuntimeError(f"steps not confirmed: {reasons}")
    return w3.eth.get_transaction_count(operator) - before, steps


def _minimum(model) -> dict[str, int]:
    from licensing.models import Offer, Payee, ShareAllocation

    return {
        "register": 1,
        "versions": model.versions.filter(published_at__isnull=False).count(),
        "offers": Offer.objects.filter(model=model).count(),
        "payees": 1 if Payee.objects.filter(model=model).exists() else 0,
        "mint": 1 if ShareAllocation.objects.filter(model=model).exists() else 0,
    }


def _measure(node) -> dict:
    from django.conf import settings
    from eth_account import Account
    from web3 import Web3
    from web3.providers import HTTPProvider

    from chain.choices import OfferKind
    from chain.testing import contracts
    from licensing.models import Offer
    from licensing.services import tokenomics

    settings.CHAIN_RPC_URLS = {**settings.CHAIN_RPC_URLS, NETWORK: node.url}
    settings.CHAIN_OPERATOR_KEY = OPERATOR_KEY
    settings.CHAIN_TX_RECEIPT_WAIT = 5
    operator = Account.from_key(OPERATOR_KEY).address
    w3 = Web3(HTTPProvider(node.url, request_kwargs={"timeout": 30}))
    dev = w3.eth.accounts
    suite = deploy_bench_suite(w3, admin=operator, platform=dev[8], publisher=operator)
    usd = contracts.deploy_contract(w3, contracts.TEST_TOKEN, "Test USD", "TUSD", 6, sender=dev[9])
    network = _network(node, suite)
    model = _model(network, dev, usd.address)
    minimum = _minimum(model)
    _log(f"publishing a model needing {sum(minimum.values())} transactions at least")
    first, steps = _publish(model, network, w3, operator)
    again, _ = _publish(model, network, w3, operator)
    license_offer = Offer.objects.get(model=model, kind=OfferKind.LICENSE)
    license_offer.price = 2 * int(license_offer.price)
    tokenomics.offer_save(offer=license_offer)
    changed, changed_steps = _publish(model, network, w3, operator)
    return {
        "first": first,
        "minimum": minimum,
        "steps": [f"{s.transaction.contract_name}.{s.transaction.function}" for s in steps],
        "again": again,
        "changed": changed,
        "changed_steps": [s.transaction.function for s in changed_steps],
    }


def run(quick: bool) -> list[dict]:
    setup_django()
    migrate()
    from chain.testing.devnode import AnvilNode

    node = AnvilNode()
    try:
        measured = _measure(node)
    finally:
        node.stop()
    minimum = sum(measured["minimum"].values())
    common = {
        "mode": "quick" if quick else "full",
        "model": {
            "versions": measured["minimum"]["versions"],
            "offers": "license (ETH), 30-day pass (ERC-20), credits pack (ETH), shares",
            "payees": len(PAYEES),
            "share_holders": len(HOLDERS),
        },
        "chain": "anvil (chain.testing.devnode.AnvilNode), automine",
    }
    return [
        case(
            "publishing.sent_vs_minimum",
            ratio=measured["first"] / minimum,
            target="==1",
            detail={
                **common,
                "sent": measured["first"],
                "minimum": minimum,
                "minimum_by_step": measured["minimum"],
                "steps": measured["steps"],
            },
        ),
        case(
            "publishing.republish_unchanged",
            value=measured["again"],
            target="==0",
            detail={**common, "meaning": "transactions sent by publishing the same model again"},
        ),
        case(
            "publishing.price_change",
            value=measured["changed"],
            target="==1",
            detail={
                **common,
                "meaning": "transactions sent after one offer's price changed",
                "steps": measured["changed_steps"],
            },
        ),
    ]
