"""Factories that make one row of each tenant model for the tenant matrix.

Every admin registered with ``TenantAdminMixin`` needs a factory here or in its app's
``tests/factories.py``: ``factory(organization, marker) -> row`` where ``marker`` is a string
the row must show in its admin pages (its name, say). The matrix test fails for a tenant
admin without a factory, so a new admin joins the matrix by being registered.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db.models import Model

from portal.choices import ApiScope, Role
from portal.models import ApiKey, Membership, Organization
from portal.services import api_key_create, membership_set

TENANT_ROW_FACTORIES: dict[type[Model], Callable[[Organization, str], Model]] = {}


def tenant_row_factory(model: type[Model]):
    def register(factory):
        TENANT_ROW_FACTORIES[model] = factory
        return factory

    return register


@tenant_row_factory(Organization)
def organization_row(organization: Organization, marker: str) -> Organization:
    return organization


@tenant_row_factory(Membership)
def membership_row(organization: Organization, marker: str) -> Membership:
    email = f"{marker}-member@{organization.slug}.example.com".lower()
    user = get_user_model().objects.create_user(username=email, email=email)
    return membership_set(organization=organization, user=user, role=Role.VIEWER)


@tenant_row_factory(ApiKey)
def api_key_row(organization: Organization, marker: str) -> ApiKey:
    email = f"{marker}-keyowner@{organization.slug}.example.com".lower()
    owner = get_user_model().objects.create_user(username=email, email=email)
    return api_key_create(
        organization=organization, owner=owner, name=f"{marker} key", scopes=[ApiScope.ORG_READ]
    ).api_key
