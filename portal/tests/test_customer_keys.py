"""A customer's own API keys: the constraint on their scopes, the services (cap, ownership), the
API with such a key, the pages (shown once, stored hashed, revoke after a confirmation) and the
admin's scoping (staff never see customers' keys)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from portal.choices import CUSTOMER_SCOPES, ApiScope, Role
from portal.customer_keys import ISSUED_SESSION_KEY
from portal.models import ApiKey
from portal.services import (
    api_key_create,
    customer_api_key_create,
    customer_api_key_revoke,
)

KEYS_URL = "/account/keys/"


@pytest.fixture
def make_customer(db):
    """A customer: a user without membership who signs in with a wallet (a siwe account)."""
    counter = iter(range(1, 1000))

    def make(**kwargs):
        number = next(counter)
        user = get_user_model().objects.create_user(username=f"customer-{number}", **kwargs)
        user.set_unusable_password()
        user.save()
        SocialAccount.objects.create(user=user, provider="siwe", uid=f"0x{number:040x}")
        return user

    return make


@pytest.fixture
def customer(make_customer):
    return make_customer()


def _bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def _assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code


def _row_values(api_key: ApiKey) -> list[str]:
    """Every column of the key's row, as the database has it, as text."""
    row = ApiKey.objects.filter(pk=api_key.pk).values().get()
    return [str(value) for value in row.values()]


# --- the model's constraint ----------------------------------------------------------------


@pytest.mark.parametrize(
    "scopes", [["org:read"], ["models:write"], ["predict", "org:read"], ["anything"]]
)
def test_a_key_without_organization_cannot_hold_other_scopes(customer, scopes):
    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.create(owner=customer, name="x", prefix="p1", key_hash="h1", scopes=scopes)


def test_an_update_past_the_services_is_refused_too(customer):
    api_key = customer_api_key_create(owner=customer, name="mine").api_key

    with pytest.raises(IntegrityError), transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk).update(scopes=["models:read", "models:write"])


@pytest.mark.parametrize("scopes", [["predict"], ["models:read"], ["models:read", "predict"]])
def test_customer_scopes_pass_the_constraint(customer, scopes):
    ApiKey.objects.create(owner=customer, name="x", prefix="p1", key_hash="h1", scopes=scopes)


def test_full_clean_names_the_rule(customer):
    api_key = ApiKey(owner=customer, name="x", prefix="p1", key_hash="h1", scopes=["org:read"])

    with pytest.raises(ValidationError) as excinfo:
        api_key.full_clean()

    assert excinfo.value.error_dict["__all__"][0].code == "customer_scopes_only"


def test_organization_keys_still_hold_any_scope(org_a, make_staff):
    issued = api_key_create(
        organization=org_a,
        owner=make_staff(org_a, Role.MANAGER),
        name="all",
        scopes=list(ApiScope.values),
    )
    assert issued.api_key.scopes == sorted(ApiScope.values)


def test_staff_keys_need_an_organization(org_a, make_staff):
    with pytest.raises(ValidationError) as excinfo:
        api_key_create(
            organization=None,
            owner=make_staff(org_a, Role.MANAGER),
            name="x",
            scopes=[ApiScope.PREDICT],
        )
    assert "organization" in excinfo.value.message_dict


# --- services ------------------------------------------------------------------------------


def test_a_customer_key_has_the_customer_scopes_and_no_organization(customer):
    issued = customer_api_key_create(owner=customer, name="  predict script  ")

    api_key = ApiKey.objects.get(pk=issued.api_key.pk)
    assert api_key.organization is None
    assert api_key.owner == customer
    assert api_key.name == "predict script"
    assert sorted(api_key.scopes) == sorted(CUSTOMER_SCOPES)
    assert issued.raw_key.startswith(f"mlp_{api_key.prefix}_")
    assert not any(issued.raw_key in value for value in _row_values(api_key))
    secret = issued.raw_key.split("_", 2)[2]
    assert not any(secret in value for value in _row_values(api_key))


def test_the_cap_counts_live_keys_only(customer, settings):
    settings.CUSTOMER_API_KEYS_MAX = 2
    first = customer_api_key_create(owner=customer, name="one").api_key
    customer_api_key_create(owner=customer, name="two")

    with pytest.raises(ValidationError) as excinfo:
        customer_api_key_create(owner=customer, name="three")
    assert excinfo.value.code == "too_many_keys"
    assert "2 live keys" in excinfo.value.messages[0]

    # a revoked key and an expired one leave room
    customer_api_key_revoke(owner=customer, api_key=first)
    third = customer_api_key_create(owner=customer, name="three").api_key
    ApiKey.objects.filter(pk=third.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    customer_api_key_create(owner=customer, name="four")
    assert ApiKey.objects.of_customer(customer).live().count() == 2


def test_the_cap_is_per_customer(make_customer, settings):
    settings.CUSTOMER_API_KEYS_MAX = 1
    one, other = make_customer(), make_customer()
    customer_api_key_create(owner=one, name="mine")

    customer_api_key_create(owner=other, name="theirs")  # not refused


def test_staff_do_not_make_customer_keys(org_a, make_staff):
    with pytest.raises(ValidationError) as excinfo:
        customer_api_key_create(owner=make_staff(org_a, Role.OWNER), name="x")
    assert excinfo.value.code == "staff_owner"
    assert not ApiKey.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "x", "expires_at": timezone.now() - timedelta(minutes=1)}, "expires_at"),
    ],
)
def test_bad_customer_key_requests_name_their_field(customer, kwargs, field):
    with pytest.raises(ValidationError) as excinfo:
        customer_api_key_create(owner=customer, **kwargs)
    assert field in excinfo.value.message_dict
    assert not ApiKey.objects.exists()


def test_a_customer_cannot_revoke_another_ones_key(make_customer):
    owner, intruder = make_customer(), make_customer()
    api_key = customer_api_key_create(owner=owner, name="mine").api_key

    with pytest.raises(PermissionDenied):
        customer_api_key_revoke(owner=intruder, api_key=api_key)

    api_key.refresh_from_db()
    assert api_key.revoked_at is None


def test_a_customer_cannot_revoke_an_organizations_key(customer, org_a, make_staff):
    staff_key = api_key_create(
        organization=org_a, owner=make_staff(org_a, Role.MANAGER), name="x", scopes=["predict"]
    ).api_key
    with pytest.raises(PermissionDenied):
        customer_api_key_revoke(owner=customer, api_key=staff_key)


# --- the API with a customer's key ---------------------------------------------------------


def test_get_key_says_customer_and_no_organization(client, customer):
    issued = customer_api_key_create(owner=customer, name="mine")

    response = client.get("/api/key", headers=_bearer(issued.raw_key))

    assert response.status_code == 200, response.content
    assert response.json() == {
        "name": "mine",
        "prefix": issued.api_key.prefix,
        "kind": "customer",
        "organization": None,
        "scopes": sorted(CUSTOMER_SCOPES),
        "expires_at": None,
    }
    assert ApiKey.objects.get(pk=issued.api_key.pk).last_used_at is not None


def test_an_organization_key_says_its_organization(client, org_a, make_staff):
    issued = api_key_create(
        organization=org_a, owner=make_staff(org_a, Role.MANAGER), name="x", scopes=["org:read"]
    )
    body = client.get("/api/key", headers=_bearer(issued.raw_key)).json()
    assert (body["kind"], body["organization"]) == ("organization", "alpha")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/organization"),
        ("post", "/api/models/alpha/wine/versions"),
        ("post", "/api/models/alpha/wine/versions/1.0.0/publish"),
        ("post", "/api/models/alpha/wine/versions/1.0.0/unpublish"),
        ("delete", "/api/models/alpha/wine/versions/1.0.0"),
    ],
)
def test_endpoints_of_an_organization_refuse_a_customer_key(client, customer, method, path):
    issued = customer_api_key_create(owner=customer, name="mine")

    response = getattr(client, method)(path, headers=_bearer(issued.raw_key))

    _assert_error(response, 403, "organization_key_required")


def test_public_endpoints_take_a_customer_key(client, customer):
    issued = customer_api_key_create(owner=customer, name="mine")

    assert client.get("/api/models", headers=_bearer(issued.raw_key)).status_code == 200


def test_a_customer_key_of_an_inactive_customer_is_refused(client, customer):
    issued = customer_api_key_create(owner=customer, name="mine")
    customer.is_active = False
    customer.save()

    _assert_error(client.get("/api/key", headers=_bearer(issued.raw_key)), 401, "api_key_inactive")


def test_a_revoked_customer_key_is_refused(client, customer):
    issued = customer_api_key_create(owner=customer, name="mine")
    customer_api_key_revoke(owner=customer, api_key=issued.api_key)

    _assert_error(client.get("/api/key", headers=_bearer(issued.raw_key)), 401, "api_key_revoked")


# --- the pages -----------------------------------------------------------------------------


def test_signed_out_visitors_are_sent_to_the_wallet_sign_in(client, db):
    response = client.get(KEYS_URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('siwe_login')}?next=/account/keys/"
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize("superuser", [False, True])
def test_staff_get_a_403_pointing_to_the_admin(client, org_a, make_staff, superuser):
    staff = make_staff(superuser=True) if superuser else make_staff(org_a, Role.OWNER)
    client.force_login(staff)

    for response in (client.get(KEYS_URL), client.post(KEYS_URL, {"name": "x"})):
        assert response.status_code == 403
        assert 'href="/admin/portal/apikey/"' in response.content.decode()
    assert not ApiKey.objects.exists()


def test_a_new_key_is_shown_once_and_stored_hashed(client, customer):
    client.force_login(customer)

    # when the customer makes a key
    response = client.post(KEYS_URL, {"name": "predict script", "expires_on": ""})

    # then the page redirects (POST, redirect, GET) and the next GET shows the key once
    assert response.status_code == 302
    assert response["Location"] == KEYS_URL
    api_key = ApiKey.objects.get()
    page = client.get(KEYS_URL)
    html = page.content.decode()
    raw_key = page.context["issued"]["raw_key"]
    assert raw_key.startswith(f"mlp_{api_key.prefix}_")
    assert f'<code class="raw-key" id="raw-key">{raw_key}</code>' in html
    assert "it will not be shown again" in html
    assert "no-store" in page["Cache-Control"]

    # and never again: not on reload, not in the session, not in the key's row
    again = client.get(KEYS_URL).content.decode()
    assert raw_key not in again
    assert f"mlp_{api_key.prefix}_…" in again  # the list shows the prefix only
    assert ISSUED_SESSION_KEY not in client.session
    assert not any(raw_key in value for value in _row_values(api_key))
    assert api_key.organization is None


def test_the_key_made_works_on_the_api(client, customer):
    client.force_login(customer)
    client.post(KEYS_URL, {"name": "predict script"})
    raw_key = client.get(KEYS_URL).context["issued"]["raw_key"]
    client.logout()

    assert client.get("/api/key", headers=_bearer(raw_key)).json()["kind"] == "customer"


def test_an_expiry_date_ends_the_key_as_that_day_begins(client, customer):
    client.force_login(customer)
    day = timezone.now().date() + timedelta(days=30)

    client.post(KEYS_URL, {"name": "monthly", "expires_on": day.isoformat()})

    expires_at = ApiKey.objects.get().expires_at
    assert (expires_at.date(), expires_at.hour, expires_at.minute) == (day, 0, 0)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x", "expires_on": "2020-01-01"}, "expires_on", "Pick a day after today."),
        ({"name": "x", "expires_on": "someday"}, "expires_on", "Enter a valid date."),
    ],
)
def test_bad_input_is_a_form_error(client, customer, data, field, message):
    client.force_login(customer)

    response = client.post(KEYS_URL, data)

    assert response.status_code == 200
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()


def test_today_is_too_soon_an_expiry(client, customer):
    client.force_login(customer)
    today = timezone.now().date().isoformat()

    response = client.post(KEYS_URL, {"name": "x", "expires_on": today})

    assert response.context["form"].errors["expires_on"] == ["Pick a day after today."]


def test_the_cap_is_said_above_the_form(client, customer, settings):
    settings.CUSTOMER_API_KEYS_MAX = 1
    client.force_login(customer)
    client.post(KEYS_URL, {"name": "one"})

    response = client.post(KEYS_URL, {"name": "two"})

    assert response.status_code == 200
    assert "You have 1 live keys, the most you may hold" in response.content.decode()
    assert ApiKey.objects.count() == 1


def test_the_list_shows_only_ones_own_keys(client, make_customer, org_a, make_staff):
    me, other = make_customer(), make_customer()
    customer_api_key_create(owner=me, name="mine")
    customer_api_key_create(owner=other, name="THEIRS-LEAK")
    api_key_create(
        organization=org_a,
        owner=make_staff(org_a, Role.MANAGER),
        name="ORG-LEAK",
        scopes=["predict"],
    )
    client.force_login(me)

    html = client.get(KEYS_URL).content.decode()

    assert "mine" in html
    assert "LEAK" not in html


def test_revoking_asks_first_then_revokes(client, customer):
    api_key = customer_api_key_create(owner=customer, name="old script").api_key
    client.force_login(customer)
    revoke_url = f"{KEYS_URL}{api_key.pk}/revoke/"

    # the list's button posts without a confirmation: the page asks
    asked = client.post(revoke_url)
    assert asked.status_code == 200
    assert "Yes, revoke it" in asked.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at is None

    # confirmed: revoked, back on the list with a message
    done = client.post(revoke_url, {"confirm": "yes"}, follow=True)
    assert done.redirect_chain == [(KEYS_URL, 302)]
    html = done.content.decode()
    assert "Revoked “old script”" in html
    assert "key-status-revoked" in html
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None

    # again: says so, changes nothing
    revoked_at = api_key.revoked_at
    again = client.post(revoke_url, {"confirm": "yes"}, follow=True)
    assert "was revoked already" in again.content.decode()
    api_key.refresh_from_db()
    assert api_key.revoked_at == revoked_at


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_ones_key_answers_404(client, make_customer, org_a, make_staff, method):
    me, other = make_customer(), make_customer()
    theirs = customer_api_key_create(owner=other, name="theirs").api_key
    org_key = api_key_create(
        organization=org_a, owner=make_staff(org_a, Role.MANAGER), name="x", scopes=["predict"]
    ).api_key
    client.force_login(me)

    for api_key in (theirs, org_key):
        response = getattr(client, method)(f"{KEYS_URL}{api_key.pk}/revoke/", {"confirm": "yes"})
        assert response.status_code == 404
        api_key.refresh_from_db()
        assert api_key.revoked_at is None
    assert client.get(f"{KEYS_URL}999999/revoke/").status_code == 404


def test_forms_need_the_csrf_token(customer):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    api_key = customer_api_key_create(owner=customer, name="mine").api_key

    assert client.post(KEYS_URL, {"name": "x"}).status_code == 403
    response = client.post(f"{KEYS_URL}{api_key.pk}/revoke/", {"confirm": "yes"})
    assert response.status_code == 403
    assert ApiKey.objects.count() == 1
    api_key.refresh_from_db()
    assert api_key.revoked_at is None


# --- the admin: staff never see customers' keys; superusers do ------------------------------


def test_staff_never_see_customers_keys_in_the_admin(client, customer, org_a, make_staff):
    customer_key = customer_api_key_create(owner=customer, name="CUSTOMER-LEAK").api_key
    api_key_create(
        organization=org_a,
        owner=make_staff(org_a, Role.MANAGER),
        name="org key",
        scopes=["predict"],
    )
    client.force_login(make_staff(org_a, Role.OWNER))

    changelist = client.get("/admin/portal/apikey/").content.decode()
    assert "org key" in changelist
    assert "CUSTOMER-LEAK" not in changelist
    assert client.get(f"/admin/portal/apikey/{customer_key.pk}/change/").status_code == 404
    search = client.get("/admin/portal/apikey/", {"q": "CUSTOMER"}).content.decode()
    assert "CUSTOMER-LEAK" not in search


def test_superusers_see_customers_keys_and_filter_them(client, customer, org_a, make_staff):
    customer_api_key_create(owner=customer, name="customer key")
    api_key_create(
        organization=org_a,
        owner=make_staff(org_a, Role.MANAGER),
        name="org key",
        scopes=["predict"],
    )
    client.force_login(make_staff(superuser=True))

    html = client.get("/admin/portal/apikey/", {"kind": "customer"}).content.decode()

    assert "customer key" in html
    assert "a customer&#x27;s own key" in html
    assert "org key" not in html


def test_the_admin_add_form_requires_an_organization(client, org_a, make_staff):
    client.force_login(make_staff(org_a, Role.MANAGER))

    response = client.post(
        "/admin/portal/apikey/add/", {"organization": "", "name": "x", "scopes": ["predict"]}
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["organization"]
    assert not ApiKey.objects.exists()
