"""x402 through the live test server: an agent with the ``x402`` package's own ``requests``
client (``models_hub.x402.agent``, what ``manage.py agent_demo`` runs; spend controls on) pays
per call while a real Celery worker sends the outbox, and the portal waits for the settlement
before it answers (``X402_AWAIT_SETTLEMENT``, the default); a person's browser that lands on
the endpoint gets a page that says what the call costs."""

from __future__ import annotations

import pytest
from x402.http.clients.requests import PaymentError
from x402.http.utils import decode_payment_required_header

from chain.models import OutboundTransaction
from licensing.models import AgentPayment, UsageReceipt
from licensing.tests.shop import PUBLISHER_KEY
from licensing.tests.x402_kit import PRICE, body
from models_hub.choices import PaymentStatus
from models_hub.models import PaymentAuthorization
from models_hub.x402.agent import agent_session, settled
from portal.tests.browser import assert_accessible, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def _agent_session(shop, wallet, *, cap: int, budget: int = 10**6):
    """What an agent runs (``manage.py agent_demo``'s own client): it pays a 402 in the one
    token it allows (the shop's TUSDC), up to ``cap`` atomic units a call and ``budget`` in all."""
    return agent_session(
        key=wallet.key.hex(),
        network=f"eip155:{shop.network.chain_id}",
        asset=shop.env.usdc.address,
        max_per_call=cap,
        budget=budget,
    )


def _post(session, url):
    return session.post(url, data=body(), headers={"Content-Type": "application/json"}, timeout=60)


def test_an_agent_pays_through_the_live_server_and_waits_for_the_settlement(
    live_server, agents, agent, celery_workers, settings
):
    shop, _, path = agents
    env, a = shop.env, shop.env.acct
    settings.X402_AWAIT_SETTLEMENT = True
    celery_workers(
        "outbox",
        env={"CHAIN_OPERATOR_KEY": PUBLISHER_KEY, "CHAIN_RPC_URLS": f"anvil={env.node_url}"},
    )
    fee, carol = PRICE * 250 // 10_000, PRICE * 1000 // 10_000
    before = (
        env.vault.functions.withdrawable(a.platform, env.usdc.address).call(),
        env.vault.functions.withdrawable(a.carol, env.usdc.address).call(),
        env.usdc.functions.balanceOf(env.vault.address).call(),
    )

    session, spending = _agent_session(shop, agent, cap=PRICE)

    response = _post(session, live_server.url + path)

    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2
    paid = settled(response, spending)
    assert paid["payer"] == agent.address
    assert spending.spent == PRICE
    payment = PaymentAuthorization.objects.get()
    assert payment.status == PaymentStatus.SETTLED  # awaited: settled before the answer
    tx = OutboundTransaction.objects.get(pk=payment.transaction_id)
    assert (tx.status, tx.tx_hash) == ("confirmed", paid["transaction"])
    # the agent paid the price; the vault split it as it splits a purchase
    assert env.usdc.functions.balanceOf(agent.address).call() == 10**6 - PRICE
    assert env.usdc.functions.balanceOf(env.vault.address).call() == before[2] + PRICE
    assert env.vault.functions.withdrawable(a.platform, env.usdc.address).call() == before[0] + fee
    assert env.vault.functions.withdrawable(a.carol, env.usdc.address).call() == before[1] + carol
    receipt = UsageReceipt.objects.get(receipt_id=payment.receipt_id)
    assert (receipt.holder, receipt.units) == (agent.address, 1)
    shop.sync()
    assert AgentPayment.objects.get().receipt_id == payment.receipt_id


def test_an_agent_over_its_spend_cap_does_not_pay(live_server, agents, agent):
    shop, _, path = agents
    session, _ = _agent_session(shop, agent, cap=PRICE - 1)

    with pytest.raises(PaymentError, match="max_amount_per_payment"):
        _post(session, live_server.url + path)

    assert not PaymentAuthorization.objects.exists()
    assert shop.env.usdc.functions.balanceOf(agent.address).call() == 10**6


def test_an_agent_stops_paying_at_its_budget(live_server, agents, agent):
    shop, _, path = agents
    session, spending = _agent_session(shop, agent, cap=PRICE, budget=2 * PRICE)

    answers = [settled(_post(session, live_server.url + path), spending) for _ in range(2)]
    with pytest.raises(PaymentError, match="policies"):
        _post(session, live_server.url + path)

    assert all(answers)
    assert spending.spent == 2 * PRICE
    assert PaymentAuthorization.objects.count() == 2


@pytest.mark.requires_browser
def test_a_browser_on_the_endpoint_gets_a_page_with_the_price(page, live_server, agents):
    """A person who opens the endpoint (here: the browser's own POST) reads what it costs and
    where to buy a license instead; the requirements still ride in the header."""
    shop, offer, path = agents
    answers = []
    page.on("response", lambda r: answers.append(r) if r.url.endswith(path) else None)
    page.route(
        f"**{path}",
        lambda route: route.continue_(
            method="POST", post_data=body(), headers={**route.request.headers,
            "content-type": "application/json"},
        ),
    )  # fmt: skip

    page.goto(path)

    assert answers[0].status == 402
    assert answers[0].headers["content-type"].startswith("text/html")
    required = decode_payment_required_header(answers[0].headers["payment-required"])
    assert int(required.accepts[0].amount) == PRICE
    assert page.get_by_role("heading", name="Payment required").is_visible()
    text = page.locator("main").inner_text()
    assert "0.001 TUSDC" in text
    assert offer.model.name in text
    assert shop.env.pay_per_call.address in text
    link = page.get_by_role("link", name=f"Buy a license or credits for {offer.model.name}")
    assert link.get_attribute("href") == (
        f"/market/{offer.model.organization.slug}/{offer.model.slug}/"
    )
    assert_accessible(page)
    screenshot(page, "x402-payment-required")
