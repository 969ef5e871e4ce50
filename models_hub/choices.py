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


class JobFormat(models.TextChoices):
    """What a batch job's input came as; its output is written in the same format (JSON rows
    posted to the API give a CSV output)."""

    CSV = "csv", "CSV"
    PARQUET = "parquet", "Parquet"
    JSON = "json", "JSON rows"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # checked, credits reserved, chunks queued
    RUNNING = "running", "Running"  # a worker took its first chunk
    CANCELLING = "cancelling", "Cancelling"  # cancelled; running chunks stop at their next batch
    JOINING = "joining", "Joining"  # every chunk ended: the output is being joined and charged
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


JOB_LIVE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.JOINING)
JOB_ENDED = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class PaymentStatus(models.TextChoices):
    """An agent's x402 authorization, recorded once verified and answered: settled on chain once
    (or failed)."""

    SETTLING = "settling", "Settling"  # verified, answered; the settlement is in the outbox
    SETTLED = "settled", "Settled"  # mined: paid, receipted, answered
    FAILED = "failed", "Failed"  # the settlement failed: nothing charged, no answer given
