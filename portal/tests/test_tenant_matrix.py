"""The tenant matrix: every registered tenant admin, two organizations, every role.

Admins join by being registered with ``TenantAdminMixin`` (and a row factory, see
``portal/tests/factories.py``); nothing here names a particular model.

The first part checks a member of org A only (org B must never leak). The second part checks
members of both organizations with a different role in each: what they may write follows their
role in the organization of each row and of each related row they pick.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.forms.models import model_to_dict
from django.urls import reverse

from portal.choices import Role
from portal.models import Organization
from portal.services import membership_set
from portal.tenancy import TenantAdminMixin, organization_of
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


@dataclass
class World:
    """Org A and org B, one row per tenant model in each, and their staff: built once for the
    module (``module_rows``); every test rolls back what it changed."""

    org_a: Organization
    org_b: Organization
    rows: dict  # model -> (row of org A, row of org B)
    staff_a: dict  # role -> a member of org A only
    staff_ab: dict  # (role in A, role in B) -> a member of both


ROLE_PAIRS = [(in_a, in_b) for in_a in Role for in_b in Role if in_a != in_b]


def _matrix_user(label: str, memberships):
    email = f"matrix-{label}@example.com"
    user = get_user_model().objects.create_user(username=email, email=email, is_staff=True)
    for organization, role in memberships:
        membership_set(organization=organization, user=user, role=role)
    return user


@pytest.fixture(scope="module")
def world(module_rows):
    from portal.services import organization_create

    with module_rows.unblock():
        org_a = organization_create(name="Alpha Models", slug="alpha")
        # its name is a marker that must never appear on org A's pages
        org_b = organization_create(name="Beta-LEAK Analytics", slug="beta-leak")
        _matrix_user("owner-of-b", [(org_b, Role.OWNER)])
        rows = {}
        for model_admin in TENANT_ADMINS:
            factory = TENANT_ROW_FACTORIES[model_admin.model]
            rows[model_admin.model] = (factory(org_a, MARKER_A), factory(org_b, MARKER_B))
        staff_a = {}
        for role in Role:
            staff_a[role] = _matrix_user(f"{role}-of-a", [(org_a, role)])
            staff_a[role].role = role
        staff_ab = {}
        for role_a, role_b in ROLE_PAIRS:
            user = _matrix_user(f"{role_a}-of-a-{role_b}-of-b", [(org_a, role_a), (org_b, role_b)])
            user.roles = {org_a.pk: role_a, org_b.pk: role_b}
            staff_ab[role_a, role_b] = user
    return World(org_a, org_b, rows, staff_a, staff_ab)


@pytest.fixture
def org_a(db, world):
    return world.org_a


@pytest.fixture
def org_b(db, world):
    return world.org_b


@pytest.fixture
def rows(db, world):
    """One row per tenant model in each organization."""
    return world.rows


@pytest.fixture(params=[Role.OWNER, Role.MANAGER, Role.VIEWER])
def staff_a(request, db, world):
    """A staff member of org A with each role (org B exists with its own owner)."""
    return world.staff_a[request.param]


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
        queries.append({org_lookup: organization_of(row_b, model_admin.tenant_field)})

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
    request.user = get_user_model().objects.get(pk=user.pk)  # no organization ids cached yet
    return request


def test_models_are_registered_in_app_registry():
    # Guards the matrix itself: it must be checking something.
    assert len(TENANT_ADMINS) >= 3
    assert all(apps.is_installed(app) for app in OUR_APPS)


# --- Members of both organizations, with a different role in each ----------------------------


@pytest.fixture(params=ROLE_PAIRS, ids=[f"{a}-of-A+{b}-of-B" for a, b in ROLE_PAIRS])
def staff_ab(request, db, world):
    """A staff member with one role in org A and another in org B."""
    return world.staff_ab[request.param]


def _writable(user, model_admin) -> set[int]:
    """The organizations where ``user`` holds the role that ``model_admin`` writes with."""
    needed = Role.at_least(model_admin.tenant_write_role)
    return {org_id for org_id, role in user.roles.items() if role in needed}


def _orgs_of(row) -> set[int] | None:
    """The organizations a choice belongs to (a user's: theirs); None for non-tenant rows."""
    if isinstance(row, Organization):
        return {row.pk}
    if isinstance(row, get_user_model()):
        return set(row.memberships.values_list("organization_id", flat=True))
    model_admin = admin.site._registry.get(type(row))
    if isinstance(model_admin, TenantAdminMixin):
        return {organization_of(row, model_admin.tenant_field)}
    return None


def _rows_by_org(rows, user, model):
    """(organization id, row) for the matrix rows of ``model`` in orgs A and B."""
    return list(zip(user.roles, rows.get(model, ()), strict=False))


def _relation_fields(form):
    pk_name = form._meta.model._meta.pk.name
    for name, field in form.fields.items():
        if isinstance(field, forms.ModelChoiceField) and name != pk_name:
            yield name, field


def _assert_choices_writable(form, rows, user, writable, where):
    for name, field in _relation_fields(form):
        offered = list(field.queryset)
        for choice in offered:
            orgs = _orgs_of(choice)
            assert orgs is None or orgs & writable, (
                f"{where}: {name} offers {choice!r}, of an organization the user may not write to"
            )
        for org_id, row in _rows_by_org(rows, user, field.queryset.model):
            if org_id in writable:
                assert row in offered, f"{where}: {name} does not offer {row!r}"


def _error_codes(form, name) -> list[str]:
    return [error.code for error in form.errors.as_data().get(name, [])]


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_add_form_offers_rows_of_writable_organizations_only(client, rows, staff_ab, model_admin):
    client.force_login(staff_ab)
    writable = _writable(staff_ab, model_admin)

    response = client.get(_url(model_admin, "add"))

    if not writable or not model_admin.has_add_permission(_request_for(staff_ab)):
        assert response.status_code == 403
        return
    assert response.status_code == 200
    form = response.context["adminform"].form
    _assert_choices_writable(form, rows, staff_ab, writable, "add form")


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_add_form_refuses_a_related_row_where_the_user_may_not_write(
    client, rows, staff_ab, model_admin
):
    client.force_login(staff_ab)
    writable = _writable(staff_ab, model_admin)
    add_url = _url(model_admin, "add")
    page = client.get(add_url)
    if page.status_code == 403:
        return  # no right to add anywhere: the test above checks that
    model, tenant_field = model_admin.model, model_admin.tenant_field
    counts = {org: _scope_rows(model, tenant_field, org).count() for org in staff_ab.roles}

    for name, field in _relation_fields(page.context["adminform"].form):
        for org_id, row in _rows_by_org(rows, staff_ab, field.queryset.model):
            response = client.post(add_url, {name: row.pk})

            assert response.status_code in (200, 302)
            form = response.context["adminform"].form if response.context else None
            codes = _error_codes(form, name) if form is not None else []
            if org_id in writable:
                assert "invalid_choice" not in codes, f"{name}={row!r} refused where writable"
            else:
                assert response.status_code == 200, f"{name}={row!r} was accepted"
                assert "invalid_choice" in codes, f"{name}={row!r} is not a form error"
    for org_id, count in counts.items():
        if org_id not in writable:
            assert _scope_rows(model, tenant_field, org_id).count() == count, "a row was written"


def _scope_rows(model, tenant_field, org_id):
    return model.objects.filter(**{tenant_field: org_id})


def _submitted(form) -> dict:
    """What a browser submits for ``form`` as it stands (its initial values)."""
    data = {}
    for bound in form:
        value, widget = bound.value(), bound.field.widget
        if isinstance(widget, forms.MultiWidget):
            for suffix, part in zip(widget.widgets_names, widget.decompress(value), strict=True):
                data[bound.html_name + suffix] = "" if part is None else str(part)
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(item) for item in value]
        elif value is not None:
            data[bound.html_name] = str(value)
    return data


def _alter(form, data: dict) -> str | None:
    """Change one editable value in ``data`` (a text, or else a choice); return its name."""
    for bound in form:
        if type(bound.field) is forms.CharField and bound.value():
            data[bound.html_name] = f"{bound.value()} edited"
            return bound.name
    for bound in form:
        if isinstance(bound.field, forms.ChoiceField) and not isinstance(
            bound.field, forms.ModelChoiceField
        ):
            others = [key for key, _ in bound.field.choices if key and key != bound.value()]
            if others:
                data[bound.html_name] = str(others[0])
                return bound.name
    return None


def _change_data(model_admin, obj, writer) -> tuple[dict, str | None, list]:
    """The change form (with inlines) as ``writer`` would submit it, with one value altered."""
    request = _request_for(writer)
    form = model_admin.get_form(request, obj, change=True)(instance=obj)
    data = _submitted(form)
    altered = _alter(form, data)
    formsets = []
    for formset_class, inline in model_admin.get_formsets_with_inlines(request, obj):
        prefix = formset_class.get_default_prefix()
        formset = formset_class(**model_admin.get_formset_kwargs(request, obj, inline, prefix))
        data.update(_submitted(formset.management_form))
        for inline_form in formset.forms:
            data.update(_submitted(inline_form))
        formsets.append((inline, formset))
    return data, altered, formsets


def _stored(row):
    return model_to_dict(type(row).objects.get(pk=row.pk))


@pytest.mark.parametrize("model_admin", TENANT_ADMINS, ids=_ids(TENANT_ADMINS))
def test_change_form_follows_the_role_in_the_rows_organization(
    client, rows, staff_ab, make_staff, model_admin
):
    writable = _writable(staff_ab, model_admin)

    for org_id, row in _rows_by_org(rows, staff_ab, model_admin.model):
        # given: a complete change, as a writer of that organization would submit it
        writer = make_staff(Organization.objects.get(pk=org_id), Role.OWNER)
        data, altered, _ = _change_data(model_admin, row, writer)
        client.force_login(staff_ab)
        url = _url(model_admin, "change", row.pk)
        before = _stored(row)

        page = client.get(url)
        response = client.post(url, data)

        assert page.status_code == 200
        if org_id not in writable:
            assert 'name="_save"' not in page.content.decode(), "a viewer was offered a save"
            assert response.status_code == 403
            assert _stored(row) == before, "a viewer's POST changed the row"
        elif model_admin.has_change_permission(_request_for(staff_ab), row):
            errors = response.context and response.context["adminform"].form.errors
            assert response.status_code == 302, errors
            assert altered is None or _stored(row) != before


@pytest.mark.parametrize(
    "model_admin",
    [m for m in TENANT_ADMINS if m.inlines],
    ids=_ids([m for m in TENANT_ADMINS if m.inlines]),
)
def test_inline_choices_and_submitted_values_follow_write_scope(
    client, rows, staff_ab, make_staff, model_admin
):
    client.force_login(staff_ab)
    for org_id, parent in _rows_by_org(rows, staff_ab, model_admin.model):
        page = client.get(_url(model_admin, "change", parent.pk))
        assert page.status_code == 200
        for inline_admin_formset in page.context["inline_admin_formsets"]:
            writable = _writable(staff_ab, inline_admin_formset.opts)
            formset = inline_admin_formset.formset
            for inline_form in [*formset.forms, formset.empty_form]:
                _assert_choices_writable(inline_form, rows, staff_ab, writable, "inline")
        if org_id not in _writable(staff_ab, model_admin):
            continue  # read-only page: the change-form test checks that a POST is refused

        writer = make_staff(Organization.objects.get(pk=org_id), Role.OWNER)
        data, _, formsets = _change_data(model_admin, parent, writer)
        for inline, formset in formsets:
            writable = _writable(staff_ab, inline)
            for inline_form in formset.forms:
                for name, field in _relation_fields(inline_form):
                    for other_org, row in _rows_by_org(rows, staff_ab, field.queryset.model):
                        if other_org in writable:
                            continue
                        posted = client.post(
                            _url(model_admin, "change", parent.pk),
                            {**data, inline_form.add_prefix(name): row.pk},
                        )
                        assert posted.status_code == 200, f"inline {name}={row!r} was saved"
                        inline_formsets = posted.context["inline_admin_formsets"]
                        errors = " ".join(str(f.formset.errors) for f in inline_formsets)
                        assert "Select a valid choice" in errors, f"inline {name}={row!r}"


def _action_params():
    for model_admin in TENANT_ADMINS:
        for _func, name, _description in model_admin._get_base_actions():
            yield model_admin, name


@pytest.mark.parametrize(
    ("model_admin", "action"),
    list(_action_params()),
    ids=[f"{m.model._meta.label}.{name}" for m, name in _action_params()],
)
def test_actions_change_only_rows_the_user_may_write(client, rows, staff_ab, model_admin, action):
    client.force_login(staff_ab)
    model, tenant_field = model_admin.model, model_admin.tenant_field
    read_only = set(staff_ab.roles) - _writable(staff_ab, model_admin)
    selected = [row.pk for row in rows[model]]

    def snapshot():
        return {
            org_id: [model_to_dict(r) for r in _scope_rows(model, tenant_field, org_id)]
            for org_id in read_only
        }

    before = snapshot()
    # the confirmed form (delete_selected's second step), then the changelist's own form
    for extra in ({"post": "yes"}, {"index": "0", "select_across": "1", "post": "yes"}):
        response = client.post(
            _url(model_admin, "changelist"),
            {"action": action, ACTION_CHECKBOX_NAME: selected, **extra},
        )
        assert response.status_code in (200, 302, 403)
        assert snapshot() == before, f"{action} changed rows of a read-only organization"


@pytest.mark.parametrize(
    ("source", "field_name"),
    [(s, f) for s, f in _autocomplete_pairs() if isinstance(s, TenantAdminMixin)],
    ids=[
        f"{s.model._meta.label}.{f}"
        for s, f in _autocomplete_pairs()
        if isinstance(s, TenantAdminMixin)
    ],
)
def test_autocomplete_of_a_write_form_offers_writable_rows_only(
    client, rows, staff_ab, source, field_name
):
    client.force_login(staff_ab)
    writable = _writable(staff_ab, source)
    meta = source.model._meta
    remote = meta.get_field(field_name).remote_field.model
    params = {"app_label": meta.app_label, "model_name": meta.model_name}

    response = client.get(reverse("admin:autocomplete"), {**params, "field_name": field_name})

    assert response.status_code == 200
    offered = {int(result["id"]) for result in response.json()["results"]}
    for pk in offered:
        orgs = _orgs_of(remote.objects.get(pk=pk))
        assert orgs is None or orgs & writable, f"{remote.__name__} {pk} is not writable"
    for org_id, row in _rows_by_org(rows, staff_ab, remote):
        if org_id in writable:
            assert row.pk in offered, f"{row!r} is missing"
