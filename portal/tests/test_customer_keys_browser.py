"""A customer's API keys in a real browser: make one, see it once, reload and see it gone,
revoke it after the confirmation; at phone width; and the same without JavaScript."""

from __future__ import annotations

from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from playwright.sync_api import expect

from portal.models import ApiKey
from portal.services import customer_api_key_create, customer_api_key_revoke
from portal.tests.browser import assert_accessible, screenshot

pytestmark = [pytest.mark.requires_browser]

KEYS_PATH = "/account/keys/"


@pytest.fixture
def customer(transactional_db):
    user = get_user_model().objects.create_user(username="wallet-customer")
    user.set_unusable_password()
    user.save()
    SocialAccount.objects.create(
        user=user, provider="siwe", uid="0x90F79bf6EB2c4f870365E785982E1f101E93b906"
    )
    return user


def _sign_in(context, user, base_url: str) -> None:
    """A signed-in session for ``user`` (as a wallet sign-in leaves it), as the context's cookie."""
    client = Client()
    client.force_login(user)
    session_id = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session_id, "url": base_url}]
    )


def _make_key(page, name: str) -> str:
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Make key").click()
    raw_key = page.locator("#raw-key")
    expect(raw_key).to_be_visible()
    return raw_key.inner_text().strip()


def test_a_customer_makes_a_key_sees_it_once_and_revokes_it(page, customer, live_server):
    # given a signed-in customer with an older key and a revoked one
    older = customer_api_key_create(
        owner=customer, name="nightly batch", expires_at=timezone.now() + timedelta(days=90)
    ).api_key
    gone = customer_api_key_create(owner=customer, name="laptop").api_key
    customer_api_key_revoke(owner=customer, api_key=gone)
    _sign_in(page.context, customer, live_server.url)
    page.goto(KEYS_PATH)
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()
    assert_accessible(page)

    # when they make a key
    raw_key = _make_key(page, "predict script")

    # then it is shown once, with the warning, and it works on the API
    assert raw_key.startswith("mlp_")
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    assert_accessible(page)
    screenshot(page, "keys-created")
    response = Client().get("/api/key", headers={"Authorization": f"Bearer {raw_key}"})
    assert response.json()["kind"] == "customer"
    api_key = ApiKey.objects.get(name="predict script")
    assert raw_key not in [
        str(v) for v in ApiKey.objects.filter(pk=api_key.pk).values().get().values()
    ]

    # and a reload shows the list without it
    page.reload()
    expect(page.locator("#raw-key")).to_have_count(0)
    assert raw_key not in page.content()
    rows = page.locator(".keys-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("predict script")
    expect(rows.first).to_contain_text(f"mlp_{api_key.prefix}_…")
    expect(rows.first).to_contain_text("Active")
    expect(page.locator(".keys-table tr", has_text="laptop")).to_contain_text("Revoked")
    expect(page.locator(".keys-table tr", has_text="nightly batch")).to_contain_text(
        older.expires_at.strftime("%Y")
    )
    screenshot(page, "keys-list")

    # when they revoke it: a confirmation first
    page.get_by_role("button", name="Revoke predict script").click()
    expect(page.get_by_role("heading", name="Revoke “predict script”?")).to_be_visible()
    assert_accessible(page)
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    page.get_by_role("button", name="Yes, revoke it").click()

    # then it is revoked, and the API refuses it
    expect(page.get_by_text("Revoked “predict script”")).to_be_visible()
    expect(page.locator(".keys-table tr", has_text="predict script")).to_contain_text("Revoked")
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    response = Client().get("/api/key", headers={"Authorization": f"Bearer {raw_key}"})
    assert response.json()["code"] == "api_key_revoked"


def test_the_keys_page_at_phone_width(page, customer, live_server):
    customer_api_key_create(
        owner=customer, name="nightly batch", expires_at=timezone.now() + timedelta(days=90)
    )
    _sign_in(page.context, customer, live_server.url)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(KEYS_PATH)

    _make_key(page, "phone script")

    # the key wraps inside the page: nothing is wider than the screen
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide at 375px"
    key_box = page.locator("#raw-key").bounding_box()
    assert key_box is not None
    assert key_box["x"] + key_box["width"] <= 375
    assert_accessible(page)
    screenshot(page, "keys-phone-created")
    page.reload()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
    assert_accessible(page)
    screenshot(page, "keys-phone")


def test_keys_work_without_javascript(browser, customer, live_server):
    context = browser.new_context(java_script_enabled=False, base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        _sign_in(context, customer, live_server.url)
        page = context.new_page()
        page.goto(KEYS_PATH)
        day = (timezone.now() + timedelta(days=10)).date()
        page.get_by_label("Expires on (optional)").fill(day.isoformat())

        raw_key = _make_key(page, "no-js script")

        assert raw_key.startswith("mlp_")
        assert ApiKey.objects.get(name="no-js script").expires_at.date() == day
        page.get_by_role("button", name="Revoke no-js script").click()
        page.get_by_role("button", name="Yes, revoke it").click()
        expect(page.get_by_text("Revoked “no-js script”")).to_be_visible()
        assert ApiKey.objects.get(name="no-js script").revoked_at is not None
    finally:
        context.close()


def test_signed_out_visitors_land_on_the_wallet_sign_in(page, transactional_db):
    page.goto(KEYS_PATH)

    expect(page.locator(".wallet-button, .siwe").first).to_be_attached()
    assert "next=/account/keys/" in page.url
