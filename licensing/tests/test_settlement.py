"""Usage receipts settled on anvil: receipts of two holders over two credits offers and a pass,
a period closed by ``settle_usage``, the outbox sends the burns, the sync projects them with the
root; every proof verifies on chain (ReceiptVerifier) and through ``verify_receipt``; a tampered
receipt does not; a second close closes nothing; the endpoint answers only its caller."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from eth_account import Account

from chain.choices import OfferKind
from chain.models import OutboundTransaction
from chain.sender import outbox_process
from chain.testing import contracts
from chain.testing.market import CREDITS, MODEL, PASS_TOKEN
from licensing.choices import SettlementStatus
from licensing.models import CreditEntry, SettlementPeriod, UsageReceipt
from licensing.selectors import receipt_document
from licensing.services.receipts import input_hash_of, receipt_record
from licensing.services.settlement import period_close, period_status_refresh
from portal.services import customer_api_key_create

# Anvil's published development key #3: the market's meter (METER_ROLE; a public test key).
METER_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
MORE_CREDITS = 6  # a second credits offer, configured by the test
CREDIT_PRICE = 10**12
URL = "/api/licensing/receipts/{}"


def _buy(env, buyer, offer, amount, price):
    value = 0 if offer == PASS_TOKEN else price * amount
    env.send(env.token.functions.purchase(offer, amount, price), buyer, value=value)


@pytest.fixture
def usage(shop, settings):
    """Alice holds both credits offers, Bob one and a pass; receipts of their uses."""
    env, a = shop.env, shop.env.acct
    more = env.offer(MODEL, OfferKind.CREDITS, CREDIT_PRICE)
    env.send(env.token.functions.configureOffer(MORE_CREDITS, more), a.publisher)
    _buy(env, a.alice, CREDITS, 100, CREDIT_PRICE)
    _buy(env, a.alice, MORE_CREDITS, 50, CREDIT_PRICE)
    _buy(env, a.bob, CREDITS, 80, CREDIT_PRICE)
    _buy(env, a.bob, PASS_TOKEN, 1, 5 * 10**6)
    shop.sync()
    users = get_user_model().objects
    alice = users.create_user(username="alice", email="alice@example.com")
    bob = users.create_user(username="bob", email="bob@example.com")
    bob_key = customer_api_key_create(owner=bob, name="bob's app")
    uses = [
        (a.alice, CREDITS, 3, alice, None),
        (a.alice, CREDITS, 4, alice, None),
        (a.alice, MORE_CREDITS, 5, alice, None),
        (a.bob, CREDITS, 7, bob, bob_key.api_key),
        (a.bob, PASS_TOKEN, 2, bob, bob_key.api_key),  # a pass use: receipted, burns nothing
    ]
    receipts = [
        receipt_record(
            holder=holder,
            network_id=shop.network.pk,
            token_id=token_id,
            units=units,
            input_hash=input_hash_of({"rows": [[i, 1.5]]}),
            user=user,
            api_key=key,
        )
        for i, (holder, token_id, units, user, key) in enumerate(uses)
    ]
    assert Account.from_key(METER_KEY).address == a.meter
    settings.CHAIN_OPERATOR_KEY = METER_KEY
    return shop, receipts, {"alice": alice, "bob": bob, "bob_key": bob_key.raw_key}


def _burned(shop) -> set[tuple]:
    burns = CreditEntry.objects.filter(network=shop.network, delta__lt=0)
    return {(e.holder, int(e.token_id), int(-e.delta), e.receipt_root) for e in burns}


def _settle(shop) -> SettlementPeriod:
    out = StringIO()
    call_command("settle_usage", "--network", "anvil", stdout=out)
    assert "closed period" in out.getvalue(), out.getvalue()
    period = SettlementPeriod.objects.get()
    outbox_process(network=shop.network)
    shop.sync()
    return period


def test_a_period_burns_each_holders_credits_with_its_root(usage):
    shop, _, _ = usage
    a = shop.env.acct
    # when
    period = _settle(shop)
    # then: one burn per holder and credits offer, none for the pass, each with the root
    assert period.receipts_count == 5
    assert {(s.holder, int(s.token_id), int(s.units)) for s in period.settlements.all()} == {
        (a.alice, CREDITS, 7),
        (a.alice, MORE_CREDITS, 5),
        (a.bob, CREDITS, 7),
    }
    assert _burned(shop) == {
        (a.alice, CREDITS, 7, period.root),
        (a.alice, MORE_CREDITS, 5, period.root),
        (a.bob, CREDITS, 7, period.root),
    }
    token = shop.env.token.functions
    assert token.balanceOf(a.alice, CREDITS).call() == 93
    assert token.balanceOf(a.alice, MORE_CREDITS).call() == 45
    assert token.balanceOf(a.bob, CREDITS).call() == 73
    assert token.balanceOf(a.bob, PASS_TOKEN).call() == 1
    assert period_status_refresh(period=period) == SettlementStatus.SETTLED
    assert {r.period_id for r in UsageReceipt.objects.all()} == {period.pk}
    # and closing again closes nothing and queues nothing
    sent = OutboundTransaction.objects.count()
    out = StringIO()
    call_command("settle_usage", "--network", "anvil", stdout=out)
    assert "no unsettled receipts" in out.getvalue()
    assert period_close(network=shop.network) is None
    assert OutboundTransaction.objects.count() == sent
    assert SettlementPeriod.objects.count() == 1


def test_every_proof_verifies_on_chain_and_through_the_command(usage, tmp_path):
    shop, receipts, _ = usage
    env = shop.env
    period = _settle(shop)
    verifier = contracts.deploy_contract(env.w3, "ReceiptVerifier", sender=env.acct.admin)
    root = bytes.fromhex(period.root[2:])
    for receipt in UsageReceipt.objects.all():
        doc = receipt_document(receipt)
        leaf = doc["leaf"]
        args = [
            bytes.fromhex(leaf["receiptId"][2:]),
            leaf["holder"],
            int(leaf["tokenId"]),
            int(leaf["units"]),
            int(leaf["timestamp"]),
            bytes.fromhex(leaf["inputHash"][2:]),
        ]
        proof = [bytes.fromhex(node[2:]) for node in doc["proof"]]
        # on chain, with OpenZeppelin's MerkleProof
        assert verifier.functions.verify(proof, root, *args).call()
        tampered = [*args[:3], args[3] + 1, *args[4:]]
        assert not verifier.functions.verify(proof, root, *tampered).call()
        # through the command, by id and from the endpoint's JSON
        out = StringIO()
        call_command("verify_receipt", receipt.receipt_id, stdout=out, stderr=StringIO())
        assert "VERIFIED" in out.getvalue()
        path = tmp_path / f"{receipt.pk}.json"
        path.write_text(json.dumps(doc))
        call_command("verify_receipt", str(path), stdout=StringIO(), stderr=StringIO())
        doc["leaf"]["units"] = str(int(leaf["units"]) + 1)
        path.write_text(json.dumps(doc))
        with pytest.raises(CommandError):
            call_command("verify_receipt", str(path), stdout=StringIO(), stderr=StringIO())
    # a receipt whose row was changed (units) no longer verifies by id
    receipt = receipts[0]
    UsageReceipt.objects.filter(pk=receipt.pk).update(units=receipt.units + 10)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_receipt", receipt.receipt_id, stdout=StringIO(), stderr=err)
    assert "does not lead to root" in err.getvalue()


def test_the_endpoint_answers_the_callers_own_receipts(usage, client):
    shop, receipts, people = usage
    period = _settle(shop)
    alices, bobs_pass = receipts[0], receipts[4]
    # signed in: one's own receipt, with its proof and burn
    client.force_login(people["alice"])
    answer = client.get(URL.format(alices.receipt_id))
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["root"] == period.root
    assert body["leaf"]["units"] == "3"
    assert body["proof"]
    assert body["root_seen_by_sync"]
    assert [s["units"] for s in body["settlements"]] == ["7"]
    assert body["settlements"][0]["seen_by_sync"]
    # another's receipt is a 404, signed in or with a key
    answer = client.get(URL.format(bobs_pass.receipt_id))
    assert answer.status_code == 404
    assert answer.json()["code"] == "receipt_not_found"
    client.logout()
    key = {"HTTP_AUTHORIZATION": f"Bearer {people['bob_key']}"}
    assert client.get(URL.format(alices.receipt_id), **key).status_code == 404
    # a key of the receipt's owner: the pass use, proved, with no burn of its own
    answer = client.get(URL.format(bobs_pass.receipt_id), **key)
    assert answer.status_code == 200, answer.content
    assert answer.json()["settlements"] == []
    assert answer.json()["root_seen_by_sync"]
    # anonymous, and a malformed id
    assert client.get(URL.format(alices.receipt_id)).status_code == 401
    assert client.get(URL.format("0x12"), **key).status_code == 422


def test_a_period_of_pass_uses_only_burns_nothing(usage):
    shop, receipts, _ = usage
    UsageReceipt.objects.exclude(pk=receipts[4].pk).delete()
    period = period_close(network=shop.network)
    assert period.status == SettlementStatus.RECORDED
    assert not period.settlements.exists()
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_receipt", receipts[4].receipt_id, stdout=StringIO(), stderr=err)
    assert "burns nothing" in err.getvalue()


def test_bad_receipts_are_refused(usage):
    from django.core.exceptions import ValidationError

    shop, _, _ = usage
    good = {
        "holder": shop.env.acct.alice,
        "network_id": shop.network.pk,
        "token_id": CREDITS,
        "units": 1,
        "input_hash": "0x" + "00" * 32,
    }
    for change in (
        {"holder": "0x1234"},
        {"units": 0},
        {"input_hash": "abc"},
        {"token_id": 999},
        {"token_id": 5},  # the shares offer: never used
    ):
        with pytest.raises(ValidationError):
            receipt_record(**{**good, **change})
