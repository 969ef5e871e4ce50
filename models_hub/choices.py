from django.db import models


class Task(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    REGRESSION = "regression", "Regression"


class ArtifactFormat(models.TextChoices):
    JOBLIB = "joblib", "joblib (scanned pickle)"
    SKOPS = "skops", "skops"


class VersionStatus(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    VALIDATING = "validating", "Validating"
    READY = "ready", "Ready"
    REJECTED = "rejected", "Rejected"
    TAMPERED = "tampered", "Tampered"  # the stored file no longer matches its sha256
    RETIRED = "retired", "Retired"
    DELETING = "deleting", "Deleting"  # its file is being removed; the row goes next


class RejectionCode(models.TextChoices):
    """Why validation refused a version: stable strings that clients may rely on."""

    ARTIFACT_TAMPERED = "artifact_tampered", "The stored file no longer matches its sha256"
    ARTIFACT_MISSING = "artifact_missing", "The stored file is missing"
    UNTRUSTED_CONTENT = "untrusted_content", "The file names types outside the allow-list"
    MALFORMED_ARTIFACT = "malformed_artifact", "The file is not a readable artifact"
    UNUSABLE_ESTIMATOR = "unusable_estimator", "The file is not a usable estimator"
    LOAD_FAILED = "load_failed", "Loading the estimator failed"
    SCHEMA_MISMATCH = "schema_mismatch", "The features differ within one MAJOR version"
