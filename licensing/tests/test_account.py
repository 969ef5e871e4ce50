"""My account (``licensing/account.py``, ``licensing/account_views.py``) on database rows as the
projections write them: a user sees their own wallets' things and never another user's, the
page needs a sign-in, empty states, statuses, the renew link, paging, and fixed query costs."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialAccount
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address

from chain.choices import OfferKind
from licensing import account
from licensing.models import CreditEntry, License, Sale
from licensing.tests.factories import TOKEN_ADDRESS, event_row
from licensing.tests.marketplace import DAY, ETH, USDC, market_setup, model_for_sale, sell

URL = "/account/"
ZERO = "0x" + "0" * 40


def _wallet() -> str:
    return to_checksum_address("0x" + secrets.token_hex(20))


def _customer(django_user_model, name: str, wallets: int = 1):
    user = django_user_model.objects.create_user(username=name, email=f"{name}@example.com")
    addresses = [_wallet() for _ in range(wallets)]
    for address in addresses:
        SocialAccount.objects.create(user=user, provider="siwe", uid=address)
    return user, addresses


@pytest.fixture
def shelf(db, org_a):
    m = market_setup()
    model = model_for_sale(org_a, "Churn classifier")
    hidden = model_for_sale(org_a, "Stranger-LEAK model")
    return {
        "m": m,
        "license": sell(m, model, OfferKind.LICENSE, tier="Monthly", duration=30 * DAY),
        "perpetual": sell(m, model, OfferKind.LICENSE, tier="Forever"),
        "pass": sell(m, model, OfferKind.ACCESS_PASS, tier="Week pass", price=5 * USDC,
                     currency=m.usdc, duration=7 * DAY),
        "credits": sell(m, model, OfferKind.CREDITS, tier="Credits pack"),
        "leak": sell(m, hidden, OfferKind.LICENSE, tier="Leak tier", duration=30 * DAY),
    }  # fmt: skip


def _license(offer, holder: str, expires_at: int, *, revoked: bool = False) -> License:
    return License.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=holder,
        expires_at=expires_at,
        revoked=revoked,
        block_number=7,
    )


def _credits(offer, holder: str, delta: int) -> CreditEntry:
    return CreditEntry.objects.create(
        event=event_row(offer.network, "TransferSingle"),
        network=offer.network,
        token_id=offer.token_id,
        holder=holder,
        delta=delta,
    )


def _sale(offer, buyer: str, *, paid: int, currency: str = ZERO, when=None, block=7) -> Sale:
    return Sale.objects.create(
        event=event_row(offer.network, "Purchased", block_number=block),
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        model_id="0x" + "ab" * 32,
        buyer=buyer,
        amount=1,
        paid=paid,
        currency=currency,
        sold_at=when or datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )


def _now() -> int:
    return int(timezone.now().timestamp())


# --- sign-in ---


def test_the_page_needs_a_sign_in_and_sends_to_the_wallet_sign_in(client, db):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('siwe_login')}?next=/account/"
    assert reverse("customer_account") == URL


def test_the_withdraw_endpoints_answer_401_signed_out(client, db):
    prepare = client.post(reverse("customer_withdraw_prepare"), "{}", "application/json")
    status = client.get(reverse("customer_withdraw_status"), {"currency": 1, "tx": "0x"})

    for response in (prepare, status):
        assert response.status_code == 401
        assert response.json()["code"] == "unauthenticated"


# --- empty states ---


def test_a_user_without_wallets_sees_empty_states_and_the_link_to_add_one(
    client, django_user_model
):
    user, _ = _customer(django_user_model, "nowallet", wallets=0)
    client.force_login(user)

    response = client.get(URL)

    assert response.status_code == 200
    text = response.content.decode()
    assert "No wallet is linked to this sign-in yet." in text
    assert "hold no license or access pass yet" in text
    assert "No usage credits." in text
    assert "Nothing to withdraw" in text
    assert "No purchases by your wallets yet." in text
    assert f"{reverse('siwe_login')}?process=connect&amp;next=/account/" in text
    assert reverse("socialaccount_connections") in text


# --- what the user sees ---


def test_a_user_sees_every_wallet_of_theirs_and_nothing_of_another_user(
    client, django_user_model, shelf
):
    # given a customer with two wallets, and a stranger holding and buying other things
    user, (first, second) = _customer(django_user_model, "customer", wallets=2)
    _stranger, (theirs,) = _customer(django_user_model, "stranger")
    now = _now()
    _license(shelf["license"], first, now + 20 * DAY)
    _license(shelf["pass"], second, now + 3 * DAY)
    _credits(shelf["credits"], second, 100)
    _credits(shelf["credits"], second, -30)
    _sale(shelf["license"], first, paid=ETH // 100)
    _license(shelf["leak"], theirs, now + 20 * DAY)
    _credits(shelf["credits"], theirs, 424_242)
    _sale(shelf["leak"], theirs, paid=7 * ETH)
    client.force_login(user)

    # when they open My account
    response = client.get(URL)
    text = response.content.decode()

    # then both wallets, in full, and their wallets' license, pass, credits and purchase
    assert f'<code class="address">{first}</code>' in text
    assert f'<code class="address">{second}</code>' in text
    view = response.context["view"]
    assert [(row.tier, row.holder) for row in view.licenses] == [
        ("Monthly", first),
        ("Week pass", second),
    ]
    assert [(c.holder, c.bought, c.used, c.balance) for c in view.credits] == [
        (second, 100, 30, 70)
    ]
    (line,) = view.purchases.object_list
    assert (line.buyer, line.model_name, line.tier, line.paid) == (
        first,
        "Churn classifier",
        "Monthly",
        "0.01 ETH",
    )
    # and nothing of the stranger's
    assert "LEAK" not in text
    assert theirs not in text
    assert "424242" not in text


def test_statuses_expiry_and_the_renew_link(client, django_user_model, shelf):
    user, (wallet,) = _customer(django_user_model, "statuses")
    now = _now()
    _license(shelf["license"], wallet, now + 20 * DAY)
    _license(shelf["pass"], wallet, now + 2 * DAY)
    _license(shelf["perpetual"], wallet, 0)
    _license(shelf["leak"], wallet, now - DAY)
    client.force_login(user)

    view = client.get(URL).context["view"]

    by_tier = {row.tier: row for row in view.licenses}
    assert by_tier["Monthly"].status == "active"
    assert by_tier["Week pass"].status == "expires soon"
    assert by_tier["Forever"].status == "active"
    assert by_tier["Forever"].expires_at is None
    assert by_tier["Leak tier"].status == "expired"
    # timed offers of a listed model renew through their buy page; a perpetual one does not
    assert by_tier["Monthly"].renew_offer_id == shelf["license"].pk
    assert by_tier["Week pass"].renew_offer_id == shelf["pass"].pk
    assert by_tier["Forever"].renew_offer_id is None
    text = client.get(URL).content.decode()
    assert reverse("market:buy", args=[shelf["license"].pk]) in text
    assert reverse("market:buy", args=[shelf["perpetual"].pk]) not in text
    assert "Perpetual" in text


def test_a_revoked_license_says_so(django_user_model, shelf):
    _user, (wallet,) = _customer(django_user_model, "revoked")
    _license(shelf["license"], wallet, _now() + 20 * DAY, revoked=True)

    (row,) = account.licenses_held(wallets=[wallet])

    assert row.status == "revoked"


def test_a_lower_case_uid_still_matches_the_checksummed_projections(django_user_model, shelf):
    user = django_user_model.objects.create_user(username="lower", email="lower@example.com")
    wallet = _wallet()
    SocialAccount.objects.create(user=user, provider="siwe", uid=wallet.lower())
    SocialAccount.objects.create(user=user, provider="google", uid="not-a-wallet")
    _license(shelf["license"], wallet, _now() + DAY)

    assert account.wallets_of(user=user) == [wallet]
    assert len(account.licenses_held(wallets=account.wallets_of(user=user))) == 1


# --- purchases: newest first, paged ---


def test_purchases_are_newest_first_and_paged(client, django_user_model, shelf, settings):
    settings.ACCOUNT_PAGE_SIZE = 2
    user, (wallet,) = _customer(django_user_model, "pager")
    shelf["m"].mainnet.explorer_url = "https://explorer.example"
    shelf["m"].mainnet.save()
    days = [datetime(2026, 1, day, tzinfo=UTC) for day in (3, 1, 2)]
    for day in days:
        _sale(shelf["pass"], wallet, paid=5 * USDC, currency=shelf["m"].usdc.address, when=day)
    client.force_login(user)

    first = client.get(URL)
    second = client.get(URL, {"page": 2})

    dates = [line.sold_at.day for line in first.context["view"].purchases.object_list]
    assert dates == [3, 2]
    (last,) = second.context["view"].purchases.object_list
    assert last.sold_at.day == 1
    assert last.paid == "5 USDC"
    assert last.explorer_url == f"https://explorer.example/tx/{last.tx_hash}"
    text = first.content.decode()
    assert 'href="?page=2#purchases"' in text
    assert f'href="https://explorer.example/tx/{last.tx_hash}"' in second.content.decode()
    # a page past the end is the last page, not an error
    assert client.get(URL, {"page": "99"}).status_code == 200
    assert client.get(URL, {"page": "nope"}).status_code == 200


# --- fixed costs ---


def _fill(shelf, wallet: str, count: int) -> None:
    now = _now()
    for number in range(count):
        offer = sell(shelf["m"], shelf["license"].model, OfferKind.LICENSE, duration=30 * DAY)
        credits = sell(shelf["m"], shelf["license"].model, OfferKind.CREDITS)
        _license(offer, wallet, now + (number + 1) * DAY)
        _credits(credits, wallet, 10)
        _sale(offer, wallet, paid=ETH, block=number + 10)


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL)
    assert response.status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_with_more_licenses_credits_and_purchases(
    client, django_user_model, shelf
):
    user, (wallet,) = _customer(django_user_model, "counted")
    client.force_login(user)
    _fill(shelf, wallet, 1)
    few = _queries(client)

    _fill(shelf, wallet, 6)
    many = _queries(client)

    assert client.get(URL).context["view"].purchases.paginator.count == 7
    assert few == many


def test_the_account_templates_have_no_inline_script_style_or_handler():
    root = Path(__file__).resolve().parents[2] / "templates" / "customer"
    templates = sorted(root.glob("*.html"))
    assert templates
    for template in templates:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", text), template


def test_the_page_is_sent_with_the_content_security_policy(client, django_user_model):
    user, _ = _customer(django_user_model, "csp")
    client.force_login(user)

    response = client.get(URL)

    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["Cache-Control"].startswith("max-age=0")
