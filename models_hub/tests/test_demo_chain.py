"""`manage.py demo` on a local anvil (chain id 31337, the Makefile's development key): the demo
models' offers are published and confirmed by the sync, a few purchases land in the
projections, and running it again (the chain part alone, as `make run`'s web process does)
sends and buys nothing."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from eth_account import Account

from chain import abi
from chain.choices import OfferKind
from chain.client import web3_for
from chain.models import Deployment, IndexedEvent, Network, OutboundTransaction
from chain.testing.devnode import ANVIL, AnvilNode
from chain.testing.required import require_service
from licensing.choices import PublishStepStatus
from licensing.demo import ANVIL_CHAIN_ID, DEV_ACCOUNTS, DEV_KEYS, PURCHASES, TUSDC_MINT
from licensing.models import (
    ChainOffer,
    CreditEntry,
    Currency,
    GovernanceSettings,
    License,
    Offer,
    Payment,
    PriceBound,
    Proposal,
    PublishStep,
)
from licensing.services.publishing import step_views
from licensing.tests.publishing_setup import drain
from models_hub.management.commands.agent_demo import ANVIL_KEYS
from models_hub.models import PaymentAuthorization, PayPerCallOffer


@pytest.fixture
def local_anvil(settings):
    require_service(ANVIL.exists(), "anvil is not installed (npm ci)")
    with AnvilNode(chain_id=ANVIL_CHAIN_ID) as node:
        settings.CHAIN_RPC_URLS = {settings.CHAIN_NETWORK: node.url}
        settings.CHAIN_OPERATOR_KEY = DEV_KEYS[0]
        settings.CHAIN_TX_RECEIPT_WAIT = 5
        yield node


def _demo(*args) -> str:
    out = StringIO()
    call_command("demo", "--force", *args, stdout=out)
    return out.getvalue()


def test_the_demo_publishes_the_offers_and_buys_once(db, local_anvil):
    # when: the demo runs on a fresh local anvil
    first = _demo()

    # then: four listed models with four offers each are on chain, every step confirmed
    assert "Chain: queued and confirmed" in first
    steps = PublishStep.objects.all()
    assert {view.status for view in step_views(steps)} == {PublishStepStatus.CONFIRMED}
    assert steps.values("model").distinct().count() == 4  # the unlisted model is not sold
    assert ChainOffer.objects.filter(active=True).count() == 16
    assert ChainOffer.objects.filter(kind=OfferKind.SHARES).count() == 4
    # ... and the purchases are projected: a payment each, licenses and credits
    purchases = IndexedEvent.objects.filter(name="Purchased").count()
    assert purchases == len(PURCHASES)
    assert Payment.objects.count() == len(PURCHASES)
    assert License.objects.count() == sum(1 for p in PURCHASES if not p[3].endswith("rows"))
    assert CreditEntry.objects.filter(delta__gt=0).count() == 2
    # ... and the agents' token: a currency they can pay per call with, minted to #1 to #9
    tusdc = Currency.objects.get(symbol="TUSDC")
    deployed = Deployment.objects.get(contract_name=abi.TEST_USD3009)
    assert (tusdc.address, tusdc.decimals, tusdc.eip3009) == (deployed.address, 6, True)
    assert (tusdc.eip712_name, tusdc.eip712_version) == ("Test USD Coin", "2")
    w3 = web3_for(local_anvil.url)
    assert list(DEV_ACCOUNTS.values()) == w3.eth.accounts[1:10]  # anvil's published accounts
    token = abi.contract_at(w3, abi.TEST_USD3009, tusdc.address)
    assert {token.functions.balanceOf(a).call() for a in DEV_ACCOUNTS.values()} == {TUSDC_MINT}

    # ... and two models sold to agents per call in it
    sold = PayPerCallOffer.objects.values_list("model__slug", "per_row", "price", "currency")
    assert {(slug, per_row, int(price), c) for slug, per_row, price, c in sold} == {
        ("iris", False, 2_000, tusdc.pk),
        ("wine", True, 500, tusdc.pk),
    }
    assert "Iris species: sold to agents at 0.002 TUSDC a call" in first
    # ... and governance: every listed model's holders govern it, one proposal is open
    assert GovernanceSettings.objects.count() == 4
    assert PriceBound.objects.count() == Offer.objects.filter(kind=OfferKind.LICENSE).count()
    proposal = Proposal.objects.get()
    assert (proposal.model.slug, proposal.status) == ("wine", "open")
    assert int(proposal.total_weight) == 10_000  # the treasury's 7,000 and the investor's 3,000
    governor = abi.contract_at(
        web3_for(local_anvil.url), "ModelGovernor",
        Deployment.objects.get(contract_name="ModelGovernor").address,
    )  # fmt: skip
    license_offer = Offer.objects.get(model=proposal.model, kind=OfferKind.LICENSE)
    bound = governor.functions.priceBounds(int(license_offer.token_id)).call()
    assert bound == [int(license_offer.price) // 2, int(license_offer.price) * 2, True]

    # when: the chain part runs again (as `make run` does at every start)
    sent = OutboundTransaction.objects.count()
    again = _demo("--chain-only")

    # then: nothing is sent, nothing is bought
    assert "already" in again
    assert OutboundTransaction.objects.count() == sent
    assert IndexedEvent.objects.filter(name="Purchased").count() == purchases
    assert PayPerCallOffer.objects.count() == 2
    assert Proposal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_agent_demo_pays_per_call_within_its_budget(local_anvil, live_server, settings):
    """`manage.py agent_demo` against the demo: three calls to the iris model at 0.002 TUSDC
    with a budget of 0.005, so two are paid and the third is refused by the agent itself."""
    _demo()
    settings.X402_AWAIT_SETTLEMENT = False  # no worker here: the test sends the outbox below
    out = StringIO()

    call_command("agent_demo", url=live_server.url, calls=3, budget=5_000, account=8, stdout=out)

    text = out.getvalue()
    assert text.count("paid 0.002 TUSDC") == 2, text
    assert "#3: not paid, the spend controls refused it" in text
    assert "Paid 0.004 TUSDC for 2 call(s)" in text
    payer = Account.from_key(ANVIL_KEYS[8]).address
    assert payer == DEV_ACCOUNTS[8]
    assert set(PaymentAuthorization.objects.values_list("payer", flat=True)) == {payer}
    drain(Network.objects.get(name=settings.CHAIN_NETWORK))
    token = abi.contract_at(
        web3_for(local_anvil.url), abi.TEST_USD3009, Currency.objects.get(symbol="TUSDC").address
    )
    assert token.functions.balanceOf(payer).call() == TUSDC_MINT - 4_000
