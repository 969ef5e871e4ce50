"""Agents pay per call over HTTP 402 (x402 v2), end to end on anvil with the ``x402`` package's
own client: a call without credentials is told the price; a call with the signed EIP-3009
authorization is answered and settled through the outbox (balances moved, split by the vault);
each refusal has its stable code; a used authorization is never settled twice."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.test import Client
from eth_account import Account
from web3 import Web3

from chain.models import OutboundTransaction
from licensing.models import AgentPayment, UsageReceipt
from licensing.tests.publishing_setup import drain
from licensing.tests.x402_kit import (
    PRICE,
    body,
    pay,
    post,
    requirements_of,
    signed,
    tamper,
    tamper_accepted,
)
from models_hub.choices import PaymentStatus
from models_hub.models import PaymentAuthorization, PayPerCallOffer


def test_a_call_without_credentials_is_told_the_price(client, agents):
    shop, _, url = agents

    response = post(client, url)

    assert response.status_code == 402, response.content
    assert response.json()["code"] == "payment_required"
    required = requirements_of(response)
    assert required.x402_version == 2
    accept = required.accepts[0]
    assert (accept.scheme, accept.network) == ("exact", f"eip155:{shop.network.chain_id}")
    assert accept.asset == Web3.to_checksum_address(shop.env.usdc.address)
    assert accept.pay_to == shop.env.pay_per_call.address
    assert int(accept.amount) == PRICE
    assert accept.extra == {"name": "Test USD Coin", "version": "2"}


def test_an_agent_pays_gets_the_answer_and_is_settled_once(client, agents, agent):
    shop, _, url = agents
    env = shop.env
    header = pay(agent, requirements_of(post(client, url)))

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 200, response.content
    assert len(response.json()["predictions"]) == 2
    assert "PAYMENT-RESPONSE" in response
    payment = PaymentAuthorization.objects.get()
    assert (payment.payer, payment.status) == (agent.address, PaymentStatus.SETTLING)
    drain(shop.network)
    assert OutboundTransaction.objects.get(pk=payment.transaction_id).status == "confirmed"
    assert env.usdc.functions.balanceOf(agent.address).call() == 10**6 - PRICE
    out = io.StringIO()
    call_command("payments_finish", stdout=out)
    assert out.getvalue().strip() == "1 payment(s) finished"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SETTLED
    receipt = UsageReceipt.objects.get(receipt_id=payment.receipt_id)
    assert (receipt.holder, receipt.units, receipt.offer_kind) == (agent.address, 1, 16)
    # the chain says the same: AgentPaid names the receipt, and the vault split the payment
    paid = AgentPayment.objects.get()
    assert (paid.payer, int(paid.amount), paid.receipt_id) == (
        agent.address,
        PRICE,
        payment.receipt_id,
    )
    # the same header for the same rows again: a retry, answered, never settled twice
    again = post(client, url, **{"PAYMENT-SIGNATURE": header})
    assert again.status_code == 200, again.content
    assert PaymentAuthorization.objects.count() == 1
    assert OutboundTransaction.objects.filter(function="settle").count() == 1
    # the same header for other rows: the nonce is used
    other = post(client, url, body(3), **{"PAYMENT-SIGNATURE": header})
    assert other.status_code == 402
    assert other.json()["code"] == "payment_nonce_used"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"value": str(PRICE - 1)}, "payment_amount_mismatch"),
        ({"to": "0x000000000000000000000000000000000000dEaD"}, "payment_wrong_recipient"),
        ({"validBefore": "1"}, "payment_expired"),
        ({"validAfter": "99999999999"}, "payment_not_yet_valid"),
        ({"from": "0x000000000000000000000000000000000000bEEF"}, "payment_invalid_signature"),
    ],
)
def test_each_bad_authorization_has_its_code_and_nothing_is_recorded(
    client, agents, agent, change, code
):
    _, _, url = agents
    header = tamper(pay(agent, requirements_of(post(client, url))), **change)

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 402, response.content
    assert response.json()["code"] == code
    assert requirements_of(response).error == code
    assert not PaymentAuthorization.objects.exists()


def test_too_small_a_balance_is_refused(client, agents):
    _, _, url = agents
    poor = Account.create()  # no TUSDC at all

    header = pay(poor, requirements_of(post(client, url)))

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 402
    assert response.json()["code"] == "payment_insufficient_balance"


def test_a_malformed_header_is_a_400(client, agents):
    _, _, url = agents

    response = post(client, url, **{"PAYMENT-SIGNATURE": "not base64 json"})

    assert response.status_code == 400
    assert response.json()["code"] == "payment_malformed"


@pytest.mark.parametrize(
    "change",
    [
        {"validBefore": str(2**256)},  # past uint256: it could never be settled
        {"value": "-1"},
        {"nonce": "0x1234"},  # not 32 bytes
        {"from": 7},
    ],
)
def test_an_authorization_out_of_its_types_is_a_400_and_records_nothing(
    client, agents, agent, change
):
    _, _, url = agents
    header = tamper(pay(agent, requirements_of(post(client, url))), **change)

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "payment_malformed"
    assert not PaymentAuthorization.objects.exists()


def test_a_model_not_sold_per_call_still_needs_a_key(client, agents):
    _, offer, url = agents
    PayPerCallOffer.objects.filter(pk=offer.pk).update(active=False)

    response = post(client, url)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_calls_with_one_authorization_settle_once(agents, agent):
    shop, _, url = agents
    header = pay(agent, requirements_of(post(Client(), url)))

    def call(_):
        return post(Client(), url, **{"PAYMENT-SIGNATURE": header}).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(call, range(10)))

    assert statuses.count(200) >= 1, statuses
    assert set(statuses) <= {200, 402}, statuses
    assert PaymentAuthorization.objects.count() == 1
    assert OutboundTransaction.objects.filter(function="settle").count() == 1
    drain(shop.network)
    assert shop.env.usdc.functions.balanceOf(agent.address).call() == 10**6 - PRICE


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"network": "eip155:1"}, "payment_wrong_network"),
        ({"asset": "0x000000000000000000000000000000000000dEaD"}, "payment_wrong_asset"),
    ],
)
def test_a_payment_for_another_network_or_token_is_refused(client, agents, agent, change, code):
    _, _, url = agents
    header = tamper_accepted(pay(agent, requirements_of(post(client, url))), **change)

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 402, response.content
    assert response.json()["code"] == code
    assert not PaymentAuthorization.objects.exists()


def test_a_contract_wallet_pays_with_its_owners_signature(client, agents):
    """EIP-1271: the agent's wallet is a contract; its owner's key signs for it."""
    from x402.mechanisms.evm.signers import EthAccountSigner

    from chain.testing import contracts

    shop, _, url = agents
    env = shop.env
    owner = Account.create()
    wallet = contracts.deploy_contract(env.w3, "TestWallet", owner.address, sender=env.acct.alice)
    env.send(env.usdc.functions.mint(wallet.address, 10**6), env.acct.alice)

    class WalletSigner(EthAccountSigner):
        """Signs as the owner, pays from the wallet (what a smart-wallet agent does)."""

        @property
        def address(self) -> str:
            return wallet.address

    header = pay(WalletSigner(owner), requirements_of(post(client, url)))

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 200, response.content
    assert PaymentAuthorization.objects.get().payer == wallet.address
    drain(shop.network)
    assert env.usdc.functions.balanceOf(wallet.address).call() == 10**6 - PRICE


def test_without_an_operator_key_a_paid_call_is_refused_before_anything(
    client, agents, agent, settings
):
    _, _, url = agents
    header = pay(agent, requirements_of(post(client, url)))
    settings.CHAIN_OPERATOR_KEY = None

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 402
    assert response.json()["code"] == "payment_settlement_failed"
    assert not PaymentAuthorization.objects.exists()


@pytest.mark.parametrize(
    ("accept", "page"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # chromium
        ("*/*", False),  # curl, requests, the x402 clients
        ("application/json", False),
        ("application/json, text/html", False),
    ],
)
def test_only_a_browser_gets_the_page(client, agents, accept, page):
    _, _, url = agents

    response = post(client, url, Accept=accept)

    assert response.status_code == 402
    assert response["Content-Type"].startswith("text/html" if page else "application/json")
    assert requirements_of(response).accepts[0].amount == str(PRICE)


def test_an_authorization_already_spent_on_the_token_is_a_used_nonce(client, agents, agent):
    """Somebody (the agent itself, say) sent the authorization to the token directly: the chain
    shows its nonce used, and the portal neither predicts nor records anything."""
    shop, _, url = agents
    env = shop.env
    header = pay(agent, requirements_of(post(client, url)))
    payload = signed(header)
    auth = payload["authorization"]
    spend = env.usdc.get_function_by_signature(
        "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
    )
    env.send(
        spend(
            auth["from"], auth["to"], int(auth["value"]), int(auth["validAfter"]),
            int(auth["validBefore"]), auth["nonce"], payload["signature"],
        ),
        env.acct.outsider,
    )  # fmt: skip

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 402, response.content
    assert response.json()["code"] == "payment_nonce_used"
    assert not PaymentAuthorization.objects.exists()


def test_an_operator_without_the_settler_role_refuses_before_predicting(client, agents, agent):
    shop, _, url = agents
    env = shop.env
    role = env.pay_per_call.functions.SETTLER_ROLE().call()
    env.send(env.pay_per_call.functions.revokeRole(role, env.acct.publisher), env.acct.admin)
    header = pay(agent, requirements_of(post(client, url)))

    response = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert response.status_code == 402, response.content
    body = response.json()
    assert body["code"] == "payment_settlement_failed"
    assert "settler role" in body["message"]
    assert not PaymentAuthorization.objects.exists()
    assert not OutboundTransaction.objects.filter(function="settle").exists()


def test_a_retry_after_the_authorization_expired_still_gets_its_answer(
    client, agents, agent, settings
):
    """The agent timed out waiting and sends the same header again once it is past its window:
    it paid once, so it gets the first answer, not 'expired'."""
    import time as clock

    shop, _, url = agents
    header = pay(agent, requirements_of(post(client, url)))
    first = post(client, url, **{"PAYMENT-SIGNATURE": header})
    assert first.status_code == 200, first.content
    drain(shop.network)
    call_command("payments_finish", stdout=io.StringIO())
    valid_before = int(signed(header)["authorization"]["validBefore"])
    later = valid_before + 1 - int(clock.time())

    from unittest import mock

    with mock.patch("models_hub.x402.protocol.time.time", return_value=clock.time() + later):
        again = post(client, url, **{"PAYMENT-SIGNATURE": header})

    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert OutboundTransaction.objects.filter(function="settle").count() == 1
