"""Model registry API: public listing of listed models; uploads, publication and deletion of
versions for an organization's own keys (training pipelines)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.conf import settings
from ninja import File, Form, Path, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from models_hub import selectors, services
from models_hub.errors import ModelsErrorCode
from portal.api_errors import errors
from portal.auth import ApiKeyAuth, OptionalApiKey
from portal.choices import ApiScope
from portal.errors import DomainError, PortalErrorCode, detail
from portal.models import ApiKey
from portal.pagination import BoundedPageNumberPagination
from portal.uploads import oversized_uploads

router = Router(tags=["models"])

# Path parameters, with the demo's organization, model and version (`manage.py demo`) as examples.
OrgSlug = Annotated[str, Path(example="acme")]
ModelSlug = Annotated[str, Path(example="wine")]
VersionLabel = Annotated[str, Path(example="1.0.0")]

# Public reads: anonymous, or with a key (401 when the key sent is no good).
PUBLIC_OR_KEY = OptionalApiKey()


class ModelOut(Schema):
    organization: str
    slug: str
    name: str
    summary: str
    task: str
    tags: list[str]
    ready_versions: int


class FeatureRenameOut(Schema):
    before: str
    after: str


class SchemaChangeOut(Schema):
    """How a version's features (and classes) differ from the previous accepted version."""

    compared_with: str
    summary: str
    n_features_before: int
    n_features_after: int
    features_changed: bool
    features_added: list[str]
    features_removed: list[str]
    features_renamed: list[FeatureRenameOut]
    features_reordered: bool
    classes_changed: bool
    classes_added: list
    classes_removed: list


class VersionOut(Schema):
    version: str
    format: str
    status: str
    published: bool
    published_at: datetime | None
    rejection_reason: str
    rejection_code: str
    sha256: str
    size_bytes: int
    feature_names: list[str]
    n_features: int | None
    classes: list | None
    sklearn_version: str
    schema_change: SchemaChangeOut | None
    created_at: datetime
    validated_at: datetime | None

    @staticmethod
    def resolve_published(obj) -> bool:
        return obj.published_at is not None


class ModelDetailOut(ModelOut):
    model_card: str
    listed: bool
    versions: list[VersionOut]


def _own_org_id(request) -> int | None:
    key = request.auth
    if isinstance(key, ApiKey) and (
        key.has_scope(ApiScope.MODELS_READ) or key.has_scope(ApiScope.MODELS_WRITE)
    ):
        return key.organization_id
    return None


def _model_or_404(request, org: str, slug: str):
    model = selectors.model_visible(
        org_slug=org, slug=slug, own_organization_id=_own_org_id(request)
    )
    if model is None:
        raise DomainError(ModelsErrorCode.MODEL_NOT_FOUND, f"No model {org}/{slug}.")
    return model


def _model_out(model, ready_versions: int) -> dict:
    return {
        "organization": model.organization.slug,
        "slug": model.slug,
        "name": model.name,
        "summary": model.summary,
        "task": model.task,
        "tags": model.tags,
        "ready_versions": ready_versions,
    }


@router.get("", response={200: list[ModelOut], **errors(401, 422)}, auth=PUBLIC_OR_KEY)
@paginate(BoundedPageNumberPagination, page_size=50)
def list_models(request):
    """Listed models of every organization, with how many ready versions each has."""
    return [_model_out(m, m.ready_versions) for m in selectors.models_listed()]


@router.get("/{org}/{slug}", response={200: ModelDetailOut, **errors(401, 404)}, auth=PUBLIC_OR_KEY)
def model_detail(request, org: OrgSlug, slug: ModelSlug):
    """A listed model and its published ready versions (every version, drafts included, for
    its own organization's keys)."""
    model = _model_or_404(request, org, slug)
    own = model.organization_id == _own_org_id(request)
    versions = list(selectors.versions_visible(model=model, own=own))
    ready = sum(1 for v in versions if v.status == "ready")
    return {
        **_model_out(model, ready),
        "model_card": model.model_card,
        "listed": model.listed,
        "versions": versions,
    }


@router.get(
    "/{org}/{slug}/versions/{version}",
    response={200: VersionOut, **errors(401, 404)},
    auth=PUBLIC_OR_KEY,
)
def version_detail(request, org: OrgSlug, slug: ModelSlug, version: VersionLabel):
    """One version: its status, whether it is published, its schema change and, when
    rejected, the reason. Drafts are seen only by the model's own organization."""
    model = _model_or_404(request, org, slug)
    own = model.organization_id == _own_org_id(request)
    found = selectors.versions_visible(model=model, own=own).filter(version=version).first()
    if found is None:
        message = f"No version {version} of {org}/{slug}."
        raise DomainError(ModelsErrorCode.VERSION_NOT_FOUND, message)
    return found


# The document says what a client must send; the signature lets a missing artifact through so
# that one the size limit dropped answers 413, not "missing".
UPLOAD_FORM = {
    "required": ["artifact"],
    "properties": {"version": {"examples": ["1.2.0"]}, "format": {"examples": ["joblib"]}},
}
UPLOAD_BODY = {"content": {"multipart/form-data": {"schema": UPLOAD_FORM}}}


@router.post(
    "/{org}/{slug}/versions",
    response={201: VersionOut, **errors(400, 401, 403, 404, 409, 413, 422)},
    auth=ApiKeyAuth(ApiScope.MODELS_WRITE),
    openapi_extra={"requestBody": UPLOAD_BODY},
)
def version_upload(
    request,
    org: OrgSlug,
    slug: ModelSlug,
    version: Form[str],
    artifact: File[UploadedFile] = None,
    format: Form[str] = None,
):
    """Upload a version (scope `models:write`, the model's organization). Validation is queued;
    poll the version until its status is `ready` or `rejected`. A ready version is a draft
    until it is published (`POST .../publish`)."""
    key = request.auth
    model = _own_model(request, org, slug)
    if "artifact" in oversized_uploads(request):
        limit_mb = settings.FILE_UPLOAD_MAX_BYTES / 1024 / 1024
        message = f"The file is over the {limit_mb:.0f} MB limit."
        raise DomainError(ModelsErrorCode.ARTIFACT_TOO_LARGE, message)
    if artifact is None:
        message = "Send the file as the multipart field 'artifact'."
        raise DomainError(
            PortalErrorCode.VALIDATION_ERROR,
            message,
            details=[detail("artifact", "missing", message)],
        )
    # a ValidationError with a registered code answers that code (portal.api_errors)
    uploaded = services.version_upload(
        model=model,
        version=version,
        fileobj=artifact,
        filename=artifact.name or "",
        fmt=format or None,
        uploaded_by=key.owner,
    )
    return Status(201, uploaded)


def _own_model(request, org: str, slug: str):
    """The model, if the API key acts for its organization (403 otherwise, 404 if unseen)."""
    model = _model_or_404(request, org, slug)
    if model.organization_id != request.auth.organization_id:
        raise DomainError(PortalErrorCode.FORBIDDEN, "The API key acts for another organization.")
    return model


def _own_version(request, org: str, slug: str, version: str):
    model = _own_model(request, org, slug)
    found = model.versions.filter(version=version).first()
    if found is None:
        raise DomainError(
            ModelsErrorCode.VERSION_NOT_FOUND, f"No version {version} of {org}/{slug}."
        )
    return found


# The version actions' errors: a ValidationError with a registered code answers that code.
VERSION_RESPONSES = errors(401, 403, 404, 409, 503)


@router.post(
    "/{org}/{slug}/versions/{version}/publish",
    response={200: VersionOut, **VERSION_RESPONSES},
    auth=ApiKeyAuth(ApiScope.MODELS_WRITE),
)
def version_publish(request, org: OrgSlug, slug: ModelSlug, version: VersionLabel):
    """Publish a ready version (scope `models:write`, the model's organization): on a listed
    model it becomes public. Publishing a published version changes nothing. 409
    `version_not_ready` for any version that is not ready."""
    found = _own_version(request, org, slug, version)
    services.version_publish(version=found, published_by=request.auth.owner)
    return found


@router.post(
    "/{org}/{slug}/versions/{version}/unpublish",
    response={200: VersionOut, **errors(401, 403, 404)},
    auth=ApiKeyAuth(ApiScope.MODELS_WRITE),
)
def version_unpublish(request, org: OrgSlug, slug: ModelSlug, version: VersionLabel):
    """Take a version out of public view; it is a draft again (scope `models:write`)."""
    found = _own_version(request, org, slug, version)
    services.version_unpublish(version=found)
    return found


@router.delete(
    "/{org}/{slug}/versions/{version}",
    response={204: None, **VERSION_RESPONSES},
    auth=ApiKeyAuth(ApiScope.MODELS_WRITE),
)
def version_delete(request, org: OrgSlug, slug: ModelSlug, version: VersionLabel):
    """Delete a rejected or retired version that was never public, with its file (scope
    `models:write`). 409 `version_not_deletable` for any other version: retire those. 503
    `version_delete_incomplete` when the file store failed: the version stays marked
    `deleting`; send the DELETE again."""
    found = _own_version(request, org, slug, version)
    services.version_delete(version=found)
    return Status(204, None)
