"""``purchase_prepare`` and ``purchase_status`` against a real anvil with the contracts deployed
and the standard offers synced (``shop``): the transactions it prepares are sent from anvil's
development accounts as a wallet would send them."""

from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from web3 import Web3

from chain import abi
from chain.choices import OfferKind
from chain.testing.devnode import free_port
from chain.testing.market import CREDITS, LICENSE_NATIVE, MODEL, PASS_TOKEN, SHARES
from licensing.errors import PurchaseErrorCode
from licensing.models import Offer
from licensing.services.purchase import (
    chain_params,
    explain_revert_data,
    purchase_prepare,
    purchase_status,
)
from licensing.services.tokenomics import offer_create
from portal.errors import DomainError

PRICE = 10**16  # the monthly license, in wei
PASS_PRICE = 5 * 10**6  # the week pass, 5 TUSD


def _send(env, tx: dict, sender: str, **extra) -> str:
    """Send a prepared transaction from a node-signed account, as a wallet would."""
    fields = {"from": sender, "to": tx["to"], "data": tx["data"], "value": tx["value"], **extra}
    fields["chainId"] = tx["chainId"]
    answer = env.w3.provider.make_request("eth_sendTransaction", [fields])
    assert "result" in answer, answer
    return answer["result"]


def _code(call) -> str:
    with pytest.raises(DomainError) as info:
        call()
    return info.value.code


def _purchase_args(data: str) -> tuple:
    token = abi.contract_at(Web3(), abi.LICENSE_TOKEN, "0x" + "00" * 20)
    function, args = token.decode_function_input(data)
    assert function.fn_name == "purchase"
    return args["id"], args["amount"], args["maxPrice"]


def _configure(env, offer_id: int, price: int, *, active: bool = True, **fields) -> None:
    kind = {LICENSE_NATIVE: OfferKind.LICENSE, PASS_TOKEN: OfferKind.ACCESS_PASS}[offer_id]
    if offer_id == PASS_TOKEN:
        fields = {"currency": env.usd.address, "duration": 7 * 86_400, "max_supply": 5, **fields}
    else:
        fields = {"duration": 30 * 86_400, "transferable": True, **fields}
    config = env.offer(MODEL, kind, price, active=active, **fields)
    env.send(env.token.functions.configureOffer(offer_id, config), env.acct.publisher)


# --- the native coin ---


def test_a_license_in_the_native_coin_is_one_purchase_paying_the_price(shop):
    env, alice = shop.env, shop.env.acct.alice

    prepared = purchase_prepare(offer=shop.offers[LICENSE_NATIVE], buyer=alice.lower())

    (tx,) = prepared.as_json()["transactions"]
    assert tx["to"] == env.token.address
    assert tx["value"] == hex(PRICE)
    assert tx["chainId"] == hex(env.chain_id)
    assert tx["from"] == alice  # checksummed, whatever case the wallet gave
    assert _purchase_args(tx["data"]) == (LICENSE_NATIVE, 1, PRICE)
    assert tx["label"] == "Buy Monthly license"
    assert prepared.summary()["total"] == "0.01 ETH"
    assert prepared.gets == "The Monthly license for 30 days."
    assert prepared.renewal == []

    # sent as it is, it mines and buys
    receipt = env.w3.eth.wait_for_transaction_receipt(_send(env, tx, alice))
    assert receipt["status"] == 1
    assert env.token.functions.balanceOf(alice, LICENSE_NATIVE).call() == 1


def test_several_units_of_a_credits_pack_are_that_many_packs_of_credits(shop):
    env, bob = shop.env, shop.env.acct.bob
    offer = shop.offers[CREDITS]  # 10**12 wei per credit on chain, one credit per pack here

    prepared = purchase_prepare(offer=offer, buyer=bob, amount="3")

    (tx,) = prepared.as_json()["transactions"]
    per_pack = offer.credits_per_unit
    assert _purchase_args(tx["data"]) == (CREDITS, 3 * per_pack, 10**12)
    assert int(tx["value"], 16) == 3 * per_pack * 10**12
    assert prepared.gets.startswith("3 packs of")
    assert env.w3.eth.wait_for_transaction_receipt(_send(env, tx, bob))["status"] == 1


# --- an ERC-20 ---


def test_an_erc20_pass_with_enough_allowance_is_only_the_purchase(shop):
    alice = shop.env.acct.alice  # the market approved the token for everyone

    prepared = purchase_prepare(offer=shop.offers[PASS_TOKEN], buyer=alice)

    (tx,) = prepared.as_json()["transactions"]
    assert tx["value"] == "0x0"
    assert _purchase_args(tx["data"]) == (PASS_TOKEN, 1, PASS_PRICE)
    assert tx["label"] == "Buy Week pass"
    assert prepared.allowance == 2**256 - 1
    assert prepared.summary()["total"] == "5 TUSD"


def test_an_erc20_pass_without_enough_allowance_approves_the_total_first(shop):
    env, alice = shop.env, shop.env.acct.alice
    env.send(env.usd.functions.approve(env.token.address, PASS_PRICE), alice)  # for one only

    prepared = purchase_prepare(offer=shop.offers[PASS_TOKEN], buyer=alice, amount=2)

    approve, buy = prepared.as_json()["transactions"]
    assert approve["to"] == env.usd.address
    assert approve["value"] == "0x0"
    assert approve["label"] == "Approve 10 TUSD"
    assert approve["data"][:10] == "0x095ea7b3"  # approve(address,uint256)
    spender, amount = abi_decode(["address", "uint256"], bytes.fromhex(approve["data"][10:]))
    assert (Web3.to_checksum_address(spender), amount) == (env.token.address, 2 * PASS_PRICE)
    assert _purchase_args(buy["data"]) == (PASS_TOKEN, 2, PASS_PRICE)
    assert [step["step"] for step in (approve, buy)] == ["approve", "purchase"]

    # sent in order, both mine and the pass is bought for two weeks
    for tx in (approve, buy):
        assert env.w3.eth.wait_for_transaction_receipt(_send(env, tx, alice))["status"] == 1
    assert env.token.functions.balanceOf(alice, PASS_TOKEN).call() == 2


# --- renewals ---


def test_a_renewal_says_what_it_adds_and_what_changed_since_the_last_purchase(shop):
    env, alice = shop.env, shop.env.acct.alice
    offer = shop.offers[LICENSE_NATIVE]
    first = purchase_prepare(offer=offer, buyer=alice).as_json()["transactions"][0]
    env.w3.eth.wait_for_transaction_receipt(_send(env, first, alice))
    _configure(env, LICENSE_NATIVE, 2 * PRICE)  # the price went up on chain
    shop.sync()

    prepared = purchase_prepare(offer=offer, buyer=alice)

    assert prepared.label == "Renew Monthly license"
    assert prepared.transactions[0].value == hex(2 * PRICE)
    text = " ".join(prepared.renewal)
    assert "Renewing early adds 30 days to the remaining time" in text
    assert "The price went up from 0.01 ETH to 0.02 ETH per unit" in text


def test_a_renewal_after_a_price_drop_says_a_lower_price_never_blocks(shop):
    env, alice = shop.env, shop.env.acct.alice
    offer = shop.offers[LICENSE_NATIVE]
    first = purchase_prepare(offer=offer, buyer=alice).as_json()["transactions"][0]
    env.w3.eth.wait_for_transaction_receipt(_send(env, first, alice))
    _configure(env, LICENSE_NATIVE, PRICE // 2)
    shop.sync()

    prepared = purchase_prepare(offer=offer, buyer=alice)

    assert "went down" in " ".join(prepared.renewal)
    assert "A lower price never blocks a renewal" in " ".join(prepared.renewal)


# --- bad input, each its own case ---


@pytest.mark.parametrize("amount", [0, -1, 1001, "two", "", None, True, 1.5, [1]])
def test_an_amount_that_is_not_1_to_1000_whole_units_is_bad_amount(shop, amount):
    offer = shop.offers[LICENSE_NATIVE]
    call = lambda: purchase_prepare(offer=offer, buyer=shop.env.acct.alice, amount=amount)  # noqa: E731

    assert _code(call) == "bad_amount"


@pytest.mark.parametrize(
    "buyer",
    [
        "0x" + "00" * 20,  # the zero address
        "0x70997970c51812dc3A010C7d01b50e0d17dc79C8",  # a wrong EIP-55 checksum
        "0x1234",
        "alice",
        "",
        None,
        42,
    ],
)
def test_a_buyer_that_is_no_address_or_the_zero_address_is_bad_buyer_address(shop, buyer):
    call = lambda: purchase_prepare(offer=shop.offers[LICENSE_NATIVE], buyer=buyer)  # noqa: E731

    assert _code(call) == "bad_buyer_address"


def test_shares_are_not_sold(shop):
    call = lambda: purchase_prepare(offer=shop.offers[SHARES], buyer=shop.env.acct.alice)  # noqa: E731

    assert _code(call) == "wrong_kind"


def test_an_offer_deactivated_here_is_not_purchasable(shop):
    offer = shop.offers[LICENSE_NATIVE]
    Offer.objects.filter(pk=offer.pk).update(active=False)
    offer.refresh_from_db()

    assert _code(lambda: purchase_prepare(offer=offer, buyer=shop.env.acct.alice)) == (
        "offer_not_purchasable"
    )


def test_an_offer_deactivated_on_chain_is_not_purchasable(shop):
    _configure(shop.env, LICENSE_NATIVE, PRICE, active=False)
    shop.sync()
    offer = shop.offers[LICENSE_NATIVE]

    assert _code(lambda: purchase_prepare(offer=offer, buyer=shop.env.acct.alice)) == (
        "offer_not_purchasable"
    )


def test_an_offer_not_on_chain_yet_is_not_purchasable(shop):
    offer = offer_create(
        model=shop.offers[LICENSE_NATIVE].model,
        network=shop.network,
        kind=OfferKind.LICENSE,
        tier_name="Unpublished",
        price=PRICE,
        currency=shop.eth,
        terms=shop.terms,
    )

    with pytest.raises(DomainError) as error:
        purchase_prepare(offer=offer, buyer=shop.env.acct.alice)
    assert error.value.code == "offer_not_purchasable"
    assert "not published on anvil yet" in error.value.message


def test_more_than_the_supply_left_is_sold_out(shop):
    env, bob = shop.env, shop.env.acct.bob
    offer = shop.offers[PASS_TOKEN]  # at most 5
    tx = purchase_prepare(offer=offer, buyer=bob, amount=4).as_json()["transactions"][-1]
    env.w3.eth.wait_for_transaction_receipt(_send(env, tx, bob))

    with pytest.raises(DomainError) as error:
        purchase_prepare(offer=offer, buyer=bob, amount=2)

    assert error.value.code == "sold_out"
    assert error.value.status == 409
    assert "4 of 5 are taken, 1 left" in error.value.message
    assert purchase_prepare(offer=offer, buyer=bob, amount=1).tokens == 1


def test_a_node_that_does_not_answer_is_node_unavailable(shop, settings):
    settings.CHAIN_RPC_URLS = {"anvil": f"http://127.0.0.1:{free_port()}"}

    with pytest.raises(DomainError) as error:
        purchase_prepare(offer=shop.offers[PASS_TOKEN], buyer=shop.env.acct.alice)

    assert error.value.code == "node_unavailable"
    assert error.value.status == 503


def test_every_purchase_code_is_registered_with_its_status():
    codes = {error.code: error.status for error in PurchaseErrorCode}

    assert codes["offer_not_purchasable"] == 409
    assert codes["bad_buyer_address"] == 422
    assert codes["node_unavailable"] == 503


# --- the status ladder ---


def test_pending_then_mined_then_confirmed_after_the_sync(shop):
    env, alice = shop.env, shop.env.acct.alice
    shop.network.explorer_url = "https://explorer.example"
    shop.network.save()
    tx = purchase_prepare(offer=shop.offers[LICENSE_NATIVE], buyer=alice).transactions[0]
    env.w3.provider.make_request("evm_setAutomine", [False])
    try:
        tx_hash = _send(env, tx.as_json(alice), alice)

        pending = purchase_status(network=shop.network, tx_hash=tx_hash)
        env.w3.provider.make_request("evm_mine", [])
    finally:
        env.w3.provider.make_request("evm_setAutomine", [True])
    mined = purchase_status(network=shop.network, tx_hash=tx_hash.upper().replace("0X", "0x"))
    shop.sync()
    confirmed = purchase_status(network=shop.network, tx_hash=tx_hash)

    assert pending.state == "pending"
    assert pending.explorer_url == f"https://explorer.example/tx/{tx_hash}"
    assert mined.state == "mined"
    assert mined.block_number is not None
    assert confirmed.state == "confirmed"
    assert confirmed.as_json()["status"] == "confirmed"


def test_a_mined_revert_is_decoded_in_words(shop):
    env, alice = shop.env, shop.env.acct.alice
    tx = purchase_prepare(offer=shop.offers[LICENSE_NATIVE], buyer=alice).as_json()
    _configure(env, LICENSE_NATIVE, 2 * PRICE)  # raised between the quote and the send
    # a gas limit of its own: the node mines it instead of refusing it at estimation
    tx_hash = _send(env, tx["transactions"][0], alice, gas=hex(300_000))

    status = purchase_status(network=shop.network, tx_hash=tx_hash, currency=shop.eth)

    assert status.state == "reverted"
    assert status.reason.startswith("The price went up from 0.01 ETH to 0.02 ETH since the quote")


def test_a_transaction_the_node_forgot_is_dropped(shop):
    env, alice = shop.env, shop.env.acct.alice
    tx = purchase_prepare(offer=shop.offers[LICENSE_NATIVE], buyer=alice).as_json()
    env.w3.provider.make_request("evm_setAutomine", [False])
    try:
        tx_hash = _send(env, tx["transactions"][0], alice)
        env.w3.provider.make_request("anvil_dropTransaction", [tx_hash])
    finally:
        env.w3.provider.make_request("evm_setAutomine", [True])

    status = purchase_status(network=shop.network, tx_hash=tx_hash)

    assert status.state == "dropped"
    assert "nothing was charged" in status.message


@pytest.mark.parametrize("tx_hash", ["", "0x12", "0x" + "zz" * 32, None, "1" * 66])
def test_a_malformed_hash_is_bad_tx_hash(shop, tx_hash):
    call = lambda: purchase_status(network=shop.network, tx_hash=tx_hash)  # noqa: E731

    assert _code(call) == "bad_tx_hash"


def test_revert_data_from_a_wallet_reads_in_words(shop):
    token = shop.env.token
    error = token.functions.purchase(LICENSE_NATIVE, 1, 1)
    data = None
    try:
        error.call({"from": shop.env.acct.alice, "value": PRICE})
    except Exception as exc:  # the revert we asked for
        data = abi.revert_data(exc)

    reason = explain_revert_data(data="0x" + data.hex(), currency=shop.eth)

    assert reason.startswith("The price went up from 0.000000000000000001 ETH to 0.01 ETH")
    assert _code(lambda: explain_revert_data(data="nothex")) == "bad_revert_data"


def test_chain_params_name_the_network_and_only_a_loopback_rpc_url(shop, settings):
    params = chain_params(shop.network)

    assert params["chainId"] == hex(shop.env.chain_id)
    assert params["rpcUrls"] == [shop.env.node_url]  # 127.0.0.1: the local anvil
    assert params["nativeCurrency"] == {"name": "ETH", "symbol": "ETH", "decimals": 18}
    settings.CHAIN_RPC_URLS = {"anvil": "https://mainnet.example/v3/secret-key"}
    assert chain_params(shop.network)["rpcUrls"] == []
