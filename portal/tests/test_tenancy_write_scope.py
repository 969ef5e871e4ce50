"""The tenancy mixin's write scope, probed where no registered admin exercises it yet.

The tenant matrix checks every registered admin; these probes check the mechanism itself: an
inline with an editable relation, an action that forgets to narrow its queryset, autocomplete
asked for by a form that no tenant admin serves, and the system checks.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.urls import reverse

from models_hub import services as models_services
from models_hub.choices import Task
from models_hub.models import AIModel, ModelVersion
from models_hub.tests.factories import version_row
from portal.choices import Role
from portal.models import Membership
from portal.services import membership_set
from portal.tenancy import TenantAdminMixin, TenantInlineMixin


@pytest.fixture
def member_of_both(make_staff, org_a, org_b):
    """Make a user with ``role_a`` in org A and ``role_b`` in org B."""

    def make(role_a: Role, role_b: Role):
        user = make_staff(org_a, role_a)
        membership_set(organization=org_b, user=user, role=role_b)
        return user

    return make


@pytest.fixture
def models_ab(org_a, org_b):
    return tuple(
        models_services.model_create(
            organization=org, name=f"Probe {org.slug}", task=Task.REGRESSION
        )
        for org in (org_a, org_b)
    )


def _request(user):
    request = RequestFactory().post("/admin/")
    request.user = get_user_model().objects.get(pk=user.pk)
    request._messages = CookieStorage(request)
    return request


class VersionsByUploaderInline(TenantInlineMixin, admin.TabularInline):
    """Versions under their uploader: ``model`` is an editable relation to a tenant model."""

    model = ModelVersion
    fk_name = "uploaded_by"
    fields = ["model", "version"]


class MembershipsOfUserInline(TenantInlineMixin, admin.TabularInline):
    model = Membership
    fk_name = "user"
    fields = ["organization", "role"]
    tenant_write_role = Role.OWNER


def test_inline_choices_are_rows_of_organizations_where_the_user_writes(member_of_both, models_ab):
    model_a, model_b = models_ab
    request = _request(member_of_both(Role.MANAGER, Role.VIEWER))
    inline = VersionsByUploaderInline(get_user_model(), admin.site)

    field = inline.formfield_for_foreignkey(ModelVersion._meta.get_field("model"), request)

    assert model_a in field.queryset
    assert model_b not in field.queryset
    assert field.clean(model_a.pk) == model_a
    with pytest.raises(ValidationError) as refused:
        field.clean(model_b.pk)
    assert refused.value.code == "invalid_choice"


def test_inline_choices_follow_the_inlines_own_write_role(member_of_both, org_a, org_b):
    request = _request(member_of_both(Role.MANAGER, Role.OWNER))
    inline = MembershipsOfUserInline(get_user_model(), admin.site)

    field = inline.formfield_for_foreignkey(Membership._meta.get_field("organization"), request)

    assert list(field.queryset) == [org_b]  # owners only; the user manages A but owns B
    with pytest.raises(ValidationError):
        field.clean(org_a.pk)


class ProbeModelAdmin(TenantAdminMixin, admin.ModelAdmin):
    """An admin whose actions do not narrow their queryset themselves."""

    actions = ["touch", "export"]

    @admin.action(description="Touch", permissions=["change"])
    def touch(self, request, queryset):
        self.touched = set(queryset)

    @admin.action(description="Export", permissions=["view"])
    def export(self, request, queryset):
        self.exported = set(queryset)


def _run_action(model_admin, request, name, queryset):
    func, _, _ = model_admin.get_actions(request)[name]
    return func(model_admin, request, queryset)


def test_actions_get_only_the_rows_the_user_may_change(member_of_both, models_ab):
    model_a, model_b = models_ab
    request = _request(member_of_both(Role.MANAGER, Role.VIEWER))
    probe = ProbeModelAdmin(AIModel, admin.site)
    selected = probe.get_queryset(request).filter(pk__in=[model_a.pk, model_b.pk])

    _run_action(probe, request, "touch", selected)

    assert probe.touched == {model_a}
    shown = [str(message) for message in request._messages._queued_messages]
    assert any("1 selected row" in message for message in shown), shown


def test_view_actions_and_superusers_get_the_whole_selection(make_staff, member_of_both, models_ab):
    probe = ProbeModelAdmin(AIModel, admin.site)
    request = _request(member_of_both(Role.MANAGER, Role.VIEWER))
    _run_action(probe, request, "export", probe.get_queryset(request))
    assert probe.exported == set(models_ab)

    superuser = _request(make_staff(superuser=True))
    _run_action(probe, superuser, "touch", AIModel.objects.filter(pk__in=[m.pk for m in models_ab]))
    assert probe.touched == set(models_ab)


def test_autocomplete_asked_by_a_form_no_tenant_admin_serves_offers_nothing(
    client, member_of_both, org_a, org_b
):
    versions = [version_row(org, f"probe-{org.slug}") for org in (org_a, org_b)]
    client.force_login(member_of_both(Role.OWNER, Role.OWNER))
    # licensing's projections are read-only tenant admins: staff never fill their forms
    params = {"app_label": "licensing", "model_name": "publishedversion"}

    response = client.get(reverse("admin:autocomplete"), {**params, "field_name": "model_version"})

    assert response.status_code == 200
    assert response.json()["results"] == []
    assert all(ModelVersion.objects.filter(pk=v.pk).exists() for v in versions)


def test_tenant_admins_may_not_use_raw_id_fields_or_list_editable():
    class RawIds(ProbeModelAdmin):
        raw_id_fields = ["organization"]

    class Editable(ProbeModelAdmin):
        list_display = ["name", "listed"]
        list_editable = ["listed"]

    site = admin.AdminSite(name="probe")
    assert "portal.E001" in {error.id for error in RawIds(AIModel, site).check()}
    assert "portal.E002" in {error.id for error in Editable(AIModel, site).check()}
