"""My account in a real browser (Playwright on Debian's chromium against ``live_server``): sign
in with the injected wallet (``portal.tests.wallet``, anvil's accounts sign), buy a license,
see it on My account, renew it through the buy page and see it extended after the sync, and
withdraw revenue as the model's share holder, the balance reading zero after the sync. The
page also works without JavaScript (everything but Withdraw).

Screenshots (``var/screenshots/``): account-desktop, account-phone, account-renewed,
account-withdraw-confirmed, account-nojs.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.urls import reverse
from playwright.sync_api import expect

from chain.testing.market import DAY, LICENSE_NATIVE, SHARES
from licensing.amounts import format_amount
from licensing.choices import LedgerKind
from licensing.models import License, VaultEntry
from portal.tests.browser import assert_accessible, screenshot

pytestmark = [pytest.mark.requires_browser]

ACCOUNT = "/account/"
ZERO = "0x" + "0" * 40


@pytest.fixture
def listed_shop(shop):
    """The shop's model listed, an explorer, and alice holding all of its shares."""
    from models_hub.models import AIModel

    cache.clear()  # the sign-in's rate limits
    AIModel.objects.filter(pk=shop.offers[LICENSE_NATIVE].model_id).update(listed=True)
    shop.network.explorer_url = "https://explorer.example"
    shop.network.save()
    env = shop.env
    env.send(env.token.functions.mintShares(SHARES, [env.acct.alice], [100]), env.acct.publisher)
    shop.sync()
    return shop


def _sign_in(page, wallet, account: str) -> None:
    wallet.use_account(account, connect=False)
    page.goto(ACCOUNT)
    assert urlsplit(page.url).path == reverse("siwe_login"), page.url
    page.locator(".wallet-button").first.click()
    page.wait_for_url(lambda url: urlsplit(url).path == ACCOUNT)


def _buy(page, shop, offer_id: int) -> None:
    status = page.locator("#buy-status")
    page.locator("#buy-connect").click()
    expect(page.locator("#buy-wallet")).to_contain_text("Connected")
    page.locator("#buy-submit").click()
    expect(status).to_contain_text("mined, waiting for the portal to see it")
    shop.sync()
    expect(status).to_contain_text("confirmed")


def _license(shop, holder: str) -> License:
    return License.objects.get(
        network=shop.network,
        token_id=LICENSE_NATIVE,
        holder=holder,
        token_address=shop.env.token.address,
    )


def test_sign_in_buy_renew_and_withdraw_revenue(page, wallet, listed_shop):
    shop, env = listed_shop, listed_shop.env
    alice = env.acct.alice
    offer = shop.offers[LICENSE_NATIVE]

    # given alice signed in with her wallet (sent there from My account) who bought a license
    _sign_in(page, wallet, alice)
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.goto(reverse("market:buy", args=[offer.pk]))
    _buy(page, shop, LICENSE_NATIVE)
    first_expiry = _license(shop, alice).expires_at

    # when she opens My account
    page.goto(ACCOUNT)

    # then her wallet, the license (active, with its expiry and Renew), the purchase and her
    # revenue as the share holder are there
    expect(page.locator("#wallets code.address")).to_have_text(alice)
    row = page.locator(".license-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Churn classifier")
    expect(row).to_contain_text("Monthly")
    expect(row.locator(".status")).to_have_text("Active")
    expect(row.locator("time")).to_have_attribute("datetime", _iso(first_expiry))
    purchases = page.locator(".purchase-row")
    expect(purchases).to_have_count(1)
    expect(purchases).to_contain_text("0.01 ETH")
    (sent,) = wallet.sent
    expect(purchases.locator(f"a[href='https://explorer.example/tx/{sent}']")).to_be_visible()
    revenue = page.locator(".revenue-row")
    expect(revenue).to_have_count(1)
    expect(revenue).to_contain_text("share holder of Churn classifier")
    owed = env.vault.functions.withdrawable(alice, ZERO).call()
    assert owed > 0
    expect(revenue.locator(".withdraw-button")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "account-desktop")

    # at phone width nothing scrolls sideways
    page.set_viewport_size({"width": 375, "height": 812})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways ({width}px)"
    assert_accessible(page)
    screenshot(page, "account-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # when she renews through the buy page
    page.get_by_role("link", name="Renew Churn classifier Monthly").click()
    page.wait_for_url(lambda url: urlsplit(url).path == reverse("market:buy", args=[offer.pk]))
    _buy(page, shop, LICENSE_NATIVE)

    # then My account shows it extended by the offer's 30 days, and two purchases
    renewed = _license(shop, alice).expires_at
    assert renewed == first_expiry + 30 * DAY
    page.goto(ACCOUNT)
    expect(page.locator(".license-row time")).to_have_attribute("datetime", _iso(renewed))
    expect(page.locator(".purchase-row")).to_have_count(2)
    screenshot(page, "account-renewed")

    # when she withdraws her revenue
    owed = env.vault.functions.withdrawable(alice, ZERO).call()
    status = page.locator("#withdraw-status")
    page.locator(".withdraw-button").click()

    # then it is mined, confirmed once the sync has seen it, and the balance reads zero
    expect(status).to_contain_text("mined, waiting for the portal to see it")
    shop.sync()
    expect(status).to_contain_text("Withdraw")
    expect(status).to_contain_text("confirmed")
    expect(status).to_contain_text("Done:")
    expect(page.locator(".revenue-withdrawable")).to_have_text("0 ETH")
    expect(page.locator(".revenue-withdrawn")).to_have_text(format_amount(owed, shop.eth))
    screenshot(page, "account-withdraw-confirmed")
    assert env.vault.functions.withdrawable(alice, ZERO).call() == 0
    withdrawn = VaultEntry.objects.get(account=alice, kind=LedgerKind.WITHDRAWN)
    assert int(withdrawn.amount) == owed
    page.reload()
    expect(page.locator(".revenue-withdrawable")).to_have_text("0 ETH")
    expect(page.locator(".revenue-row .withdraw-button")).to_have_count(0)
    assert_accessible(page)


def test_the_page_works_without_javascript(
    browser, live_server, listed_shop, client, django_user_model
):
    from allauth.socialaccount.models import SocialAccount

    # given alice's revenue and a session (signed in by the test client: sign-in needs a wallet)
    shop, env = listed_shop, listed_shop.env
    alice = env.acct.alice
    env.send(env.token.functions.purchase(LICENSE_NATIVE, 1, 10**16), env.acct.bob, value=10**16)
    shop.sync()
    user = django_user_model.objects.create_user(username="nojs", email="nojs@example.com")
    SocialAccount.objects.create(user=user, provider="siwe", uid=alice)
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
    page = context.new_page()
    try:
        # when she opens My account without JavaScript
        page.goto(ACCOUNT)

        # then everything reads, and Withdraw says it needs a wallet instead of a button
        expect(page.get_by_role("heading", name="Revenue")).to_be_visible()
        expect(page.locator(".revenue-row")).to_contain_text("share holder of Churn classifier")
        expect(page.locator(".withdraw-button")).to_be_hidden()
        expect(page.locator(".withdraw-nojs")).to_have_text(
            "Withdrawing needs a browser wallet and JavaScript."
        )
        expect(page.get_by_role("link", name="Link another wallet")).to_be_visible()
        screenshot(page, "account-nojs")
    finally:
        context.close()


def _iso(timestamp: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()
