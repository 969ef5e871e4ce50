"""Reads for the registry: what the public, and an organization's own keys, may see."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from models_hub.choices import VersionStatus
from models_hub.models import AIModel, ModelVersion


def models_listed() -> QuerySet[AIModel]:
    ready = Q(versions__status=VersionStatus.READY)
    return (
        AIModel.objects.filter(listed=True, organization__status="active")
        .select_related("organization")
        .annotate(ready_versions=Count("versions", filter=ready))
        .order_by("organization__slug", "slug")
    )


def model_visible(*, org_slug: str, slug: str, own_organization_id: int | None) -> AIModel | None:
    """A model by its address, if listed or the caller's organization owns it."""
    model = (
        AIModel.objects.select_related("organization")
        .filter(organization__slug=org_slug, slug=slug)
        .first()
    )
    if model is None:
        return None
    if model.organization_id == own_organization_id:
        return model
    if model.listed and model.organization.is_active:
        return model
    return None


def versions_visible(*, model: AIModel, own: bool) -> QuerySet[ModelVersion]:
    versions = model.versions.order_by("-sort_key")
    return versions if own else versions.filter(status=VersionStatus.READY)
