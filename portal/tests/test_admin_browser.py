"""The admin in a real browser: sign-in through allauth, API key issuing, tenant scoping.

Runs Debian's chromium through Playwright against pytest-django's ``live_server`` (skips
locally when chromium is missing, fails in CI with REQUIRE_SERVICES=1); one browser serves the
whole session (``browser`` in conftest.py).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from portal.choices import Role
from portal.tests.browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.requires_browser]


def test_manager_issues_api_key_that_authenticates(page, live_server, make_staff, org_a, org_b):
    from portal.models import ApiKey

    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    make_staff(org_b, Role.OWNER, password=PASSWORD)  # another tenant the manager must not see

    sign_in(page, manager, "/admin/portal/apikey/add/")

    organization = page.locator("select[name=organization]")
    # The manager writes to exactly one organization, so the form preselects it ...
    assert organization.input_value() == str(org_a.pk)
    # ... and org B is not among the choices.
    assert "Beta-LEAK" not in page.content()

    page.locator("input[name=name]").fill("CI deploy key")
    page.locator("input[name=scopes][value='org:read']").check()
    with page.expect_navigation():
        page.locator("input[name=_save]").click()

    warning = page.locator("ul.messagelist li.warning")
    assert warning.count() == 1, page.locator("body").inner_text()
    raw_key = warning.locator("code").inner_text().strip()
    assert raw_key.startswith("mlp_"), raw_key

    api_key = ApiKey.objects.get()
    assert api_key.organization == org_a
    assert api_key.owner == manager
    assert api_key.name == "CI deploy key"
    assert api_key.scopes == ["org:read"]
    assert api_key.key_hash != raw_key
    assert raw_key not in api_key.key_hash

    request = urllib.request.Request(  # noqa: S310 (the live server's http URL)
        f"{live_server.url}/api/key", headers={"Authorization": f"Bearer {raw_key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status, body = response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read().decode()
    assert status == 200, f"GET /api/key with the issued key {raw_key!r}: {status} {body}"
    assert body["organization"] == "alpha"
    assert body["prefix"] == api_key.prefix
    assert body["scopes"] == ["org:read"]


def test_viewer_sees_only_own_memberships_read_only(page, make_staff, org_a, org_b):
    from portal.models import Membership

    outsider = make_staff(org_b, Role.MANAGER, password=PASSWORD)
    colleague = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    viewer = make_staff(org_a, Role.VIEWER, password=PASSWORD)

    sign_in(page, viewer, "/admin/portal/membership/")
    text = page.locator("body").inner_text()
    assert viewer.email in text
    assert colleague.email in text
    assert "Alpha Models" in text
    assert "Beta-LEAK" not in page.content()
    assert outsider.email not in page.content()

    other = Membership.objects.get(user=outsider, organization=org_b)
    response = page.goto(f"/admin/portal/membership/{other.pk}/change/")
    assert response is not None
    assert response.status == 404
    assert "Beta-LEAK" not in page.content()
    assert outsider.email not in page.content()

    own = Membership.objects.get(user=colleague, organization=org_a)
    response = page.goto(f"/admin/portal/membership/{own.pk}/change/")
    assert response is not None
    assert response.status == 200
    assert colleague.email in page.locator("body").inner_text()
    assert page.locator("input[name=_save]").count() == 0
    assert page.locator("input[name=_continue], input[name=_addanother]").count() == 0


def test_admin_index_screenshot(page, make_staff, org_a, org_b):
    owner = make_staff(org_a, Role.OWNER, password=PASSWORD)

    sign_in(page, owner, "/admin/")
    body = page.locator("body").inner_text()
    assert "Your organizations" in body
    for section in ("Organizations", "Memberships", "API keys"):
        assert section in body
    assert "Beta-LEAK" not in page.content()

    path = screenshot(page, "admin-index")
    assert path.stat().st_size > 10_000
