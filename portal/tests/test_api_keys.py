"""API keys: hashed at rest, and every way a key can be wrong answers 401/403 in one shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from portal.choices import ApiScope, Role
from portal.models import ApiKey
from portal.services import api_key_create, api_key_revoke


@pytest.fixture
def issue(org_a, make_staff):
    owner = make_staff(org_a, Role.MANAGER)

    def make(scopes=(ApiScope.ORG_READ,), **kwargs):
        return api_key_create(
            organization=org_a, owner=owner, name="pipeline", scopes=list(scopes), **kwargs
        )

    return make


def _get(client, path, key=None):
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return client.get(path, headers=headers)


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["message"]


def test_stored_hash_never_equals_the_key(issue):
    issued = issue()
    stored = ApiKey.objects.get(pk=issued.api_key.pk)

    assert stored.key_hash != issued.raw_key
    assert issued.raw_key not in {stored.key_hash, stored.prefix, stored.name}
    assert issued.raw_key.startswith(f"mlp_{stored.prefix}_")


def test_keys_whose_secret_contains_underscores_authenticate(client, issue, monkeypatch):
    import portal.services

    monkeypatch.setattr(portal.services.secrets, "token_urlsafe", lambda n: "a_b_c" + "x" * 40)
    issued = issue()

    assert _get(client, "/api/key", issued.raw_key).status_code == 200


def test_a_good_key_authenticates_and_records_use(client, issue):
    issued = issue()

    response = _get(client, "/api/organization", issued.raw_key)

    assert response.status_code == 200
    assert response.json()["slug"] == "alpha"
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at is not None


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "unauthenticated"),
        ("mlp_deadbeef_notarealkey", "invalid_api_key"),
        ("not-even-our-format", "invalid_api_key"),
    ],
)
def test_missing_or_unknown_keys_get_401(client, db, header, code):
    _assert_error(_get(client, "/api/key", header), 401, code)


def test_a_key_with_the_right_prefix_but_wrong_secret_gets_401(client, issue):
    issued = issue()
    forged = issued.raw_key[:-4] + ("AAAA" if not issued.raw_key.endswith("AAAA") else "BBBB")
    _assert_error(_get(client, "/api/key", forged), 401, "invalid_api_key")


def test_a_revoked_key_gets_401(client, issue):
    issued = issue()
    assert api_key_revoke(api_key=issued.api_key) is True
    assert api_key_revoke(api_key=issued.api_key) is False  # revoking twice changes nothing

    _assert_error(_get(client, "/api/key", issued.raw_key), 401, "api_key_revoked")


def test_an_expired_key_gets_401(client, issue):
    issued = issue(expires_at=timezone.now() + timedelta(seconds=30))
    ApiKey.objects.filter(pk=issued.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    _assert_error(_get(client, "/api/key", issued.raw_key), 401, "api_key_expired")


def test_a_key_of_a_suspended_organization_gets_401(client, issue, org_a):
    issued = issue()
    org_a.status = "suspended"
    org_a.save()
    _assert_error(_get(client, "/api/key", issued.raw_key), 401, "api_key_inactive")


def test_a_key_without_the_scope_gets_403(client, issue):
    issued = issue(scopes=[ApiScope.MODELS_READ])

    response = _get(client, "/api/organization", issued.raw_key)

    _assert_error(response, 403, "insufficient_scope")
    assert response.json()["details"] == [
        {
            "field": "scopes",
            "code": "insufficient_scope",
            "message": "The API key lacks org:read.",
        }
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scopes": ["root:everything"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"expires_at": timezone.now() - timedelta(days=1)}, "expires_at"),
    ],
)
def test_bad_key_requests_are_rejected_and_nothing_is_saved(issue, kwargs, field):
    with pytest.raises(ValidationError) as excinfo:
        issue(**kwargs)
    assert field in excinfo.value.message_dict
    assert ApiKey.objects.count() == 0


def test_unknown_api_paths_answer_404_in_the_error_shape(client, db):
    _assert_error(client.get("/api/nothing/here"), 404, "not_found")


def test_validation_errors_use_the_shape(client, issue):
    # a key header that is present but empty is not a bearer token at all
    response = client.get("/api/key", headers={"Authorization": "Bearer "})
    _assert_error(response, 401, "unauthenticated")


def test_openapi_docs_are_served(client, db):
    assert client.get("/api/docs").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert "/api/organization" in schema["paths"]


def test_admin_shows_the_key_once(client, org_a, make_staff):
    manager = make_staff(org_a, Role.MANAGER)
    client.force_login(manager)

    response = client.post(
        "/admin/portal/apikey/add/",
        {"organization": org_a.pk, "name": "ci", "scopes": ["org:read", "predict"]},
        follow=True,
    )

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    raw = next(part for m in shown for part in m.split("<code>")[1:]).split("</code>")[0]
    key = ApiKey.objects.get(name="ci")
    assert key.organization == org_a
    assert key.owner == manager
    assert key.key_hash != raw
    assert raw.startswith(f"mlp_{key.prefix}_")
    assert raw not in client.get(f"/admin/portal/apikey/{key.pk}/change/").content.decode()
    assert _get(client, "/api/key", raw).status_code == 200


def test_admin_revoke_action(client, issue, org_a, make_staff):
    issued = issue()
    client.force_login(make_staff(org_a, Role.MANAGER))

    client.post(
        "/admin/portal/apikey/",
        {"action": "revoke_keys", "_selected_action": [issued.api_key.pk]},
    )

    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None
