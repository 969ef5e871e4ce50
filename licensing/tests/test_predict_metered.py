"""The predict API gated and metered, end to end on anvil: a license lets its holder predict
(receipted, nothing charged), credits are reserved and consumed per row, too few credits is a
402 before any charge, an Idempotency-Key retry answers the first answer and charges nothing
more, and a caller without a right is refused."""

from __future__ import annotations

import json

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from sklearn.datasets import load_iris

from chain.testing.market import CREDITS, LICENSE_NATIVE
from licensing import entitlement
from licensing.models import CreditAccount, UsageReceipt
from licensing.tests.publishing_setup import published_version
from models_hub.models import AIModel
from portal.services import customer_api_key_create

LICENSE_PRICE = 10**16  # the shop's monthly license
CREDIT_PRICE = 10**12  # one credit


@pytest.fixture
def served(shop, settings):
    """The shop's model listed with a published version, the URL of its predict endpoint."""
    settings.ENTITLEMENT_CACHE_SECONDS = 0  # every call reads what the test just synced
    entitlement.invalidate()
    model = shop.offers[LICENSE_NATIVE].model
    AIModel.objects.filter(pk=model.pk).update(listed=True)
    version = published_version(model)
    url = f"/api/models/{model.organization.slug}/{model.slug}/versions/{version.version}/predict"
    return url


def _key_for(wallet: str) -> str:
    user = get_user_model().objects.create_user(username=wallet.lower())
    SocialAccount.objects.create(user=user, provider="siwe", uid=wallet)
    return customer_api_key_create(owner=user, name="test").raw_key


def _rows(n: int) -> list:
    return load_iris().data[:n].tolist()


def _predict(client, url, key, rows, **headers):
    return client.post(
        url,
        json.dumps({"rows": rows}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}", **headers},
    )


def _buy(shop, buyer, offer, amount, price):
    env = shop.env
    env.send(env.token.functions.purchase(offer, amount, price), buyer, value=price * amount)
    shop.sync()


def _available(shop, holder) -> int:
    account = CreditAccount.objects.get(network=shop.network, token_id=CREDITS, holder=holder)
    return account.available


def test_a_license_holder_predicts_receipted_and_uncharged(client, shop, served):
    carol = shop.env.acct.carol
    _buy(shop, carol, LICENSE_NATIVE, 1, LICENSE_PRICE)

    response = _predict(client, served, _key_for(carol), _rows(3))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["units_charged"] == 0
    assert len(body["predictions"]) == 3
    receipt = UsageReceipt.objects.get()
    assert (receipt.holder, int(receipt.token_id), receipt.units) == (carol, LICENSE_NATIVE, 3)


def test_the_terms_usage_quota_is_enforced_per_period(client, shop, served):
    from licensing.models import LicenseTerms

    carol = shop.env.acct.carol
    _buy(shop, carol, LICENSE_NATIVE, 1, LICENSE_PRICE)
    LicenseTerms.objects.filter(pk=shop.terms.pk).update(usage_quota=5, usage_quota_period="day")
    entitlement.invalidate()
    key = _key_for(carol)

    assert _predict(client, served, key, _rows(3)).status_code == 200
    over = _predict(client, served, key, _rows(3))
    assert over.status_code == 429
    assert over.json()["code"] == "quota_exceeded"
    assert "5 units a day; 2 are left today" in over.json()["message"]
    assert _predict(client, served, key, _rows(2)).status_code == 200
    assert sum(UsageReceipt.objects.values_list("units", flat=True)) == 5


def test_credits_are_charged_per_row_and_never_overdrawn(client, shop, served):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 5, CREDIT_PRICE)
    key = _key_for(dave)
    assert _available(shop, dave) == 5

    ok = _predict(client, served, key, _rows(3))
    assert ok.status_code == 200, ok.content
    assert ok.json()["units_charged"] == 3
    assert _available(shop, dave) == 2

    refused = _predict(client, served, key, _rows(3))
    assert refused.status_code == 402
    assert refused.json()["code"] == "insufficient_credits"
    assert _available(shop, dave) == 2  # nothing charged
    assert UsageReceipt.objects.filter(holder=dave).count() == 1


def test_an_idempotency_key_charges_once(client, shop, served):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 5, CREDIT_PRICE)
    key = _key_for(dave)

    first = _predict(client, served, key, _rows(1), **{"Idempotency-Key": "order-17"})
    again = _predict(client, served, key, _rows(1), **{"Idempotency-Key": "order-17"})
    other = _predict(client, served, key, _rows(2), **{"Idempotency-Key": "order-17"})

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert _available(shop, dave) == 4
    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"


def test_a_caller_without_a_right_is_refused_before_any_charge(client, shop, served):
    response = _predict(client, served, _key_for(shop.env.acct.outsider), _rows(2))

    assert response.status_code == 403
    assert response.json()["code"] == "no_license"
    assert not UsageReceipt.objects.exists()


def test_bad_rows_are_refused_before_the_gate(client, shop, served):
    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 5, CREDIT_PRICE)

    response = _predict(client, served, _key_for(dave), [[1.0, "x", 3.0, 4.0]])

    assert response.status_code == 422
    assert response.json()["code"] == "not_numeric"
    assert _available(shop, dave) == 5


# --- concurrency, through the live server ---


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_calls_against_ten_credits(live_server, shop, served):
    """20 one-row predict calls at once, each its own HTTP request to the live server (its own
    thread and database connection), against 10 credits: exactly 10 answer 200, 10 answer 402,
    and the ledger balances."""
    import threading

    import requests

    dave = shop.env.acct.dave
    _buy(shop, dave, CREDITS, 10, CREDIT_PRICE)
    key = _key_for(dave)
    body = json.dumps({"rows": _rows(1)})
    start = threading.Barrier(20)
    statuses: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        start.wait()
        response = requests.post(
            live_server.url + served,
            data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=60,
        )
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [200] * 10 + [402] * 10
    account = CreditAccount.objects.get(network=shop.network, token_id=CREDITS, holder=dave)
    assert (account.available, account.reserved, account.unsettled) == (0, 0, 10)
    assert UsageReceipt.objects.filter(holder=dave).count() == 10
