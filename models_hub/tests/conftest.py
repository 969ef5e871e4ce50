from __future__ import annotations

import io

import pytest

from models_hub import services
from models_hub.choices import Task
from models_hub.loading import model_cache


@pytest.fixture(autouse=True)
def _media_in_tmp(request, settings, tmp_path):
    """Artifacts of a test live in its own folder (a worker's tests share the session's)."""
    model_cache.clear()
    if "celery_worker" in request.fixturenames:
        yield
        return
    storages = {**settings.STORAGES}
    storages["default"] = {**storages["default"], "OPTIONS": {"location": str(tmp_path / "m")}}
    settings.STORAGES = storages
    model_cache.clear()
    yield
    model_cache.clear()


@pytest.fixture
def classifier(org_a):
    return services.model_create(
        organization=org_a, name="Cancer screen", task=Task.CLASSIFICATION, listed=True
    )


@pytest.fixture
def regressor(org_a):
    return services.model_create(organization=org_a, name="Progression", task=Task.REGRESSION)


@pytest.fixture
def upload():
    """Upload bytes as a version and (by default) validate it in this process."""

    def make(model, data: bytes, *, version="1.0.0", filename="model.joblib", validate=True):
        row = services.version_upload(
            model=model, version=version, fileobj=io.BytesIO(data), filename=filename
        )
        if validate:
            services.version_validate(version_id=row.pk)
            row.refresh_from_db()
        return row

    return make
