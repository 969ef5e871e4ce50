"""Buying with a wallet in a real browser (Playwright on Debian's chromium against
``live_server``): the injected test wallet (``portal.tests.wallet``) forwards to anvil, whose
development accounts sign; the sync runs from the test.

Screenshots are kept as test artifacts (``var/screenshots/``, or ``SCREENSHOT_DIR``).
"""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from chain.testing.devnode import AnvilNode

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
