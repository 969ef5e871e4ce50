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
