"""The admin's one write path (``portal.service_admin``): forms and actions call services.

A service's ``ValidationError`` becomes a form error (never a 500, nothing written); an action
reports per-row refusals as messages and counts what it did; a page shown again after a POST
keeps none of that POST's writes; every tenant admin is a service admin.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory
from django.urls import reverse

from portal.admin import OrganizationAdmin
from portal.choices import Role
from portal.forms import OrganizationForm
from portal.models import Membership, Organization
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin

VALID_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


# the members inline's (read-only) formset, as the page submits it
MEMBERS_INLINE = {"memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"}


def _change(client, organization, **data):
    url = reverse("admin:portal_organization_change", args=[organization.pk])
    return client.post(
        url, {"name": organization.name, "treasury_address": "", **MEMBERS_INLINE, **data}
    )


def test_every_tenant_admin_writes_through_services():
    tenant_admins = [m for m in admin.site._registry.values() if isinstance(m, TenantAdminMixin)]

    assert tenant_admins
    assert all(isinstance(m, ServiceAdmin) for m in tenant_admins)
    assert not [e for m in tenant_admins for e in m.check() if e.id == "portal.E003"]


def test_a_tenant_admin_without_the_service_base_fails_the_system_check():
    class Plain(TenantAdminMixin, admin.ModelAdmin):
        pass

    errors = Plain(Organization, admin.AdminSite(name="probe")).check()

    assert "portal.E003" in {error.id for error in errors}


def test_an_owner_changes_the_organization_through_its_service(client, org_a, make_staff):
    client.force_login(make_staff(org_a, Role.OWNER))

    response = _change(
        client, org_a, name="Alpha Models Ltd", treasury_address=VALID_ADDRESS.lower()
    )

    assert response.status_code == 302
    org_a.refresh_from_db()
    assert org_a.name == "Alpha Models Ltd"
    assert org_a.treasury_address == VALID_ADDRESS  # the service stores the EIP-55 form


def test_a_service_error_is_a_field_error_and_writes_nothing(client, org_a, org_b, make_staff):
    owner = make_staff(org_a, Role.OWNER)
    client.force_login(owner)

    # the name is unique regardless of case: a database constraint the service checks
    response = _change(client, org_a, name=org_b.name.upper())

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "name" in form.errors, form.errors
    org_a.refresh_from_db()
    assert org_a.name == "Alpha Models"

    response = _change(client, org_a, treasury_address="0x1234")
    assert "treasury_address" in response.context["adminform"].form.errors
    assert Organization.objects.get(pk=org_a.pk).treasury_address == ""


def test_a_superuser_creates_an_organization_through_the_service(client, make_staff):
    client.force_login(make_staff(superuser=True))

    response = client.post(
        reverse("admin:portal_organization_add"),
        {"name": "Gamma", "slug": "gamma", "status": "active", **MEMBERS_INLINE},
    )

    assert response.status_code == 302
    assert Organization.objects.filter(slug="gamma", name="Gamma").exists()


def test_a_service_form_outside_a_service_admin_refuses_to_validate(org_a):
    form = OrganizationForm({"name": "X", "slug": "x", "status": "active"}, instance=org_a)

    with pytest.raises(ImproperlyConfigured):
        form.is_valid()


class _EditableMembers(admin.TabularInline):
    model = Membership
    fields = ["role"]
    extra = 0


class _ProbeOrganizationAdmin(OrganizationAdmin):
    """The organization admin with an editable inline: its own validation runs last."""

    inlines = [_EditableMembers]


def _post(user, data):
    request = RequestFactory().post("/admin/probe/", data)
    request.user = get_user_model().objects.get(pk=user.pk)
    request._messages = CookieStorage(request)
    request._dont_enforce_csrf_checks = True
    return request


def test_a_form_shown_again_after_a_post_keeps_none_of_its_writes(org_a, make_staff):
    # given: a valid organization form whose inline is invalid
    superuser = make_staff(superuser=True)
    membership = Membership.objects.get(user=make_staff(org_a, Role.OWNER))
    probe = _ProbeOrganizationAdmin(Organization, admin.AdminSite(name="probe"))
    prefix = "memberships"
    data = {
        "name": "Renamed by the probe",
        "slug": org_a.slug,
        "treasury_address": "",
        "status": "active",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-0-id": str(membership.pk),
        f"{prefix}-0-organization": str(org_a.pk),
        f"{prefix}-0-role": "emperor",  # not a role: the inline fails after the service ran
    }

    # when
    response = probe.changeform_view(_post(superuser, data), str(org_a.pk))

    # then: the page is shown again with the inline's error, and the rename was rolled back
    assert response.status_code == 200
    assert not response.context_data["adminform"].form.errors
    assert Organization.objects.get(pk=org_a.pk).name == "Alpha Models"


def test_delete_selected_refuses_the_last_owner_with_a_message(client, org_a, make_staff):
    # given: the organization's two owners, both selected for deletion
    first, second = make_staff(org_a, Role.OWNER), make_staff(org_a, Role.OWNER)
    client.force_login(make_staff(superuser=True))
    selected = list(Membership.objects.filter(role=Role.OWNER).values_list("pk", flat=True))

    # when
    response = client.post(
        reverse("admin:portal_membership_changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: selected, "post": "yes"},
        follow=True,
    )

    # then: one goes, the last one stays, and the messages say so
    assert response.status_code == 200
    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert any("keeps at least one owner" in message for message in shown), shown
    assert "Deleted 1 membership." in shown, shown
    assert Membership.objects.filter(organization=org_a, role=Role.OWNER).count() == 1
    assert {first.pk, second.pk} & set(Membership.objects.values_list("user_id", flat=True))


def test_revoke_counts_what_it_did_and_what_was_done_already(client, org_a, make_staff):
    from portal.services import api_key_create, api_key_revoke

    manager = make_staff(org_a, Role.MANAGER)
    keys = [
        api_key_create(organization=org_a, owner=manager, name=f"k{i}", scopes=["org:read"])
        for i in range(3)
    ]
    api_key_revoke(api_key=keys[0].api_key)
    client.force_login(manager)

    response = client.post(
        reverse("admin:portal_apikey_changelist"),
        {"action": "revoke_keys", ACTION_CHECKBOX_NAME: [k.api_key.pk for k in keys]},
        follow=True,
    )

    shown = [str(message) for message in get_messages(response.wsgi_request)]
    assert "Revoked 2 key(s)." in shown
    assert "1 key(s) were revoked already." in shown


def test_api_key_rules_live_in_the_service(client, org_a, make_staff):
    client.force_login(make_staff(org_a, Role.MANAGER))
    url = reverse("admin:portal_apikey_add")

    no_scope = client.post(url, {"organization": org_a.pk, "name": "k"})
    past = client.post(
        url,
        {
            "organization": org_a.pk,
            "name": "k",
            "scopes": ["org:read"],
            "expires_at_0": "2001-01-01",
            "expires_at_1": "00:00:00",
        },
    )

    assert no_scope.context["adminform"].form.errors["scopes"] == ["Choose at least one scope."]
    assert past.context["adminform"].form.errors["expires_at"] == [
        "The expiry must be in the future."
    ]
