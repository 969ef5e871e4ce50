"""Wallet sign-in in a real browser: the injected EIP-1193 wallet (portal.tests.wallet) signs
with anvil's development accounts; the page asks the portal for the message, the wallet signs
it, the portal signs the customer in."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache
from playwright.sync_api import expect
from web3 import Web3

from chain.models import Network
from portal.tests.browser import assert_accessible, screenshot

pytestmark = [pytest.mark.requires_browser]


@pytest.fixture
def portal_chain(chain_node, settings):
    cache.clear()
    Network.objects.create(name="siwe-browser", chain_id=chain_node.chain_id, confirmation_depth=1)
    settings.CHAIN_RPC_URLS = {"siwe-browser": chain_node.url}
    return chain_node


def _at(path: str):
    return lambda url: urlsplit(url).path == path


def _sign_in_button(page):
    return page.locator(".wallet-button").first


def test_a_customer_signs_in_with_a_wallet_and_links_another(page, wallet, portal_chain):
    # given the sign-in page, reached from the marketplace
    page.goto("/market/")
    page.get_by_role("link", name="Sign in with wallet").click()
    expect(_sign_in_button(page)).to_be_visible()
    assert_accessible(page)
    screenshot(page, "siwe-login")

    # when the customer picks the wallet and signs
    _sign_in_button(page).click()

    # then they are back on the marketplace, signed in, with an account for the wallet
    page.wait_for_url(_at("/market/"))
    expect(page.get_by_role("link", name="My account")).to_be_visible()
    account = SocialAccount.objects.get(provider="siwe")
    assert account.uid == Web3.to_checksum_address(wallet.account)
    assert [m for m, _ in wallet.requests if m == "personal_sign"] == ["personal_sign"]

    # and they link a second wallet (anvil's second development account) to the same account
    second = Web3(Web3.HTTPProvider(portal_chain.url)).eth.accounts[1]
    wallet.use_account(second, connect=False)
    page.goto("/accounts/siwe/login/?process=connect&next=/accounts/3rdparty/")
    expect(page.get_by_role("heading", name="Link another wallet")).to_be_visible()
    _sign_in_button(page).click()
    page.wait_for_url(_at("/accounts/3rdparty/"))
    linked = set(SocialAccount.objects.filter(user=account.user).values_list("uid", flat=True))
    assert linked == {account.uid, second}
    screenshot(page, "siwe-wallets")


def test_a_rejected_signature_says_so_and_signs_nobody_in(page, wallet, portal_chain):
    page.goto("/accounts/siwe/login/")
    wallet.reject_next("personal_sign")

    _sign_in_button(page).click()

    expect(page.locator("#siwe-status")).to_have_text("You rejected the request in your wallet.")
    screenshot(page, "siwe-rejected")
    assert not SocialAccount.objects.exists()
    expect(page.get_by_role("link", name="Sign in with wallet")).to_be_visible()


def test_a_wallet_on_another_chain_is_asked_to_switch(page, wallet, portal_chain, anvil):
    # the wallet also knows a chain the portal does not, and is on it
    wallet.add_node(anvil.url, anvil.chain_id)
    wallet.switch_to(anvil.chain_id)
    page.goto("/accounts/siwe/login/")

    _sign_in_button(page).click()

    expect(page.get_by_role("link", name="My account")).to_be_visible()
    assert wallet.chain_id == portal_chain.chain_id
    asked = [params for method, params in wallet.requests if method == "wallet_switchEthereumChain"]
    assert asked
    assert int(asked[0][0]["chainId"], 16) == portal_chain.chain_id
    assert SocialAccount.objects.get().extra_data["chain_id"] == portal_chain.chain_id


def test_the_sign_in_page_at_phone_width(page, wallet, portal_chain):
    page.set_viewport_size({"width": 375, "height": 812})
    page.goto("/accounts/siwe/login/")
    expect(_sign_in_button(page)).to_be_visible()
    assert_accessible(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways ({width}px)"
    screenshot(page, "siwe-login-phone")
