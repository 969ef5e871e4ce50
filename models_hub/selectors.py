"""Reads for the registry: what the public, and an organization's own keys, may see.

Public means: a listed model of an active organization, and of it the versions that are ready
and published. Drafts (ready, not yet published), versions being validated, rejected, retired
or tampered ones are seen only by the owning organization.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, Q, QuerySet

from models_hub.choices import VersionStatus
from models_hub.models import AIModel, ModelVersion
from portal.choices import OrganizationStatus

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


def _addressed_sql(*, latest: bool) -> str:
    """One SELECT of a version by organization slug, model slug and version (or the latest
    public one), with what visibility needs of its model and organization."""
    from portal.models import Organization

    q = connection.ops.quote_name
    version_table, model_table = q(ModelVersion._meta.db_table), q(AIModel._meta.db_table)
    organization_table = q(Organization._meta.db_table)
    where = (
        f"v.{q('status')} = %s AND v.{q('published_at')} IS NOT NULL "
        f"ORDER BY v.{q('sort_key')} DESC"
        if latest
        else f"v.{q('version')} = %s"
    )
    # only quoted identifiers of our own tables are formatted in; every value is a parameter
    return (
        f"SELECT v.*, m.{q('listed')} AS model_listed, m.{q('organization_id')} AS model_org_id, "  # noqa: S608
        f"o.{q('status')} AS org_status FROM {version_table} v "
        f"JOIN {model_table} m ON v.{q('model_id')} = m.{q('id')} "
        f"JOIN {organization_table} o ON m.{q('organization_id')} = o.{q('id')} "
        f"WHERE o.{q('slug')} = %s AND m.{q('slug')} = %s AND {where} LIMIT 1"
    )


def version_addressed(
    *, org_slug: str, slug: str, version: str | None, own_organization_id: int | None
) -> ModelVersion | None:
    """A version by its address, or None when the caller may not see it: every version of the
    caller's own organization's models, else the public ones of a listed model of an active
    organization. ``version=None`` means the model's latest public version (drafts never
    count, even for the owner).

    The predict API's hot path: one raw query (the ORM's compiler cost a millisecond per call,
    a tenth of a 1,000-row request; ``bench/predict.py``). ``version.model`` loads lazily.
    """
    latest = version is None
    params = [org_slug, slug, str(VersionStatus.READY) if latest else version]
    found = next(iter(ModelVersion.objects.raw(_addressed_sql(latest=latest), params)), None)
    if found is None:
        return None
    if found.model_org_id == own_organization_id:
        return found
    public = found.status == VersionStatus.READY and found.published_at is not None
    if found.model_listed and found.org_status == OrganizationStatus.ACTIVE and public:
        return found
    return None
