"""Reads for the registry: what the public, and an organization's own keys, may see.

Public means: a listed model of an active organization, and of it the versions that are ready
and published. Drafts (ready, not yet published), versions being validated, rejected, retired
or tampered ones are seen only by the owning organization.
"""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from models_hub.choices import VersionStatus
from models_hub.models import AIModel, ModelVersion

PUBLIC_VERSION = Q(status=VersionStatus.READY, published_at__isnull=False)


def models_listed() -> QuerySet[AIModel]:
    public = Q(versions__status=VersionStatus.READY, versions__published_at__isnull=False)
    return (
        AIModel.objects.filter(listed=True, organization__status="active")
        .select_related("organization")
        .annotate(ready_versions=Count("versions", filter=public))
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
    """Every version for the owning organization; the published ready ones for anyone else."""
    versions = model.versions.order_by("-sort_key")
    return versions if own else versions.filter(PUBLIC_VERSION)
