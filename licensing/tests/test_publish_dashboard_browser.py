"""A manager publishes an offer and reads the dashboard, in a real browser (Playwright on
Debian's chromium against ``live_server``), with a real anvil node, outbox sender and sync.

The screenshots are kept as test artifacts (``var/screenshots/``, or ``SCREENSHOT_DIR``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from chain.choices import OfferKind
from chain.testing import contracts
from chain.testing.devnode import ANVIL
from chain.testing.required import require_service
from licensing.models import ChainOffer, Offer, Payment
from licensing.services.tokenomics import offer_create, tokenomics_for
from licensing.tests.publishing_setup import (
    OPERATOR_KEY,
    drain,
    listed_model,
    native,
    network_for,
    published_version,
    start_chain,
    terms_for,
    wei,
)
from portal.choices import Role
from portal.tests.browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.requires_browser]


@pytest.fixture(scope="module")
def node_chain():
    require_service(ANVIL.exists(), "anvil is not installed (npm ci)")
    chain = start_chain()
    yield chain
    chain.node.stop()


def test_manager_publishes_an_offer_and_reads_the_dashboard(
    page, live_server, settings, node_chain, make_staff, org_a, org_b
):
    # given a model with a published version and a configured (unpublished) license tier
    settings.CHAIN_RPC_URLS = {"local": node_chain.node.url}
    settings.CHAIN_OPERATOR_KEY = OPERATOR_KEY
    settings.CHAIN_TX_RECEIPT_WAIT = 5
    network = network_for(node_chain, "local")
    eth = native(network)
    model = listed_model(org_a, "Iris species")
    published_version(model)
    offer = offer_create(
        model=model,
        network=network,
        kind=OfferKind.LICENSE,
        tier_name="Pro",
        price=wei("0.01"),
        currency=eth,
        terms=terms_for(org_a),
    )
    tokenomics = tokenomics_for(model=model)
    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    make_staff(org_b, Role.OWNER)  # another tenant, whose name must never show

    # when the manager publishes it from the model's tokenomics page
    change_url = reverse("admin:licensing_modeltokenomics_change", args=[tokenomics.pk])
    sign_in(page, manager, change_url)
    with page.expect_navigation():
        page.locator("#publish-to-chain-link").click()
    page.locator(f"input[name=network][value='{network.pk}']").check()
    assert "configureOffer" in page.locator("table.publish-preview").inner_text()
    screenshot(page, "tokenomics-publish-preview")
    with page.expect_navigation():
        page.locator("input[type=submit][value='Publish to the chosen networks']").click()
    assert "Beta-LEAK" not in page.content()

    # and the outbox sends, the sync confirms
    drain(network)
    chain_offer = ChainOffer.objects.get(network=network, token_id=offer.token_id)
    assert chain_offer.active
    assert chain_offer.price == wei("0.01")
    page.goto(change_url)
    publishing = page.locator("#publishing").inner_text().lower()  # badges are upper-cased
    assert publishing.count("confirmed by the sync") == 3, publishing  # register, version, offer
    assert "failed" not in publishing
    screenshot(page, "tokenomics-published")

    # then a customer buys from a test wallet, and the dashboard shows the revenue
    buyer = node_chain.accounts[5]
    contracts.send(
        node_chain.suite.token.functions.purchase(int(offer.token_id), 2, wei("0.01")),
        sender=buyer,
        value=wei("0.02"),
    )
    drain(network)
    assert Payment.objects.get(network=network).amount == wei("0.02")

    page.goto(f"/admin/licensing/dashboard/?organization={org_a.pk}")
    assert urlsplit(page.url).path == "/admin/licensing/dashboard/"
    body = page.locator("#content-main").inner_text()
    assert "Iris species\tETH\t0.02\t1" in body, body  # the revenue table: model, currency, sum
    assert "Iris species\tlocal\tETH\t0.02\t0.0005" in body, body  # with the platform's fee
    assert buyer in body or buyer.lower() in body.lower()
    assert "Pro" in body
    assert "Beta-LEAK" not in page.content()
    chart = page.locator("canvas#revenue-chart-0")
    assert chart.get_attribute("aria-label")
    page.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length > 0")
    screenshot(page, "dashboard-after-purchase")
    assert Offer.objects.get(pk=offer.pk).active
