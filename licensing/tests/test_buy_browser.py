"""Buying with a wallet in a real browser (Playwright on Debian's chromium against
``live_server``): the injected test wallet (``portal.tests.wallet``) forwards to anvil, whose
development accounts sign; the sync runs from the test.

Screenshots are kept as test artifacts (``var/screenshots/``, or ``SCREENSHOT_DIR``).
"""

from __future__ import annotations

import types

import pytest
from django.urls import reverse
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import expect

from chain.choices import OfferKind
from chain.testing.devnode import AnvilNode
from chain.testing.market import DAY, LICENSE_NATIVE, MODEL, PASS_TOKEN
from portal.tests.browser import assert_accessible, screenshot

pytestmark = [pytest.mark.requires_browser]

WALLET_JS = "/static/js/wallet.js"


@pytest.fixture
def other_node(chain_node):
    """A second chain (another anvil node) the wallet may be on instead."""
    node = AnvilNode()
    yield node
    node.stop()


def _run(page, body: str, arg=None):
    """Run ``body`` (an async function body with ``w`` = the wallet module, ``arg``) in the page."""
    script = f"async (arg) => {{ const w = await import('{WALLET_JS}'); {body} }}"
    return page.evaluate(script, arg)


def test_the_wallet_module_discovers_connects_signs_and_switches(page, wallet, other_node):
    # given the test wallet on the chain node, and a second node it knows
    other = wallet.add_node(other_node.url, other_node.chain_id)
    page.goto("/")

    # when the module discovers wallets and connects
    found = _run(page, "return (await w.discoverWallets()).map((x) => x.info.name);")
    account = _run(page, "const [x] = await w.discoverWallets(); return w.connect(x.provider);")

    # then it found the one injected wallet (EIP-6963) and got its account
    assert found == ["Test Wallet"]
    assert account.lower() == wallet.account.lower()

    # a personal_sign signs the message as EIP-191 with the account's key (anvil's)
    signature = _run(
        page,
        "const [x] = await w.discoverWallets(); return w.personalSign(x.provider, arg.a, arg.m);",
        {"a": account, "m": "Sign in to the portal ✓"},
    )
    signed = encode_defunct(text="Sign in to the portal ✓")
    assert Account.recover_message(signed, signature=signature).lower() == account.lower()

    # ensureChain switches to a known chain, and the page hears chainChanged
    changed = _run(
        page,
        """const [x] = await w.discoverWallets(); const heard = [];
        x.provider.on("chainChanged", (c) => heard.push(c));
        await w.ensureChain(x.provider, { chainId: arg });
        return heard;""",
        other,
    )
    assert changed == [hex(other)]
    assert wallet.chain_id == other

    # a rejected request reads in plain words
    wallet.reject_next("eth_requestAccounts")
    said = _run(
        page,
        """const [x] = await w.discoverWallets();
        try { await w.connect(x.provider); return "connected"; }
        catch (e) { return [e.code, w.describeError(e)]; }""",
    )
    assert said == [4001, "You rejected the request in your wallet."]


def test_an_unknown_chain_is_added_then_switched_and_window_ethereum_is_the_fallback(
    browser, live_server, chain_node, other_node, transactional_db
):
    from portal.tests.wallet import InjectedWallet

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    try:
        # given a wallet that does not announce itself and does not know the other chain yet
        wallet = InjectedWallet(page, announce=False)
        wallet.add_node(chain_node.url, chain_node.chain_id)
        wallet.install()
        page.goto("/")

        # when the page asks for the other chain with its RPC URL
        names = _run(page, "return (await w.discoverWallets()).map((x) => x.info.name);")
        _run(
            page,
            """const [x] = await w.discoverWallets();
            const nativeCurrency = { name: "Ether", symbol: "ETH", decimals: 18 };
            await w.ensureChain(x.provider, { chainId: arg.id, chainName: "other",
              rpcUrls: [arg.url], nativeCurrency });""",
            {"id": other_node.chain_id, "url": other_node.url},
        )

        # then window.ethereum was found, and the chain added (4902 first) and switched to
        assert names == ["Browser wallet"]
        methods = [method for method, _ in wallet.requests]
        assert methods[-3:-1] == ["wallet_switchEthereumChain", "wallet_addEthereumChain"]
        assert wallet.chain_id == other_node.chain_id
        # without rpcUrls, an unknown chain is a plain sentence
        said = _run(
            page,
            """const [x] = await w.discoverWallets();
            try { await w.ensureChain(x.provider, { chainId: 5, chainName: "goerli" }); }
            catch (e) { return [e.code, w.describeError(e)]; }""",
        )
        assert said[0] == 4902
        assert "does not know the network goerli (chain id 5)" in said[1]
    finally:
        context.close()


# --- the buy page ---

PRICE = 10**16


@pytest.fixture
def buy_page(page, wallet, shop):
    """The shop's model listed, the wallet on alice's account, and a way to open an offer."""
    from models_hub.models import AIModel

    AIModel.objects.filter(pk=shop.offers[LICENSE_NATIVE].model_id).update(listed=True)
    shop.network.explorer_url = "https://explorer.example"
    shop.network.save()
    wallet.use_account(shop.env.acct.alice, connect=False)

    def open_offer(offer_id: int):
        page.goto(reverse("market:buy", args=[shop.offers[offer_id].pk]))
        page.locator("#buy-connect").click()
        expect(page.locator("#buy-wallet")).to_contain_text("Connected")
        return page.locator("#buy-status")

    return types.SimpleNamespace(page=page, wallet=wallet, shop=shop, open=open_offer)


def test_buy_a_license_in_the_native_coin_pending_then_confirmed_after_the_sync(buy_page):
    page, shop = buy_page.page, buy_page.shop
    status = buy_page.open(LICENSE_NATIVE)

    # when the buyer presses Buy and the wallet signs
    page.locator("#buy-submit").click()

    # then it is mined, waiting for the sync, with the hash and the explorer link
    expect(status).to_contain_text("mined, waiting for the portal to see it")
    (tx_hash,) = buy_page.wallet.sent
    link = status.locator(f"a[href='https://explorer.example/tx/{tx_hash}']")
    expect(link).to_have_text(tx_hash)
    screenshot(page, "buy-native-pending")
    shop.sync()
    expect(status).to_contain_text("Done: The Monthly license for 30 days.")
    expect(status).to_contain_text("Buy Monthly license: confirmed")
    assert_accessible(page)
    screenshot(page, "buy-native-confirmed")
    assert shop.env.token.functions.balanceOf(shop.env.acct.alice, LICENSE_NATIVE).call() == 1


def test_buy_a_pass_in_the_erc20_approve_then_buy(buy_page):
    page, shop = buy_page.page, buy_page.shop
    env, alice = shop.env, shop.env.acct.alice
    env.send(env.usd.functions.approve(env.token.address, 0), alice)  # no allowance left
    status = buy_page.open(PASS_TOKEN)

    page.locator("#buy-submit").click()

    expect(status).to_contain_text("Approve 5 TUSD: mined")
    expect(status).to_contain_text("Buy Week pass: mined, waiting for the portal to see it")
    screenshot(page, "buy-erc20-approve")
    shop.sync()
    expect(status).to_contain_text("Buy Week pass: confirmed")
    screenshot(page, "buy-erc20-confirmed")
    sent = [method for method, _ in buy_page.wallet.requests if method == "eth_sendTransaction"]
    assert len(sent) == 2
    assert env.token.functions.balanceOf(alice, PASS_TOKEN).call() == 1


def test_a_rejected_signature_says_so(buy_page):
    page = buy_page.page
    status = buy_page.open(LICENSE_NATIVE)
    buy_page.wallet.reject_next("eth_sendTransaction")

    page.locator("#buy-submit").click()

    expect(status).to_contain_text("You rejected the request in your wallet.")
    expect(status).to_have_class("buy-status is-error")
    assert_accessible(page)
    screenshot(page, "buy-rejected")
    assert buy_page.wallet.sent == []


def test_a_wallet_on_another_network_is_switched_or_says_it_refused(buy_page, other_node):
    page, wallet, shop = buy_page.page, buy_page.wallet, buy_page.shop
    other = wallet.add_node(other_node.url, other_node.chain_id)
    wallet.switch_to(other)
    status = buy_page.open(LICENSE_NATIVE)

    # a switch refused in the wallet is said plainly
    wallet.reject_next("wallet_switchEthereumChain")
    page.locator("#buy-submit").click()
    expect(status).to_contain_text("Your wallet did not switch to anvil")
    screenshot(page, "buy-wrong-network")

    # accepted, the wallet is switched and the purchase goes through on the offer's chain
    page.locator("#buy-submit").click()
    expect(status).to_contain_text("mined, waiting for the portal to see it")
    assert wallet.chain_id == shop.env.chain_id


def test_a_revert_is_decoded_at_estimation_and_once_mined(buy_page):
    page, wallet, shop = buy_page.page, buy_page.wallet, buy_page.shop
    env = shop.env
    status = buy_page.open(LICENSE_NATIVE)
    # the price doubles on chain after the page was quoted (the sync has not seen it)
    config = env.offer(MODEL, OfferKind.LICENSE, 2 * PRICE, duration=30 * DAY, transferable=True)
    env.send(env.token.functions.configureOffer(LICENSE_NATIVE, config), env.acct.publisher)

    # the wallet's estimate reverts: nothing is sent, the reason is in words
    page.locator("#buy-submit").click()
    expect(status).to_contain_text(
        "the contract would refuse it: The price went up from 0.01 ETH to 0.02 ETH"
    )
    screenshot(page, "buy-reverted-estimate")
    assert wallet.sent == []

    # sent anyway (a gas limit of its own), it is mined, reverts, and says why
    wallet.skip_estimation()
    page.locator("#buy-submit").click()
    expect(status).to_contain_text("Reverted: The price went up from 0.01 ETH to 0.02 ETH")
    screenshot(page, "buy-reverted-mined")
    assert len(wallet.sent) == 1


def test_a_dropped_transaction_says_so(buy_page):
    page = buy_page.page
    status = buy_page.open(LICENSE_NATIVE)
    buy_page.wallet.drop_next_transaction()

    page.locator("#buy-submit").click()

    expect(status).to_contain_text("Dropped: the network no longer knows this transaction")
    screenshot(page, "buy-dropped")


def test_the_buy_page_at_phone_width(buy_page):
    page = buy_page.page
    page.set_viewport_size({"width": 375, "height": 812})
    status = buy_page.open(PASS_TOKEN)

    page.locator("#buy-submit").click()
    expect(status).to_contain_text("Buy Week pass: mined")

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at phone width ({width}px)"
    assert_accessible(page)
    screenshot(page, "buy-phone")
