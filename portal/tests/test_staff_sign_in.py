"""Staff sign in through django-allauth with a password, and with TOTP once they turn it on."""

from __future__ import annotations

from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)
from django.urls import reverse

from portal.choices import Role

PASSWORD = "a-long-staff-passphrase-42"


def _sign_in(client, user, password=PASSWORD):
    return client.post(reverse("account_login"), {"login": user.email, "password": password})


def test_admin_login_goes_through_allauth(client, db):
    response = client.get("/admin/login/?next=/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_password_sign_in_opens_the_admin(client, org_a, make_staff):
    user = make_staff(org_a, Role.VIEWER, password=PASSWORD)

    response = _sign_in(client, user)

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_wrong_password_is_a_form_error(client, org_a, make_staff):
    user = make_staff(org_a, Role.VIEWER, password=PASSWORD)

    response = _sign_in(client, user, password="not-it")

    assert response.status_code == 200
    assert response.context["form"].errors
    assert client.get("/admin/").status_code == 302


def test_nobody_signs_up_with_a_password(client, db):
    response = client.post(
        reverse("account_signup"),
        {"email": "walk-in@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(email="walk-in@example.com").exists()
    assert response.status_code in (200, 302)


def test_totp_is_asked_for_once_activated(client, org_a, make_staff):
    user = make_staff(org_a, Role.OWNER, password=PASSWORD)
    secret = generate_totp_secret()
    TOTP.activate(user, secret)

    response = _sign_in(client, user)

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get("/admin/").status_code == 302  # not signed in until the code is given

    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200
    assert client.get("/admin/").status_code == 302

    counter = next(iter(yield_hotp_counters_from_time()))
    code = format_hotp_value(hotp_value(secret, counter))
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert client.get("/admin/").status_code == 200
