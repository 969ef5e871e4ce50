"""The buy page and its JSON endpoints through Django's test client (the chain is ``shop``'s
anvil): the page without JavaScript, CSRF on the prepare post, the error shape."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from chain.testing.market import LICENSE_NATIVE, PASS_TOKEN, SHARES
from models_hub.models import AIModel


@pytest.fixture
def listed(shop):
    AIModel.objects.filter(pk=shop.offers[LICENSE_NATIVE].model_id).update(listed=True)
    return shop


def _prepare(client, offer, body, **headers):
    url = reverse("market:buy-prepare", args=[offer.pk])
    return client.post(url, data=body, content_type="application/json", **headers)


def test_the_buy_page_shows_the_offer_its_price_terms_and_network_without_javascript(
    client, listed
):
    offer = listed.offers[LICENSE_NATIVE]

    response = client.get(reverse("market:buy", args=[offer.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Monthly" in page
    assert "0.01 ETH" in page
    assert "30 days per unit" in page
    assert f"chain id {listed.network.chain_id}" in page
    assert listed.terms.content_hash in page  # the terms hash on chain
    assert "Worldwide." in page  # the terms in plain words
    assert "turn\n      JavaScript on" in page  # what to do without a script
    assert '<script type="module" src="/static/js/buy.js"></script>' in page
    assert "onclick" not in page
    assert 'style="' not in page
    chain = json.loads(page.split('id="buy-chain" type="application/json">')[1].split("<")[0])
    assert chain["chainId"] == hex(listed.network.chain_id)
    assert response.cookies["csrftoken"].value


def test_a_pass_in_an_erc20_says_it_is_approved_first(client, listed):
    response = client.get(reverse("market:buy", args=[listed.offers[PASS_TOKEN].pk]))

    assert "5 TUSD" in response.content.decode()
    assert "in TUSD, after approving that amount" in response.content.decode()


def test_shares_have_a_page_that_says_they_are_not_sold(client, listed):
    response = client.get(reverse("market:buy", args=[listed.offers[SHARES].pk]))

    assert response.status_code == 200
    assert "Ownership shares are not sold here" in response.content.decode()
    assert 'id="buy-form"' not in response.content.decode()


def test_an_unlisted_models_offer_is_not_found(client, shop):
    response = client.get(reverse("market:buy", args=[shop.offers[LICENSE_NATIVE].pk]))

    assert response.status_code == 404


def test_prepare_answers_the_transactions_and_a_summary(client, listed):
    alice = listed.env.acct.alice
    offer = listed.offers[LICENSE_NATIVE]

    response = _prepare(client, offer, {"buyer": alice, "amount": 2})

    assert response.status_code == 200
    body = response.json()
    (tx,) = body["transactions"]
    assert set(tx) == {"from", "to", "data", "value", "chainId", "label", "step"}
    assert tx["value"] == hex(2 * 10**16)
    assert body["summary"]["total"] == "0.02 ETH"
    assert body["summary"]["gets"] == "The Monthly license for 60 days."


def test_prepare_refusals_have_the_one_error_shape(client, listed):
    offer = listed.offers[LICENSE_NATIVE]

    response = _prepare(client, offer, {"buyer": "0x" + "00" * 20})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "bad_buyer_address"
    assert body["details"] == [
        {"field": "buyer", "code": "bad_buyer_address", "message": body["message"]}
    ]
    assert _prepare(client, offer, "not json").json()["code"] == "bad_request"
    assert _prepare(client, offer, [1, 2]).status_code == 400
    shares = _prepare(client, listed.offers[SHARES], {"buyer": listed.env.acct.alice})
    assert (shares.status_code, shares.json()["code"]) == (409, "wrong_kind")


def test_prepare_needs_the_csrf_token(listed):
    client = Client(enforce_csrf_checks=True)
    offer = listed.offers[LICENSE_NATIVE]
    body = {"buyer": listed.env.acct.alice}

    refused = _prepare(client, offer, body)
    token = client.get(reverse("market:buy", args=[offer.pk])).cookies["csrftoken"].value
    accepted = _prepare(client, offer, body, HTTP_X_CSRFTOKEN=token)

    assert refused.status_code == 403
    assert accepted.status_code == 200


def test_prepare_answers_only_posts(client, listed):
    url = reverse("market:buy-prepare", args=[listed.offers[LICENSE_NATIVE].pk])

    assert client.get(url).status_code == 405


def test_status_follows_a_transaction_and_refuses_a_bad_hash(client, listed):
    env, alice = listed.env, listed.env.acct.alice
    offer = listed.offers[LICENSE_NATIVE]
    tx = _prepare(client, offer, {"buyer": alice}).json()["transactions"][0]
    sent = {key: tx[key] for key in ("from", "to", "data", "value", "chainId")}
    tx_hash = env.w3.provider.make_request("eth_sendTransaction", [sent])["result"]
    url = reverse("market:buy-status", args=[offer.pk])

    mined = client.get(url, {"tx": tx_hash}).json()
    listed.sync()
    confirmed = client.get(url, {"tx": tx_hash}).json()
    bad = client.get(url, {"tx": "0x1"})

    assert mined["status"] == "mined"
    assert confirmed["status"] == "confirmed"
    assert confirmed["tx"] == tx_hash
    assert (bad.status_code, bad.json()["code"]) == (422, "bad_tx_hash")


def test_explain_reads_revert_data_in_words(client, listed):
    offer = listed.offers[LICENSE_NATIVE]
    url = reverse("market:buy-explain", args=[offer.pk])
    # OfferInactive(uint256 id = 1)
    data = "0x" + _selector("OfferInactive(uint256)") + (1).to_bytes(32, "big").hex()

    answer = client.get(url, {"data": data})

    assert answer.json() == {"reason": "Offer 1 is no longer on sale."}
    assert client.get(url, {"data": "zz"}).json()["code"] == "bad_revert_data"


def _selector(signature: str) -> str:
    from eth_utils import function_signature_to_4byte_selector

    return function_signature_to_4byte_selector(signature).hex()
