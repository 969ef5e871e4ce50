"""Writes for the model registry: models, uploads, validation, retirement, verified reads."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from models_hub.choices import ArtifactFormat, Task, VersionStatus
from models_hub.errors import ModelsErrorCode
from models_hub.loading import (
    ArtifactTampered,
    MalformedArtifact,
    UntrustedContent,
    deserialize,
    model_cache,
    read_verified,
)
from models_hub.models import AIModel, ModelVersion, artifact_upload_to, version_sort_key

logger = logging.getLogger(__name__)

EXTENSIONS = {
    ".joblib": ArtifactFormat.JOBLIB,
    ".pkl": ArtifactFormat.JOBLIB,
    ".pickle": ArtifactFormat.JOBLIB,
    ".skops": ArtifactFormat.SKOPS,
}


@transaction.atomic
def model_save(*, model: AIModel) -> AIModel:
    """Save a model edited in the admin (tags normalized, validated)."""
    model.tags = sorted({str(tag).strip().lower() for tag in model.tags if str(tag).strip()})
    model.full_clean()
    model.save()
    return model


@transaction.atomic
def model_create(
    *,
    organization,
    name: str,
    task: Task | str,
    slug: str = "",
    summary: str = "",
    model_card: str = "",
    tags: list[str] | tuple[str, ...] = (),
    listed: bool = False,
) -> AIModel:
    model = AIModel(
        organization=organization,
        name=name.strip(),
        slug=slug or slugify(name)[:80],
        task=task,
        summary=summary,
        model_card=model_card,
        tags=sorted({tag.strip().lower() for tag in tags if tag.strip()}),
        listed=listed,
    )
    model.full_clean()
    model.save()
    return model


# --- upload ----------------------------------------------------------------------------------


class _TooLarge(Exception):
    pass


class _HashingReader:
    """Wraps an upload: hashes and counts bytes as storage reads them, stops past the limit."""

    def __init__(self, source, limit: int):
        self.source = source
        self.limit = limit
        self.size = 0
        self.digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        chunk = self.source.read(size if size and size > 0 else 1024 * 1024)
        self.size += len(chunk)
        if self.size > self.limit:
            raise _TooLarge
        self.digest.update(chunk)
        return chunk


def field_error(field: str, message: str, code: str) -> ValidationError:
    """A field error that keeps its code (``models_hub.errors``; the API answers its status)."""
    return ValidationError({field: ValidationError(message, code=code)})


def format_for(filename: str, declared: str | None) -> str:
    if declared:
        if declared not in ArtifactFormat.values:
            message = f"Unknown format {declared!r}: use joblib or skops."
            raise field_error("format", message, ModelsErrorCode.UNKNOWN_FORMAT.code)
        return declared
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if suffix not in EXTENSIONS:
        message = "Name the file *.joblib, *.pkl or *.skops, or give the format."
        raise field_error("artifact", message, ModelsErrorCode.UNKNOWN_FORMAT.code)
    return EXTENSIONS[suffix]


def version_upload(
    *,
    model: AIModel,
    version: str,
    fileobj,
    filename: str,
    fmt: str | None = None,
    uploaded_by=None,
) -> ModelVersion:
    """Stream an artifact to storage (hashing it, enforcing the size limit) and queue validation.

    Every rejection here leaves nothing behind: no row, no stored file.
    """
    version = version.strip()
    row = ModelVersion(model=model, version=version, format=format_for(filename, fmt))
    row.sort_key = version_sort_key(version)
    if ModelVersion.objects.filter(model=model, version=version).exists():
        raise _version_exists(version)
    reader = _HashingReader(fileobj, settings.MODEL_ARTIFACT_MAX_BYTES)
    name = artifact_upload_to(row, filename)
    try:
        stored = default_storage.save(name, File(reader, name=filename))
    except _TooLarge:
        default_storage.delete(name)
        limit_mb = settings.MODEL_ARTIFACT_MAX_BYTES / 1024 / 1024
        message = f"The file is over the {limit_mb:.0f} MB limit."
        raise field_error("artifact", message, ModelsErrorCode.ARTIFACT_TOO_LARGE.code) from None
    except BaseException:  # a client that went away, a full disk: leave no partial file
        default_storage.delete(name)
        raise
    if reader.size == 0:
        default_storage.delete(stored)
        raise field_error("artifact", "The file is empty.", ModelsErrorCode.EMPTY_ARTIFACT.code)
    row.artifact.name = stored
    row.sha256 = reader.digest.hexdigest()
    row.size_bytes = reader.size
    row.original_filename = filename[:255]
    row.uploaded_by = uploaded_by
    try:
        _save_uploaded(row)
    except BaseException:
        default_storage.delete(stored)
        raise
    return row


def _version_exists(version: str) -> ValidationError:
    message = f"Version {version} of this model exists already."
    return field_error("version", message, ModelsErrorCode.VERSION_EXISTS.code)


@transaction.atomic
def _save_uploaded(row: ModelVersion) -> None:
    row.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise _version_exists(row.version) from None
    _enqueue_validation(row.pk)


def _enqueue_validation(version_id: int) -> None:
    # by name: the task module imports this one, so this one does not import it back
    transaction.on_commit(
        lambda: current_app.send_task("models_hub.version_validate", args=[version_id])
    )


# --- validation --------------------------------------------------------------------------------


class EstimatorProblem(Exception):
    """The file loaded but is not a usable estimator for this model."""


@dataclass(frozen=True)
class EstimatorFacts:
    estimator_class: str
    feature_names: list[str]
    n_features: int
    classes: list | None


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def inspect_estimator(estimator, *, task: str) -> EstimatorFacts:
    """Read what the registry records off a fitted estimator, and run a smoke prediction."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    kind = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    if not hasattr(estimator, "predict"):
        raise EstimatorProblem(f"the file holds a {kind}, not an estimator with predict()")
    try:
        check_is_fitted(estimator)
    except (NotFittedError, TypeError) as exc:
        raise EstimatorProblem(f"the estimator is not fitted: {exc}") from None
    n_features = getattr(estimator, "n_features_in_", None)
    if not isinstance(n_features, int | np.integer) or n_features < 1:
        raise EstimatorProblem("the estimator does not record its number of features")
    if task == Task.CLASSIFICATION and not is_classifier(estimator):
        raise EstimatorProblem(f"the model is a classifier but the file holds a {kind}")
    if task == Task.REGRESSION and not is_regressor(estimator):
        raise EstimatorProblem(f"the model is a regressor but the file holds a {kind}")
    names = getattr(estimator, "feature_names_in_", None)
    feature_names = [str(n) for n in names] if names is not None else []
    classes = getattr(estimator, "classes_", None) if task == Task.CLASSIFICATION else None
    _smoke_predict(estimator, int(n_features), feature_names)
    return EstimatorFacts(
        estimator_class=kind,
        feature_names=feature_names or [f"x{i}" for i in range(int(n_features))],
        n_features=int(n_features),
        classes=[_plain(c) for c in classes] if classes is not None else None,
    )


def _smoke_predict(estimator, n_features: int, feature_names: list[str]) -> None:
    zeros = np.zeros((1, n_features))
    if feature_names:
        import pandas as pd

        zeros = pd.DataFrame(zeros, columns=feature_names)
    try:
        prediction = estimator.predict(zeros)
    except Exception as exc:
        raise EstimatorProblem(
            f"a prediction on zeros failed: {type(exc).__name__}: {exc}"
        ) from None
    if len(prediction) != 1:
        raise EstimatorProblem("a prediction on one row did not return one value")


def version_validate(*, version_id: int) -> ModelVersion | None:
    """Validate an uploaded version (claimed with a conditional update); None if not ours."""
    claimed = ModelVersion.objects.filter(pk=version_id, status=VersionStatus.UPLOADED).update(
        status=VersionStatus.VALIDATING
    )
    if not claimed:
        return None  # another worker has it, or it is no longer waiting
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    try:
        data = read_verified(name=version.artifact.name, sha256=version.sha256)
        loaded = deserialize(data, version.format)
        facts = inspect_estimator(loaded.estimator, task=version.model.task)
    except ArtifactTampered as exc:
        return _finish(version, VersionStatus.TAMPERED, str(exc))
    except FileNotFoundError:
        return _finish(version, VersionStatus.REJECTED, "the stored file is missing")
    except (UntrustedContent, MalformedArtifact, EstimatorProblem) as exc:
        return _finish(version, VersionStatus.REJECTED, str(exc))
    except Exception as exc:  # anything the estimator itself raised while loading
        logger.warning("version %s failed to load", version_id, exc_info=True)
        return _finish(
            version, VersionStatus.REJECTED, f"loading failed: {type(exc).__name__}: {exc}"
        )
    version.estimator_class = facts.estimator_class
    version.feature_names = facts.feature_names
    version.n_features = facts.n_features
    version.classes = facts.classes
    version.sklearn_version = loaded.sklearn_version
    return _finish(version, VersionStatus.READY, "")


def _finish(version: ModelVersion, status: str, reason: str) -> ModelVersion:
    version.status = status
    version.rejection_reason = reason[:2000]
    version.validated_at = timezone.now()
    fields = ["status", "rejection_reason", "validated_at", "estimator_class", "feature_names"]
    fields += ["n_features", "classes", "sklearn_version"]
    updated = ModelVersion.objects.filter(pk=version.pk, status=VersionStatus.VALIDATING).update(
        **{name: getattr(version, name) for name in fields}
    )
    if not updated:  # retired while validating: keep what the staff member decided
        version.refresh_from_db()
    return version


def version_revalidate(*, version: ModelVersion) -> bool:
    """Queue another validation of a rejected, tampered or ready version."""
    allowed = [VersionStatus.REJECTED, VersionStatus.TAMPERED, VersionStatus.READY]
    with transaction.atomic():
        updated = ModelVersion.objects.filter(pk=version.pk, status__in=allowed).update(
            status=VersionStatus.UPLOADED, rejection_reason=""
        )
        if updated:
            _enqueue_validation(version.pk)
    return bool(updated)


def version_retire(*, version: ModelVersion) -> bool:
    updated = (
        ModelVersion.objects.filter(pk=version.pk)
        .exclude(status=VersionStatus.RETIRED)
        .update(status=VersionStatus.RETIRED)
    )
    return bool(updated)


# --- verified reads ----------------------------------------------------------------------------


def _mark_tampered(version: ModelVersion, exc: ArtifactTampered) -> None:
    ModelVersion.objects.filter(pk=version.pk).update(
        status=VersionStatus.TAMPERED, rejection_reason=str(exc)[:2000]
    )
    version.status = VersionStatus.TAMPERED
    logger.error("artifact of model version %s was tampered with: %s", version.pk, exc)


def artifact_read(*, version: ModelVersion) -> bytes:
    """The artifact's bytes for a download, refusing (and flagging) a changed file."""
    try:
        return read_verified(name=version.artifact.name, sha256=version.sha256)
    except ArtifactTampered as exc:
        _mark_tampered(version, exc)
        raise


def estimator_for(*, version: ModelVersion):
    """The loaded estimator of a ready version, from the worker's cache when it is there."""
    if version.status != VersionStatus.READY:
        raise ValidationError(f"version {version.version} is {version.status}, not ready")

    def load():
        data = artifact_read(version=version)
        return deserialize(data, version.format).estimator

    return model_cache.get_or_load(sha256=version.sha256, size=version.size_bytes, load=load)
