"""Sign-In with Ethereum through the browser's endpoints: the flow, and every rejection its own
stable code (a 4xx, never a 500)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chain.models import Network
from portal.siwe.models import SiweNonce
from portal.tests.siwe_kit import Wallet, challenge, iso, message_from, sign_in, verify

CHAIN_ID = 31337


@pytest.fixture(autouse=True)
def network(db):
    cache.clear()  # rate limit counters
    return Network.objects.create(name="siwe-local", chain_id=CHAIN_ID, confirmation_depth=1)


@pytest.fixture
def wallet():
    return Wallet()


def _fields(client, wallet):
    response = challenge(client, CHAIN_ID, wallet.address)
    assert response.status_code == 200, response.content
    return response.json()


def _rejected(response, code: str, status: int) -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]


# --- the flow ---


def test_a_first_sign_in_creates_the_user_and_its_wallet_and_rotates_the_session(client, wallet):
    fields = _fields(client, wallet)
    before = client.session.session_key
    assert fields["domain"] == "testserver"
    assert fields["uri"] == "http://testserver/"
    assert fields["chain_id"] == CHAIN_ID
    assert f"Nonce: {fields['nonce']}" in fields["message"]
    assert f"Expiration Time: {fields['expiration_time']}" in fields["message"]

    response = verify(client, fields["message"], wallet.sign(fields["message"]))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "address": wallet.address,
        "username": wallet.address.lower(),
        "created": True,
        "connected": False,
        "redirect": "/",
    }
    account = SocialAccount.objects.get(provider="siwe")
    assert account.uid == wallet.address
    assert account.extra_data == {"chain_id": CHAIN_ID, "contract_wallet": False}
    assert not account.user.has_usable_password()
    assert not account.user.is_staff
    assert client.session.session_key != before
    assert str(client.session["_auth_user_id"]) == str(account.user.pk)


def test_signing_in_again_finds_the_same_user(client, wallet):
    assert sign_in(client, wallet, CHAIN_ID).json()["created"] is True
    client.logout()

    response = sign_in(client, wallet, CHAIN_ID)

    assert response.json()["created"] is False
    assert get_user_model().objects.count() == 1
    assert SocialAccount.objects.count() == 1


def test_next_goes_back_where_the_user_was_but_never_off_site(client, wallet):
    assert sign_in(client, wallet, CHAIN_ID, next="/market/").json()["redirect"] == "/market/"
    client.logout()
    evil = sign_in(client, wallet, CHAIN_ID, next="https://evil.example/")
    assert evil.json()["redirect"] == "/"


# --- nonces ---


def test_a_replayed_nonce(client, wallet):
    fields = _fields(client, wallet)
    signature = wallet.sign(fields["message"])
    assert verify(client, fields["message"], signature).status_code == 200
    client.logout()  # a new session would not even know it: replay from the same one
    _rejected(verify(client, fields["message"], signature), "siwe_nonce_other_session", 401)


def test_a_nonce_used_once_in_its_session(client, wallet):
    fields = _fields(client, wallet)
    other = Wallet()
    # a failed attempt burns the nonce too
    bad = verify(client, fields["message"], other.sign(fields["message"]))
    _rejected(bad, "siwe_bad_signature", 401)

    _rejected(
        verify(client, fields["message"], wallet.sign(fields["message"])),
        "siwe_nonce_replayed",
        401,
    )


def test_an_unknown_nonce(client, wallet):
    fields = _fields(client, wallet)
    message = message_from(fields, wallet.address, nonce="neverIssued1234567")
    _rejected(verify(client, message, wallet.sign(message)), "siwe_nonce_unknown", 401)


def test_a_nonce_of_another_session(client, wallet):
    fields = _fields(client, wallet)
    thief = Client()
    response = verify(thief, fields["message"], wallet.sign(fields["message"]))
    _rejected(response, "siwe_nonce_other_session", 401)
    # and the owner's session can still use it
    assert verify(client, fields["message"], wallet.sign(fields["message"])).status_code == 200


def test_an_expired_nonce(client, wallet, settings):
    fields = _fields(client, wallet)
    SiweNonce.objects.filter(nonce=fields["nonce"]).update(
        issued_at=timezone.now() - timedelta(minutes=10),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    _rejected(
        verify(client, fields["message"], wallet.sign(fields["message"])), "siwe_nonce_expired", 401
    )


def test_a_nonce_is_short_lived_by_setting(client, wallet, settings):
    settings.SIWE_NONCE_TTL = 120
    fields = _fields(client, wallet)
    row = SiweNonce.objects.get(nonce=fields["nonce"])
    assert (row.expires_at - row.issued_at) == timedelta(seconds=120)
    assert iso(row.expires_at) == fields["expiration_time"]


def test_nonces_are_not_guessable(client):
    nonces = {_fields(client, Wallet())["nonce"] for _ in range(20)}
    assert len(nonces) == 20
    assert all(len(nonce) >= 17 and nonce.isalnum() for nonce in nonces)


# --- what the message names ---


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"domain": "evil.example"}, "siwe_domain_mismatch"),
        ({"uri": "http://evil.example/"}, "siwe_uri_mismatch"),
        ({"scheme": "https"}, "siwe_scheme_mismatch"),
        ({"chain_id": 1}, "siwe_chain_mismatch"),
    ],
    ids=["other-domain", "other-uri", "other-scheme", "other-chain"],
)
def test_a_message_for_somewhere_else(client, wallet, changes, code):
    fields = _fields(client, wallet)
    message = message_from(fields, wallet.address, **changes)
    _rejected(verify(client, message, wallet.sign(message)), code, 401)


def test_an_expired_message(client, wallet):
    fields = _fields(client, wallet)
    message = message_from(
        fields, wallet.address, expiration_time=iso(timezone.now() - timedelta(seconds=5))
    )
    _rejected(verify(client, message, wallet.sign(message)), "siwe_expired", 401)


def test_a_message_not_yet_valid(client, wallet):
    fields = _fields(client, wallet)
    message = message_from(
        fields, wallet.address, not_before=iso(timezone.now() + timedelta(minutes=2))
    )
    _rejected(verify(client, message, wallet.sign(message)), "siwe_not_yet_valid", 401)


@pytest.mark.parametrize(
    "shift", [timedelta(hours=-1), timedelta(hours=1)], ids=["stale", "future"]
)
def test_an_issued_at_outside_the_nonce_window(client, wallet, shift):
    fields = _fields(client, wallet)
    message = message_from(fields, wallet.address, issued_at=iso(timezone.now() + shift))
    _rejected(verify(client, message, wallet.sign(message)), "siwe_issued_at_invalid", 401)


def test_a_message_without_an_expiry_is_fine_within_the_nonce(client, wallet):
    fields = _fields(client, wallet)
    message = message_from(fields, wallet.address, expiration_time=None)
    assert verify(client, message, wallet.sign(message)).status_code == 200


# --- signatures and form ---


def test_a_signature_of_another_key(client, wallet):
    fields = _fields(client, wallet)
    forged = Wallet().sign(fields["message"])
    _rejected(verify(client, fields["message"], forged), "siwe_bad_signature", 401)


@pytest.mark.parametrize(
    "signature", ["0x", "0x1234", "0x" + "00" * 65, "nothex", "0x" + "zz" * 65]
)
def test_a_signature_that_is_not_one(client, wallet, signature):
    fields = _fields(client, wallet)
    _rejected(verify(client, fields["message"], signature), "siwe_bad_signature", 401)


def test_a_signature_of_another_message(client, wallet):
    fields = _fields(client, wallet)
    other = message_from(fields, wallet.address, statement="Pay 100 ETH.")
    _rejected(verify(client, fields["message"], wallet.sign(other)), "siwe_bad_signature", 401)


@pytest.mark.parametrize(
    "message",
    [
        "hello",
        "",
        "x" * 5000,
        "testserver wants you to sign in with your Ethereum account:\n0x12\n\nURI: http://testserver/",
    ],
    ids=["prose", "empty", "huge", "truncated"],
)
def test_a_malformed_message(client, wallet, message):
    _fields(client, wallet)
    response = verify(client, message, wallet.sign(message or "x"))
    assert response.status_code in (400, 422)
    assert response.json()["code"] in ("siwe_malformed_message", "validation_error")


def test_a_message_not_in_canonical_form(client, wallet):
    fields = _fields(client, wallet)
    message = fields["message"].replace("\nVersion: 1", "\nVersion:  1").replace("\n", "\r\n")
    _rejected(verify(client, message, wallet.sign(message)), "siwe_malformed_message", 400)


def test_an_address_not_eip55(client, wallet):
    fields = _fields(client, wallet)
    message = fields["message"].replace(wallet.address, wallet.address.lower())
    _rejected(verify(client, message, wallet.sign(message)), "siwe_address_not_eip55", 400)
    mangled = wallet.address[:2] + wallet.address[2:].swapcase()
    message = fields["message"].replace(wallet.address, mangled)
    _rejected(verify(client, message, wallet.sign(message)), "siwe_address_not_eip55", 400)


def test_a_nonce_request_takes_a_wallets_lowercase_address_and_checksums_it(client, wallet):
    # wallets hand pages lowercase addresses: the message to sign has the EIP-55 one
    fields = challenge(client, CHAIN_ID, wallet.address.lower()).json()
    assert f"\n{wallet.address}\n" in fields["message"]
    assert verify(client, fields["message"], wallet.sign(fields["message"])).status_code == 200


def test_a_nonce_request_with_a_wrong_checksum_or_no_address(client, wallet):
    mangled = wallet.address[:2] + wallet.address[2:].swapcase()
    if mangled[2:] not in (mangled[2:].lower(), mangled[2:].upper()):
        _rejected(challenge(client, CHAIN_ID, mangled), "siwe_address_not_eip55", 400)
    _rejected(challenge(client, CHAIN_ID, "0x1234"), "siwe_malformed_message", 400)


def test_a_nonce_for_a_chain_the_portal_does_not_have(client, wallet):
    _rejected(challenge(client, 999_999, wallet.address), "siwe_unsupported_chain", 400)
    Network.objects.filter(chain_id=CHAIN_ID).update(is_active=False)
    _rejected(challenge(client, CHAIN_ID, wallet.address), "siwe_unsupported_chain", 400)


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(message=st.text(max_size=600), signature=st.text(max_size=200))
def test_any_input_is_a_4xx_never_a_500(client, settings, message, signature):
    settings.SIWE_RATE_PER_CLIENT = settings.SIWE_RATE_PER_WALLET = "100000/m"
    response = verify(client, message, signature)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["code"]


# --- CSRF and rate limits ---


def test_the_endpoints_need_the_pages_csrf_token(wallet):
    browser = Client(enforce_csrf_checks=True)
    _rejected(challenge(browser, CHAIN_ID, wallet.address), "siwe_csrf_failed", 403)

    page = browser.get("/accounts/siwe/login/")
    token = page.cookies["csrftoken"].value
    response = browser.post(
        "/api/auth/siwe/nonce",
        {"chain_id": CHAIN_ID, "address": wallet.address},
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_nonces_are_rate_limited_per_client(client, settings):
    settings.SIWE_RATE_PER_CLIENT = "3/m"
    for _ in range(3):
        assert challenge(client, CHAIN_ID, Wallet().address).status_code == 200
    _rejected(challenge(client, CHAIN_ID, Wallet().address), "siwe_rate_limited", 429)
    # another client address still gets one
    assert challenge(Client(REMOTE_ADDR="10.0.0.9"), CHAIN_ID).status_code == 200


def test_sign_ins_are_rate_limited_per_wallet(wallet, settings):
    settings.SIWE_RATE_PER_WALLET = "2/m"
    for number in range(2):
        assert sign_in(Client(REMOTE_ADDR=f"10.0.1.{number}"), wallet, CHAIN_ID).status_code == 200
    response = challenge(Client(REMOTE_ADDR="10.0.1.9"), CHAIN_ID, wallet.address)
    _rejected(response, "siwe_rate_limited", 429)


# --- several wallets per user ---


def test_a_user_links_a_second_wallet_and_signs_in_with_either(client, wallet):
    sign_in(client, wallet, CHAIN_ID)
    second = Wallet()

    response = sign_in(client, second, CHAIN_ID, process="connect")

    assert response.status_code == 200, response.content
    assert response.json()["connected"] is True
    user = get_user_model().objects.get()
    assert set(SocialAccount.objects.filter(user=user).values_list("uid", flat=True)) == {
        wallet.address,
        second.address,
    }
    client.logout()
    assert sign_in(client, second, CHAIN_ID).json()["created"] is False
    assert get_user_model().objects.count() == 1


def test_linking_needs_a_signed_in_user(client, wallet):
    response = sign_in(client, wallet, CHAIN_ID, process="connect")
    _rejected(response, "siwe_connect_needs_sign_in", 401)


def test_a_wallet_of_another_user_cannot_be_linked(client, wallet):
    sign_in(Client(), wallet, CHAIN_ID)  # someone else's account
    sign_in(client, Wallet(), CHAIN_ID)

    _rejected(sign_in(client, wallet, CHAIN_ID, process="connect"), "siwe_wallet_taken", 409)


def test_unlinking_keeps_the_last_way_to_sign_in(client, wallet):
    sign_in(client, wallet, CHAIN_ID)
    second = Wallet()
    sign_in(client, second, CHAIN_ID, process="connect")
    first, other = SocialAccount.objects.order_by("pk")

    unlinked = client.post("/accounts/3rdparty/", {"account": first.pk})
    assert unlinked.status_code == 302
    assert list(SocialAccount.objects.values_list("uid", flat=True)) == [second.address]

    refused = client.post("/accounts/3rdparty/", {"account": other.pk})
    assert refused.status_code == 200  # the form again, with its error
    assert SocialAccount.objects.count() == 1


def test_staff_keep_password_sign_in(client, wallet, make_staff, org_a):
    staff = make_staff(org_a, "owner")
    client.force_login(staff)
    _rejected(sign_in(client, wallet, CHAIN_ID, process="connect"), "siwe_staff_wallet", 403)
    assert not SocialAccount.objects.exists()

    SocialAccount.objects.create(user=staff, provider="siwe", uid=wallet.address)
    client.logout()
    _rejected(sign_in(client, wallet, CHAIN_ID), "siwe_staff_wallet", 403)
    assert "_auth_user_id" not in client.session


def test_the_crypto_backend_is_coincurve():
    from eth_keys.backends import get_backend

    assert type(get_backend()).__name__ == "CoinCurveECCBackend"


# --- the fast reader agrees with the library's grammar ---


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    statement=st.one_of(
        st.none(), st.text(max_size=40), st.text(st.characters(max_codepoint=127), max_size=40)
    ),
    domain=st.sampled_from(["testserver", "a.example:8000", "xn--bcher-kva.example", "bad host"]),
    uri=st.sampled_from(
        [
            "http://testserver/",
            "https://a.example/x?y=1#z",
            "not a uri",
            "urn:x",
            "http://a b/",
            "%zz",
        ]
    ),
    request_id=st.one_of(
        st.none(), st.text(st.sampled_from("abc%4F:@-_~!$&'()*+,;=zZ09 /?#"), max_size=12)
    ),
    resources=st.one_of(
        st.none(),
        st.lists(
            st.sampled_from(["https://a.example/r", "ipfs://x", "a b", "http://[::1/"]), max_size=2
        ),
    ),
)
def test_what_the_fast_reader_accepts_the_grammar_accepts(
    statement, domain, uri, request_id, resources
):
    from siwe import SiweMessage

    from portal.errors import DomainError
    from portal.siwe.services import parse_message

    wallet = Wallet()
    fields = {
        "domain": domain,
        "address": wallet.address,
        "statement": statement,
        "uri": uri,
        "version": "1",
        "chain_id": CHAIN_ID,
        "nonce": "abcdefgh12345678",
        "issued_at": "2026-12-03T12:00:00.000Z",
        "request_id": request_id,
        "resources": resources,
    }
    text = SiweMessage.model_construct(**fields).prepare_message()
    try:
        ours = parse_message(text).fields
    except DomainError:
        return  # refused: nothing to compare
    strict = SiweMessage.from_message(text, abnf=True)  # raises if the grammar refuses it
    assert strict.prepare_message() == text
    assert (ours.domain, ours.address, ours.statement, str(ours.uri), ours.nonce) == (
        strict.domain,
        strict.address,
        strict.statement,
        str(strict.uri),
        strict.nonce,
    )


def test_the_sign_in_page_has_one_address():
    from django.urls import Resolver404, resolve, reverse

    assert reverse("siwe_login") == "/accounts/siwe/login/"
    assert reverse("siwe_headless_app_nonce") == "/_allauth/app/v1/auth/siwe/nonce"
    # allauth mounts a provider's urls under accounts/ itself: nothing is mounted twice
    for doubled in ("/accounts/accounts/siwe/login/", "/accounts/_allauth/app/v1/auth/siwe/nonce"):
        with pytest.raises(Resolver404):
            resolve(doubled)
