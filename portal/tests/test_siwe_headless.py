"""API clients sign in with a wallet through allauth's headless API: a nonce from
``/_allauth/{client}/v1/auth/siwe/nonce``, then allauth's provider-token endpoint."""

from __future__ import annotations

import pytest
from allauth.socialaccount.models import SocialAccount
from django.core.cache import cache

from chain.models import Network
from portal.tests.siwe_kit import Wallet

CHAIN_ID = 31337
APP = "/_allauth/app/v1"
BROWSER = "/_allauth/browser/v1"


@pytest.fixture(autouse=True)
def network(db):
    cache.clear()
    return Network.objects.create(name="siwe-headless", chain_id=CHAIN_ID, confirmation_depth=1)


def _token(client, base, message, signature, headers=None, process="login"):
    body = {
        "provider": "siwe",
        "process": process,
        "token": {"id_token": message, "signature": signature},
    }
    return client.post(
        f"{base}/auth/provider/token", body, content_type="application/json", headers=headers or {}
    )


def test_an_app_signs_in_with_a_session_token(client):
    wallet = Wallet()
    issued = client.post(
        f"{APP}/auth/siwe/nonce",
        {"chain_id": CHAIN_ID, "address": wallet.address},
        content_type="application/json",
    )
    assert issued.status_code == 200, issued.content
    body = issued.json()
    session = {"X-Session-Token": body["meta"]["session_token"]}
    message = body["data"]["message"]

    response = _token(client.__class__(), APP, message, wallet.sign(message), session)

    assert response.status_code == 200, response.content
    signed_in = response.json()
    assert signed_in["meta"]["is_authenticated"] is True
    assert signed_in["data"]["user"]["username"] == wallet.address.lower()
    assert SocialAccount.objects.get(provider="siwe").uid == wallet.address


def test_an_app_without_the_nonces_session_is_refused(client):
    wallet = Wallet()
    body = client.post(
        f"{APP}/auth/siwe/nonce",
        {"chain_id": CHAIN_ID, "address": wallet.address},
        content_type="application/json",
    ).json()
    message = body["data"]["message"]

    response = _token(client, APP, message, wallet.sign(message))  # no X-Session-Token

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "siwe_nonce_other_session"
    assert not SocialAccount.objects.exists()


def test_a_browser_client_signs_in_with_its_cookie(client):
    wallet = Wallet()
    body = client.post(
        f"{BROWSER}/auth/siwe/nonce",
        {"chain_id": CHAIN_ID, "address": wallet.address},
        content_type="application/json",
    ).json()
    message = body["data"]["message"]
    assert "session_token" not in body["meta"]

    bad = _token(client, BROWSER, message, Wallet().sign(message))
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "siwe_bad_signature"

    body = client.post(
        f"{BROWSER}/auth/siwe/nonce",
        {"chain_id": CHAIN_ID, "address": wallet.address},
        content_type="application/json",
    ).json()
    message = body["data"]["message"]
    response = _token(client, BROWSER, message, wallet.sign(message))
    assert response.status_code == 200, response.content
    assert response.json()["meta"]["is_authenticated"] is True


@pytest.mark.parametrize(
    "body",
    [b"", b"[]", b'{"chain_id": "1"}', b'{"chain_id": true}', b"not json", b'{"chain_id": 1}'],
)
def test_a_bad_nonce_request_is_a_4xx(client, body):
    response = client.post(f"{APP}/auth/siwe/nonce", body, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["code"] in ("bad_request", "siwe_unsupported_chain")
