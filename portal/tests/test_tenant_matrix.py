"""The tenant matrix: every registered tenant admin, two organizations, every role.

Admins join by being registered with ``TenantAdminMixin`` (and a row factory, see
``portal/tests/factories.py``); nothing here names a particular model.
"""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms.models import model_to_dict
from django.urls import reverse

from portal.choices import Role
from portal.tenancy import TenantAdminMixin
from portal.tests.factories import TENANT_ROW_FACTORIES

OUR_APPS = ["portal", "chain", "models_hub", "licensing"]
for _app in OUR_APPS:  # each app's factories register themselves on import
    try:
        importlib.import_module(f"{_app}.tests.factories")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_app}.tests.factories":
            raise

MARKER_A = "alpha-row-marker"
MARKER_B = "beta-leak"  # org B's name and rows carry this; it must never reach org A's staff
TENANT_ADMINS = [
    model_admin
    for model_admin in admin.site._registry.values()
    if isinstance(model_admin, TenantAdminMixin)
]
OTHER_ADMINS = [
    model_admin
    for model_admin in admin.site._registry.values()
    if not isinstance(model_admin, TenantAdminMixin)
]


def _ids(model_admins):
    return [model_admin.model._meta.label for model_admin in model_admins]


def _url(model_admin, view: str, *args) -> str:
    meta = model_admin.model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


@pytest.fixture
def rows(org_a, org_b):
    """One row per tenant model in each organization."""
    made = {}
    for model_admin in TENANT_ADMINS:
        factory = TENANT_ROW_FACTORIES[model_admin.model]
        made[model_admin.model] = (factory(org_a, MARKER_A), factory(org_b, MARKER_B))
    return made


@pytest.fixture(params=[Role.OWNER, Role.MANAGER, Role.VIEWER])
def staff_a(request, make_staff, org_a, org_b):
    """A staff member of org A with each role (org B exists with its own owner)."""
    make_staff(org_b, Role.OWNER)
    user = make_staff(org_a, request.param)
    user.role = request.param
    return user


def _assert_no_leak(response, row_b):
    body = response.content.decode().lower()
    assert MARKER_B not in body, f"org B's marker leaked into {response.request['PATH_INFO']}"
    change_url = _url(admin.site._registry[type(row_b)], "change", row_b.pk)
    assert f'href="{change_url}"' not in body


def test_every_tenant_admin_has_a_row_factory():
    missing = [label for label, m in zip(_ids(TENANT_ADMINS), TENANT_ADMINS, strict=True)
               if m.model not in TENANT_ROW_FACTORIES]  # fmt: skip
    assert not missing, f"add a tenant row factory for: {missing}"


def test_our_models_are_tenant_admins_or_platform_admins():
    """Every admin over one of our apps' models is scoped, or is superuser-only by design."""
    from chain.admin import PlatformAdmin

    for model_admin in OTHER_ADMINS:
        label = model_admin.model._meta.label
        if model_admin.model._meta.app_label in OUR_APPS:
            platform = isinstance(model_admin, PlatformAdmin)
            assert platform, f"{label} admin is neither organization-scoped nor platform-only"


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_changelist_shows_only_own_rows(client, rows, staff_a, model_admin):
    row_a, row_b = rows[model_admin.model]
    client.force_login(staff_a)

    response = client.get(_url(model_admin, "changelist"))

    assert response.status_code == 200
    assert _url(model_admin, "change", row_a.pk) in response.content.decode()
    _assert_no_leak(response, row_b)


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_filters_and_search_do_not_reach_other_tenant(client, rows, staff_a, model_admin):
    _, row_b = rows[model_admin.model]
    client.force_login(staff_a)
    changelist = _url(model_admin, "changelist")
    queries = [{"q": "beta"}, {"organization__id__exact": row_b.pk}]
    if model_admin.tenant_field != "pk":
        org_lookup = f"{model_admin.tenant_field}__id__exact"
        queries.append({org_lookup: getattr(row_b, "organization_id", row_b.pk)})

    for query in queries:
        response = client.get(changelist, query)
        # 302: Django drops an unknown lookup; 400: a lookup the admin does not allow
        assert response.status_code in (200, 302, 400)
        if response.status_code == 200:
            _assert_no_leak(response, row_b)


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
@pytest.mark.parametrize("view", ["change", "delete", "history"])
def test_other_tenant_object_urls_answer_404(client, rows, staff_a, model_admin, view):
    _, row_b = rows[model_admin.model]
    client.force_login(staff_a)

    assert client.get(_url(model_admin, view, row_b.pk)).status_code == 404
    assert client.post(_url(model_admin, view, row_b.pk), {"post": "yes"}).status_code == 404
    assert type(row_b).objects.filter(pk=row_b.pk).exists()


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_own_change_page_follows_role(client, rows, staff_a, model_admin):
    row_a, _ = rows[model_admin.model]
    client.force_login(staff_a)
    before = model_to_dict(type(row_a).objects.get(pk=row_a.pk))
    may_write = staff_a.role in Role.at_least(model_admin.tenant_write_role)

    response = client.get(_url(model_admin, "change", row_a.pk))

    assert response.status_code == 200
    _assert_no_leak(response, rows[model_admin.model][1])
    can_save = 'name="_save"' in response.content.decode()
    if not may_write:
        assert not can_save, "a read-only role was offered a save button"
        posted = client.post(_url(model_admin, "change", row_a.pk), {})
        assert posted.status_code == 403
        assert model_to_dict(type(row_a).objects.get(pk=row_a.pk)) == before


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_add_form_offers_only_own_choices(client, rows, staff_a, model_admin):
    client.force_login(staff_a)
    may_add = model_admin.has_add_permission(_request_for(staff_a))

    response = client.get(_url(model_admin, "add"))

    if not may_add:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    _assert_no_leak(response, rows[model_admin.model][1])


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_actions_never_touch_other_tenant(client, rows, staff_a, model_admin):
    _, row_b = rows[model_admin.model]
    client.force_login(staff_a)
    model = type(row_b)
    before = model_to_dict(model.objects.get(pk=row_b.pk))
    actions = model_admin.get_actions(_request_for(staff_a))

    for action in actions:
        data = {"action": action, ACTION_CHECKBOX_NAME: [row_b.pk], "post": "yes"}
        response = client.post(_url(model_admin, "changelist"), data)
        assert response.status_code in (200, 302, 403)
        assert model.objects.filter(pk=row_b.pk).exists(), f"{action} deleted org B's row"
        assert model_to_dict(model.objects.get(pk=row_b.pk)) == before, f"{action} changed it"


def _autocomplete_pairs():
    """(source admin, field) for every autocomplete field of every registered admin."""
    for source in admin.site._registry.values():
        for field_name in source.autocomplete_fields:
            yield source, field_name


@pytest.mark.parametrize(
    ("source", "field_name"),
    list(_autocomplete_pairs()),
    ids=[f"{s.model._meta.label}.{f}" for s, f in _autocomplete_pairs()],
)
def test_autocomplete_returns_only_own_rows(client, rows, staff_a, source, field_name):
    client.force_login(staff_a)
    meta = source.model._meta
    params = {"app_label": meta.app_label, "model_name": meta.model_name}
    params["field_name"] = field_name

    for term in ["", "beta", MARKER_B]:
        response = client.get(reverse("admin:autocomplete"), {**params, "term": term})
        if response.status_code == 403:  # the role may not use this form at all
            continue
        assert response.status_code == 200
        assert MARKER_B not in json.dumps(response.json()).lower()


def test_superuser_sees_both_tenants(client, rows, make_staff):
    client.force_login(make_staff(superuser=True))
    for model_admin in TENANT_ADMINS:
        row_a, row_b = rows[model_admin.model]
        body = client.get(_url(model_admin, "changelist")).content.decode()
        assert _url(model_admin, "change", row_a.pk) in body
        assert _url(model_admin, "change", row_b.pk) in body


@pytest.mark.parametrize("model_admin", OTHER_ADMINS, ids=_ids(OTHER_ADMINS))
def test_staff_cannot_open_global_admins(client, staff_a, model_admin):
    client.force_login(staff_a)
    assert client.get(_url(model_admin, "changelist")).status_code == 403


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_add_forms_cannot_point_at_another_organization(client, rows, staff_a, model_admin):
    """The relation that ties a new row to its organization only offers the user's own."""
    _, row_b = rows[model_admin.model]
    if model_admin.tenant_field == "pk":
        return
    link = model_admin.tenant_field.split("__")[0]  # "organization", or "model" for versions
    org_b = rows[model_admin.model][1]
    for part in model_admin.tenant_field.split("__"):
        org_b = getattr(org_b, part)
    model = model_admin.model
    client.force_login(staff_a)
    count_b = model.objects.filter(**{model_admin.tenant_field: org_b}).count()

    response = client.post(_url(model_admin, "add"), {link: getattr(row_b, link).pk})

    assert response.status_code in (200, 403)  # a form error, or no right to add at all
    assert model.objects.filter(**{model_admin.tenant_field: org_b}).count() == count_b
    if response.status_code == 200:
        assert "Select a valid choice" in response.content.decode()


def _request_for(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def test_models_are_registered_in_app_registry():
    # Guards the matrix itself: it must be checking something.
    assert len(TENANT_ADMINS) >= 3
    assert all(apps.is_installed(app) for app in OUR_APPS)
