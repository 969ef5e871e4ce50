"""Model registry API: public listing of listed models, and uploads for training pipelines."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import PageNumberPagination, paginate

from models_hub import selectors, services
from portal.api_errors import ApiError, ErrorOut
from portal.auth import ApiKeyAuth
from portal.choices import ApiScope
from portal.models import ApiKey
from portal.uploads import oversized_uploads

router = Router(tags=["models"])

# Service error codes and the HTTP status each answers with.
UPLOAD_RESPONSES = {s: ErrorOut for s in (401, 403, 404, 409, 413, 422)}
UPLOAD_ERROR_STATUS = {
    "version_exists": 409,
    "artifact_too_large": 413,
    "empty_artifact": 422,
    "unknown_format": 422,
}


def _anonymous(request):
    return "anonymous"


PUBLIC_OR_KEY = [ApiKeyAuth(), _anonymous]


class ModelOut(Schema):
    organization: str
    slug: str
    name: str
    summary: str
    task: str
    tags: list[str]
    ready_versions: int


class VersionOut(Schema):
    version: str
    format: str
    status: str
    rejection_reason: str
    sha256: str
    size_bytes: int
    feature_names: list[str]
    n_features: int | None
    classes: list | None
    sklearn_version: str
    created_at: datetime
    validated_at: datetime | None


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
        raise ApiError(404, "model_not_found", f"No model {org}/{slug}.")
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


@router.get("", response=list[ModelOut], auth=PUBLIC_OR_KEY)
@paginate(PageNumberPagination, page_size=50)
def list_models(request):
    """Listed models of every organization, with how many ready versions each has."""
    return [_model_out(m, m.ready_versions) for m in selectors.models_listed()]


@router.get("/{org}/{slug}", response={200: ModelDetailOut, 404: ErrorOut}, auth=PUBLIC_OR_KEY)
def model_detail(request, org: str, slug: str):
    """A listed model and its ready versions (every version for its own organization's keys)."""
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
    response={200: VersionOut, 404: ErrorOut},
    auth=PUBLIC_OR_KEY,
)
def version_detail(request, org: str, slug: str, version: str):
    """One version: its status and, when rejected, the reason."""
    model = _model_or_404(request, org, slug)
    own = model.organization_id == _own_org_id(request)
    found = selectors.versions_visible(model=model, own=own).filter(version=version).first()
    if found is None:
        raise ApiError(404, "version_not_found", f"No version {version} of {org}/{slug}.")
    return found


@router.post(
    "/{org}/{slug}/versions",
    response={201: VersionOut, **UPLOAD_RESPONSES},
    auth=ApiKeyAuth(ApiScope.MODELS_WRITE),
)
def version_upload(
    request,
    org: str,
    slug: str,
    version: Form[str],
    artifact: File[UploadedFile | None] = None,
    format: Form[str | None] = None,
):
    """Upload a version (scope `models:write`, the model's organization). Validation is queued;
    poll the version until its status is `ready` or `rejected`."""
    key = request.auth
    model = _model_or_404(request, org, slug)
    if model.organization_id != key.organization_id:
        raise ApiError(403, "forbidden", "The API key acts for another organization.")
    if "artifact" in oversized_uploads(request):
        limit_mb = settings.FILE_UPLOAD_MAX_BYTES / 1024 / 1024
        message = f"The file is over the {limit_mb:.0f} MB limit."
        raise ApiError(413, "artifact_too_large", message)
    if artifact is None:
        raise ApiError(422, "validation_error", "Send the file as the multipart field 'artifact'.")
    try:
        uploaded = services.version_upload(
            model=model,
            version=version,
            fileobj=artifact,
            filename=artifact.name or "",
            fmt=format or None,
            uploaded_by=key.owner,
        )
    except ValidationError as exc:
        raise _upload_error(exc) from None
    return Status(201, uploaded)


def _upload_error(exc: ValidationError) -> ApiError:
    details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    codes = [
        error.code
        for errors in getattr(exc, "error_dict", {}).values()
        for error in errors
        if error.code in UPLOAD_ERROR_STATUS
    ]
    code = codes[0] if codes else "validation_error"
    message = next(iter(next(iter(details.values()))), "The upload did not validate.")
    return ApiError(UPLOAD_ERROR_STATUS.get(code, 422), code, message, details)
