"""The admin as staff see it, in a real browser: titles, labels, widths, links, the 403 page and
the version badge that refreshes itself. Each test leaves a screenshot (see tests/browser.py)."""

from __future__ import annotations

import io
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from models_hub import services as registry
from models_hub.choices import Task
from portal.choices import Role
from portal.services import organization_update
from portal.tests.browser import PASSWORD, screenshot, sign_in

pytestmark = [pytest.mark.requires_browser]

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def model_a(org_a):
    return registry.model_create(
        organization=org_a, name="Cancer screen", task=Task.CLASSIFICATION, listed=True
    )


def _upload(model, version: str, uploaded_by=None):
    """A version a worker has not looked at yet (its bytes are no model: it will be rejected)."""
    return registry.version_upload(
        model=model,
        version=version,
        fileobj=io.BytesIO(b"not a pickle"),
        filename=f"{model.slug}-{version}.joblib",
        uploaded_by=uploaded_by,
    )


def _h1(page) -> str:
    return page.locator("#content h1").first.inner_text().strip()


def test_the_index_is_titled_for_who_is_looking(page, make_staff, org_a):
    sign_in(page, make_staff(superuser=True, password=PASSWORD), "/admin/")

    assert _h1(page) == "Platform administration"
    assert "Your organizations" not in page.locator("#content").inner_text()
    assert page.title().startswith("Platform administration |")
    screenshot(page, "admin-index-superuser")


def test_scope_checkboxes_show_their_codes(page, make_staff, org_a):
    sign_in(page, make_staff(org_a, Role.MANAGER, password=PASSWORD), "/admin/portal/apikey/add/")

    labels = page.locator("#id_scopes label")
    texts = [labels.nth(i).inner_text().strip() for i in range(labels.count())]
    assert texts, "no scope checkboxes"
    for code in ("org:read", "models:read", "models:write", "predict"):
        assert any(text.startswith(code) for text in texts), (code, texts)
    box = page.locator("#id_scopes label").first.bounding_box()
    assert box is not None
    assert box["height"] < 30, "a scope label wraps onto a second line"
    screenshot(page, "admin-apikey-add")


def test_the_treasury_field_fits_an_address(page, make_staff, org_a):
    organization_update(organization=org_a, name=org_a.name, treasury_address=ADDRESS)
    owner = make_staff(org_a, Role.OWNER, password=PASSWORD)
    sign_in(page, owner, f"/admin/portal/organization/{org_a.pk}/change/")

    field = page.locator("input[name=treasury_address]")
    assert field.input_value() == ADDRESS
    fits = field.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert fits, "the address is cut off in its field"
    screenshot(page, "admin-organization-change")


def test_the_version_changelist_fits_1366_pixels(page, make_staff, org_a, model_a):
    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    other = registry.model_create(
        organization=org_a, name="Diabetes progression (long name)", task=Task.REGRESSION
    )
    for model in (model_a, other):
        for version in ("1.0.0", "1.0.1", "10.20.300"):
            _upload(model, version, uploaded_by=manager)
    page.set_viewport_size({"width": 1366, "height": 768})

    sign_in(page, manager, "/admin/models_hub/modelversion/")

    sizes = page.evaluate(
        """() => {
            const box = document.querySelector(".results");
            const table = document.querySelector("#result_list");
            return {
                page: document.documentElement.scrollWidth,
                box: box.clientWidth, boxScroll: box.scrollWidth,
                tableRight: table.getBoundingClientRect().right,
                boxRight: box.getBoundingClientRect().right,
            };
        }"""
    )
    screenshot(page, "admin-version-changelist-1366")
    assert sizes["page"] <= 1366, sizes
    assert sizes["boxScroll"] <= sizes["box"], f"the table scrolls sideways: {sizes}"
    assert sizes["tableRight"] <= sizes["boxRight"] + 1, sizes


def test_read_only_changelists_are_titled_by_what_they_list(page, make_staff, org_a, model_a):
    _upload(model_a, "1.0.0")
    viewer = make_staff(org_a, Role.VIEWER, password=PASSWORD)

    sign_in(page, viewer, "/admin/models_hub/modelversion/")
    assert _h1(page) == "Model versions"
    for path, title in [
        ("/admin/portal/membership/", "Memberships"),
        ("/admin/portal/apikey/", "API keys"),
        ("/admin/models_hub/aimodel/", "Models"),
    ]:
        page.goto(path)
        assert _h1(page) == title
        assert "Select" not in page.title(), page.title()
    screenshot(page, "admin-changelist-title")


def test_a_model_page_links_to_uploading_a_version(page, make_staff, org_a, model_a):
    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)
    sign_in(page, manager, f"/admin/models_hub/aimodel/{model_a.pk}/change/")
    screenshot(page, "admin-model-change")

    with page.expect_navigation():
        page.locator("#add-version-link").click()

    assert urlsplit(page.url).path == "/admin/models_hub/modelversion/add/"
    chosen = page.locator("select[name=model] option:checked")
    assert chosen.inner_text().strip() == model_a.name
    screenshot(page, "admin-version-add-from-model")


def test_the_header_links_to_two_factor_set_up(page, make_staff, org_a):
    sign_in(page, make_staff(org_a, Role.VIEWER, password=PASSWORD), "/admin/")

    link = page.locator("#user-tools #two-factor-link")
    assert link.inner_text().strip().lower() == "two-factor authentication"
    with page.expect_navigation():
        link.click()

    assert urlsplit(page.url).path == "/accounts/2fa/"
    assert page.locator("a[href='/admin/']").count() >= 1  # and back to the admin
    screenshot(page, "admin-two-factor")


def test_the_403_page_has_the_admins_look_and_a_way_back(page, make_staff, org_a, live_server):
    manager = make_staff(org_a, Role.MANAGER, password=PASSWORD)  # only owners invite
    sign_in(page, manager, "/admin/portal/membership/")
    came_from = f"{live_server.url}/admin/portal/membership/"

    response = page.goto("/admin/portal/membership/add/", referer=came_from)

    assert response is not None
    assert response.status == 403
    assert page.locator("#header #site-name").inner_text().strip() == "Model Licensing Portal"
    header = page.locator("#header").evaluate("el => getComputedStyle(el).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent"), "the admin's styles are missing"
    assert page.locator("#go-back").get_attribute("href") == came_from
    screenshot(page, "admin-403")
    with page.expect_navigation():
        page.locator("#admin-home").click()
    assert urlsplit(page.url).path == "/admin/"


def test_a_version_badge_refreshes_itself_while_it_validates(
    page, make_staff, org_a, model_a, monkeypatch
):
    # the test plays the worker: nothing reaches a worker that may run in this session
    sent = []
    fake_app = SimpleNamespace(send_task=lambda name, args: sent.append((name, args)))
    monkeypatch.setattr(registry, "current_app", fake_app)
    viewer = make_staff(org_a, Role.VIEWER, password=PASSWORD)
    listed, opened = _upload(model_a, "1.0.0"), _upload(model_a, "1.0.1")
    assert len(sent) == 2

    # on the changelist, the badge changes in place
    sign_in(page, viewer, "/admin/models_hub/modelversion/")
    badge = page.locator(f".version-badge[data-badge-id='{listed.pk}']")
    assert badge.inner_text().strip().lower() == "uploaded"
    registry.version_validate(version_id=listed.pk)  # what the worker does
    page.locator(f".version-badge.status-rejected[data-badge-id='{listed.pk}']").wait_for()
    assert badge.inner_text().strip().lower() == "rejected"
    screenshot(page, "admin-version-badge-changelist")

    # on the version's page, the page reloads once validation ends, to show the reason
    page.goto(f"/admin/models_hub/modelversion/{opened.pk}/change/")
    assert page.locator(".version-badge").first.inner_text().strip().lower() == "uploaded"
    registry.version_validate(version_id=opened.pk)
    page.locator(".version-badge.status-rejected").wait_for()
    page.get_by_text("not a readable joblib file").first.wait_for()
    screenshot(page, "admin-version-badge-change")
