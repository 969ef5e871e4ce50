"""Revenue on My account and the withdraw service (``licensing.services.withdraw``) on anvil:
a share holder's and a payee's withdrawable balances read from the vault, the prepared call
is ``RevenueVault.withdraw(currency)`` from the holder, each refusal has its code, and the
status follows the withdrawal to confirmed after the sync (the balance then reads zero)."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.urls import reverse

from chain.models import Network
from chain.testing.devnode import free_port
from chain.testing.market import LICENSE_NATIVE, SHARES
from licensing import account
from licensing.amounts import format_amount
from licensing.models import Currency, VaultEntry
from licensing.services.withdraw import withdraw_prepare, withdraw_status
from portal.errors import DomainError

PRICE = 10**16


@pytest.fixture
def earning(shop, django_user_model):
    """Alice holds all of the model's shares, carol is its 10% payee, bob bought a license."""
    env, a = shop.env, shop.env.acct
    env.send(env.token.functions.mintShares(SHARES, [a.alice], [100]), a.publisher)
    env.send(env.token.functions.purchase(LICENSE_NATIVE, 1, PRICE), a.bob, value=PRICE)
    shop.sync()
    user = django_user_model.objects.create_user(username="alice", email="alice@example.com")
    SocialAccount.objects.create(user=user, provider="siwe", uid=a.alice)
    return shop, user


def _owed(env, account_address: str) -> int:
    return env.vault.functions.withdrawable(account_address, "0x" + "0" * 40).call()


def _bad_checksum(address: str) -> str:
    """``address`` with the case of its first letter flipped: a wrong EIP-55 checksum."""
    index = next(i for i, c in enumerate(address) if i > 1 and c.isalpha())
    return address[:index] + address[index].swapcase() + address[index + 1 :]


def _code(call) -> str:
    with pytest.raises(DomainError) as info:
        call()
    return info.value.code


def test_revenue_lists_what_a_share_holder_can_withdraw_from_the_vault(earning):
    shop, user = earning
    owed = _owed(shop.env, shop.env.acct.alice)
    assert owed > 0

    revenue = account.revenue_of(wallets=account.wallets_of(user=user))

    (line,) = revenue.lines
    assert (line.account, line.currency, line.withdrawable) == (shop.env.acct.alice, shop.eth, owed)
    assert line.roles == ("share holder of Churn classifier",)
    assert line.can_withdraw
    assert revenue.unreachable == []


def test_a_payee_sees_its_part_as_a_payee(earning):
    shop, _user = earning
    carol = shop.env.acct.carol

    (line,) = account.revenue_of(wallets=[carol]).lines

    assert line.roles == ("payee",)
    assert line.withdrawable == _owed(shop.env, carol) == PRICE // 10


def test_the_prepared_call_is_withdraw_of_the_currency_from_the_holder(earning):
    shop, user = earning
    alice = shop.env.acct.alice

    prepared = withdraw_prepare(user=user, account=alice.lower(), currency=shop.eth.pk)

    tx = prepared.as_json()["transaction"]
    assert tx["from"] == alice
    assert tx["to"] == shop.env.vault.address
    assert (tx["value"], tx["chainId"]) == ("0x0", hex(shop.network.chain_id))
    function, args = shop.env.vault.decode_function_input(tx["data"])
    assert function.fn_name == "withdraw"
    assert args == {"currency": "0x" + "0" * 40}
    assert prepared.amount == _owed(shop.env, alice)
    assert prepared.as_json()["summary"]["label"].startswith("Withdraw 0.00")


def test_each_refusal_has_its_code(earning, settings):
    shop, user = earning
    alice, bob = shop.env.acct.alice, shop.env.acct.bob

    def prepare(**changes):
        values = {"user": user, "account": alice, "currency": shop.eth.pk, **changes}
        return lambda: withdraw_prepare(**values)

    assert _code(prepare(account="nope")) == "bad_withdraw_account"
    assert _code(prepare(account=_bad_checksum(alice))) == "bad_withdraw_account"
    assert _code(prepare(account=None)) == "bad_withdraw_account"
    assert _code(prepare(account=bob)) == "not_your_wallet"
    assert _code(prepare(currency="ETH")) == "unknown_currency"
    assert _code(prepare(currency=999_999)) == "unknown_currency"
    assert _code(prepare(currency=True)) == "unknown_currency"
    assert _code(prepare(currency=shop.usd.pk)) == "nothing_to_withdraw"
    elsewhere = Network.objects.create(name="novault", chain_id=4242, confirmation_depth=1)
    no_vault = Currency.objects.create(network=elsewhere, symbol="NV", address="", decimals=18)
    assert _code(prepare(currency=no_vault.pk)) == "no_vault"
    settings.CHAIN_RPC_URLS = {"anvil": f"http://127.0.0.1:{free_port()}"}
    assert _code(prepare()) == "vault_node_unavailable"


def test_the_endpoints_answer_the_error_shape(earning, client):
    shop, user = earning
    client.force_login(user)
    url = reverse("customer_withdraw_prepare")

    not_json = client.post(url, "{", "application/json")
    not_mine = client.post(
        url, {"account": shop.env.acct.bob, "currency": shop.eth.pk}, "application/json"
    )
    bad_hash = client.get(reverse("customer_withdraw_status"), {"currency": shop.eth.pk, "tx": "x"})

    assert (not_json.status_code, not_json.json()["code"]) == (400, "bad_request")
    assert (not_mine.status_code, not_mine.json()["code"]) == (403, "not_your_wallet")
    assert not_mine.json()["details"][0]["field"] == "account"
    assert (bad_hash.status_code, bad_hash.json()["code"]) == (422, "bad_tx_hash")


def test_a_withdrawal_is_mined_then_confirmed_after_the_sync_and_the_balance_is_zero(
    earning, client
):
    shop, user = earning
    env, alice = shop.env, shop.env.acct.alice
    owed = _owed(env, alice)
    client.force_login(user)
    answer = client.post(
        reverse("customer_withdraw_prepare"),
        {"account": alice, "currency": shop.eth.pk},
        "application/json",
    )
    tx = answer.json()["transaction"]

    # when the wallet sends it (anvil's unlocked account signs)
    sent = env.w3.eth.send_transaction(
        {"from": tx["from"], "to": tx["to"], "data": tx["data"], "value": 0}
    )
    tx_hash = "0x" + bytes(sent).hex()

    # then it is mined, and confirmed once the sync has seen it, with nothing left to withdraw
    mined = withdraw_status(user=user, currency=shop.eth.pk, tx_hash=tx_hash, account=alice)
    assert mined.progress.state == "mined"
    shop.sync()
    status = client.get(
        reverse("customer_withdraw_status"),
        {"currency": shop.eth.pk, "tx": tx_hash, "account": alice},
    ).json()
    assert status["status"] == "confirmed"
    assert status["withdrawable"] == "0 ETH"
    assert status["withdrawn"] == format_amount(owed, shop.eth)
    withdrawn = VaultEntry.objects.get(account=alice, kind="withdrawn")
    assert int(withdrawn.amount) == owed
    (line,) = account.revenue_of(wallets=[alice]).lines
    assert (line.withdrawable, line.withdrawn, line.can_withdraw) == (0, owed, False)
    assert _code(lambda: withdraw_prepare(user=user, account=alice, currency=shop.eth.pk)) == (
        "nothing_to_withdraw"
    )


def test_revenue_says_when_the_node_cannot_be_reached(earning, settings):
    _shop, user = earning
    settings.CHAIN_RPC_URLS = {"anvil": f"http://127.0.0.1:{free_port()}"}

    revenue = account.revenue_of(wallets=account.wallets_of(user=user))

    assert revenue.unreachable == ["anvil"]
    # alice earns as a share holder: her lines are shown, each currency unknown
    assert [line.withdrawable for line in revenue.lines] == [None, None]
    texts = sorted(line.withdrawable_text for line in revenue.lines)
    assert texts == [
        "ETH: unknown (the node cannot be reached)",
        "TUSD: unknown (the node cannot be reached)",
    ]
    assert not any(line.can_withdraw for line in revenue.lines)
