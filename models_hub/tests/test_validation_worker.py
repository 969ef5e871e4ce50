"""Validation runs in a real Celery worker process, queued when the upload commits."""

from __future__ import annotations

import io
import time

from models_hub import services
from models_hub.choices import VersionStatus
from models_hub.demo_models import serialize, train


def _wait_for(version, statuses, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        version.refresh_from_db()
        if version.status in statuses:
            return version
        time.sleep(0.25)
    raise AssertionError(f"version stayed {version.status}")


def test_an_upload_is_validated_by_the_worker(celery_worker, transactional_db, org_a):
    model = services.model_create(organization=org_a, name="Worker", task="classification")
    good = serialize(train("breast-cancer")[0], "joblib")

    version = services.version_upload(
        model=model, version="1.0.0", fileobj=io.BytesIO(good), filename="m.joblib"
    )
    bad = services.version_upload(
        model=model, version="1.0.1", fileobj=io.BytesIO(b"junk"), filename="m.joblib"
    )

    assert _wait_for(version, {VersionStatus.READY, VersionStatus.REJECTED}).status == "ready"
    assert version.n_features == 30
    assert _wait_for(bad, {VersionStatus.READY, VersionStatus.REJECTED}).status == "rejected"
    assert "not a readable joblib file" in bad.rejection_reason
    for row in (version, bad):
        row.artifact.delete(save=False)
