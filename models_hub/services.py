"""Writes for the model registry: models, uploads, validation, publication, retirement,
deletion, verified reads."""

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
from django.db.models import DateTimeField, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from models_hub.choices import ArtifactFormat, RejectionCode, Task, VersionStatus
from models_hub.errors import ModelsErrorCode
from models_hub.feature_schema import SchemaFacts, check_schema
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
    version.schema_change = None
    rejected = VersionStatus.REJECTED
    try:
        data = read_verified(name=version.artifact.name, sha256=version.sha256)
        loaded = deserialize(data, version.format)
        facts = inspect_estimator(loaded.estimator, task=version.model.task)
    except ArtifactTampered as exc:
        return _finish(version, VersionStatus.TAMPERED, str(exc), RejectionCode.ARTIFACT_TAMPERED)
    except FileNotFoundError:
        return _finish(
            version, rejected, "the stored file is missing", RejectionCode.ARTIFACT_MISSING
        )
    except UntrustedContent as exc:
        return _finish(version, rejected, str(exc), RejectionCode.UNTRUSTED_CONTENT)
    except MalformedArtifact as exc:
        return _finish(version, rejected, str(exc), RejectionCode.MALFORMED_ARTIFACT)
    except EstimatorProblem as exc:
        return _finish(version, rejected, str(exc), RejectionCode.UNUSABLE_ESTIMATOR)
    except Exception as exc:  # anything the estimator itself raised while loading
        logger.warning("version %s failed to load", version_id, exc_info=True)
        reason = f"loading failed: {type(exc).__name__}: {exc}"
        return _finish(version, rejected, reason, RejectionCode.LOAD_FAILED)
    version.estimator_class = facts.estimator_class
    version.feature_names = facts.feature_names
    version.n_features = facts.n_features
    version.classes = facts.classes
    version.sklearn_version = loaded.sklearn_version
    return _finish_if_schema_fits(version)


# Versions whose features count: they passed validation (retired ones once served clients).
_ACCEPTED = [VersionStatus.READY, VersionStatus.RETIRED]


def _facts(version: ModelVersion) -> SchemaFacts:
    return SchemaFacts(
        version=version.version,
        sort_key=version.sort_key,
        feature_names=list(version.feature_names),
        classes=version.classes,
    )


@transaction.atomic
def _finish_if_schema_fits(version: ModelVersion) -> ModelVersion:
    """Ready, unless the features differ from an accepted version of the same MAJOR.

    The model's row is locked so that two versions validated at once are compared one after
    the other (each sees the other's outcome).
    """
    list(AIModel.objects.select_for_update().filter(pk=version.model_id).values_list("pk"))
    accepted = (
        ModelVersion.objects.filter(model_id=version.model_id, status__in=_ACCEPTED)
        .exclude(pk=version.pk)
        .only("version", "sort_key", "feature_names", "classes")
    )
    verdict = check_schema(_facts(version), [_facts(other) for other in accepted])
    version.schema_change = verdict.change
    if verdict.problem:
        return _finish(
            version, VersionStatus.REJECTED, verdict.problem, RejectionCode.SCHEMA_MISMATCH
        )
    return _finish(version, VersionStatus.READY, "", "")


def _finish(version: ModelVersion, status: str, reason: str, code: str) -> ModelVersion:
    version.status = status
    version.rejection_reason = reason[:2000]
    version.rejection_code = code
    version.validated_at = timezone.now()
    fields = ["status", "rejection_reason", "rejection_code", "validated_at", "estimator_class"]
    fields += ["feature_names", "n_features", "classes", "sklearn_version", "schema_change"]
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
            status=VersionStatus.UPLOADED, rejection_reason="", rejection_code=""
        )
        if updated:
            _enqueue_validation(version.pk)
    return bool(updated)


def version_retire(*, version: ModelVersion) -> bool:
    updated = (
        ModelVersion.objects.filter(pk=version.pk)
        .exclude(status__in=[VersionStatus.RETIRED, VersionStatus.DELETING])
        .update(status=VersionStatus.RETIRED)
    )
    return bool(updated)


# --- publication and deletion ------------------------------------------------------------------


def version_publish(*, version: ModelVersion, published_by=None) -> bool:
    """Make a ready version public (on a listed model); False if it was published already.

    Raises a ValidationError (code ``version_not_ready``) for a version that is not ready.
    """
    now = Value(timezone.now(), output_field=DateTimeField())
    updated = ModelVersion.objects.filter(
        pk=version.pk, status=VersionStatus.READY, published_at__isnull=True
    ).update(
        published_at=now,
        published_by=published_by,
        first_published_at=Coalesce("first_published_at", now),
    )
    version.refresh_from_db()
    if not updated and version.status != VersionStatus.READY:
        message = f"Version {version.version} is {version.status}: only ready versions are "
        raise ValidationError(message + "published.", code=ModelsErrorCode.VERSION_NOT_READY.code)
    return bool(updated)


def version_unpublish(*, version: ModelVersion) -> bool:
    """Take a version out of public view (a draft again); False if it was not published."""
    updated = ModelVersion.objects.filter(pk=version.pk, published_at__isnull=False).update(
        published_at=None, published_by=None
    )
    version.refresh_from_db()
    return bool(updated)


# Deletable: versions no client can rely on. A version that was ever public is only retired.
DELETABLE = Q(
    status__in=[VersionStatus.REJECTED, VersionStatus.RETIRED, VersionStatus.DELETING],
    first_published_at__isnull=True,
)


def version_delete(*, version: ModelVersion) -> None:
    """Delete a rejected or retired version that was never public: its row and its file.

    Neither may outlive the other. The row is marked ``deleting`` (no read serves it, no other
    action takes it); once that commits, the file goes and then the row. A failure in between
    leaves the row marked ``deleting``, never a row that claims a file it lacks nor a file
    without a row, and calling this again finishes the job. Raises a ValidationError (code
    ``version_not_deletable``) for any other version.
    """
    with transaction.atomic():
        claimed = ModelVersion.objects.filter(DELETABLE, pk=version.pk).update(
            status=VersionStatus.DELETING
        )
        if not claimed:
            raise _not_deletable(version)
        # after the commit: a rollback of the caller's transaction must not cost the file
        name = version.artifact.name
        transaction.on_commit(lambda: _delete_file_then_row(version.pk, name))
    version.status = VersionStatus.DELETING


def _delete_file_then_row(version_id: int, name: str) -> None:
    try:
        default_storage.delete(name)  # a file that is gone already is no error
    except OSError as exc:  # the disk or the object store: the row stays marked, to retry
        logger.warning("the file of model version %s was not deleted", version_id, exc_info=True)
        message = f"The stored file could not be deleted ({exc}); delete the version again."
        raise ValidationError(message, code=ModelsErrorCode.VERSION_DELETE_INCOMPLETE.code) from exc
    ModelVersion.objects.filter(pk=version_id, status=VersionStatus.DELETING).delete()
    logger.info("deleted model version %s and its file %s", version_id, name)


def _not_deletable(version: ModelVersion) -> ValidationError:
    row = ModelVersion.objects.filter(pk=version.pk).values("status", "first_published_at")
    current = row.first()
    if current is None:
        message = f"Version {version.version} is gone already."
    elif current["first_published_at"] is not None:
        message = f"Version {version.version} was public once: it is kept (retire it), not deleted."
    else:
        message = (
            f"Version {version.version} is {current['status']}: only rejected or retired "
            "versions are deleted."
        )
    return ValidationError(message, code=ModelsErrorCode.VERSION_NOT_DELETABLE.code)


# --- verified reads ----------------------------------------------------------------------------


def _mark_tampered(version: ModelVersion, exc: ArtifactTampered) -> None:
    ModelVersion.objects.filter(pk=version.pk).exclude(status=VersionStatus.DELETING).update(
        status=VersionStatus.TAMPERED,
        rejection_reason=str(exc)[:2000],
        rejection_code=RejectionCode.ARTIFACT_TAMPERED,
    )
    version.status = VersionStatus.TAMPERED
    logger.error("artifact of model version %s was tampered with: %s", version.pk, exc)


def artifact_read(*, version: ModelVersion) -> bytes:
    """The artifact's bytes for a download, refusing (and flagging) a changed file."""
    if version.status == VersionStatus.DELETING:
        raise FileNotFoundError(f"version {version.version} is being deleted")
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
