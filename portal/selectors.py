"""Reads about organizations and who may act in them."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.choices import OrganizationStatus, Role
from portal.models import Organization


def organizations_for(*, user, min_role: Role = Role.VIEWER) -> QuerySet[Organization]:
    """Active organizations where ``user`` holds at least ``min_role`` (all, for superusers)."""
    if not user.is_authenticated or not user.is_active:
        return Organization.objects.none()
    if user.is_superuser:
        return Organization.objects.all()
    return Organization.objects.filter(
        status=OrganizationStatus.ACTIVE,
        memberships__user=user,
        memberships__role__in=Role.at_least(min_role),
    ).distinct()


def organization_ids_for(*, user, min_role: Role = Role.VIEWER) -> set[int]:
    """The same as ``organizations_for`` as a set of ids, cached on the user object per request."""
    cache = user.__dict__.setdefault("_portal_org_ids", {})
    if min_role not in cache:
        cache[min_role] = set(
            organizations_for(user=user, min_role=min_role).values_list("pk", flat=True)
        )
    return cache[min_role]
