"""Loading through the registry: exact predictions, integrity, the bounded cache."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage

from models_hub import services
from models_hub.choices import Task, VersionStatus
from models_hub.demo_models import DEMO_MODELS, serialize, train
from models_hub.loading import ArtifactTampered, model_cache
from models_hub.models import ModelVersion


@pytest.fixture(scope="module")
def trained():
    return {demo.slug: train(demo.slug) for demo in DEMO_MODELS}


@pytest.mark.parametrize("fmt", ["joblib", "skops"])
@pytest.mark.parametrize("demo", DEMO_MODELS, ids=[d.slug for d in DEMO_MODELS])
def test_demo_models_predict_exactly_like_the_estimator(org_a, upload, trained, demo, fmt):
    estimator, X = trained[demo.slug]
    model = services.model_create(organization=org_a, name=demo.name, task=demo.task)

    version = upload(model, serialize(estimator, fmt), filename=f"m.{fmt}")

    assert version.status == VersionStatus.READY, version.rejection_reason
    loaded = services.estimator_for(version=version)
    assert loaded is not estimator
    np.testing.assert_array_equal(loaded.predict(X), estimator.predict(X))
    if demo.task == Task.CLASSIFICATION:
        np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
        assert version.classes == [c.item() for c in estimator.classes_]
    assert version.feature_names == list(X.columns)
    assert version.n_features == X.shape[1]
    assert version.sklearn_version
    assert version.estimator_class.endswith(type(estimator).__name__)


def _tamper(version: ModelVersion) -> None:
    path = default_storage.path(version.artifact.name)
    with open(path, "r+b") as handle:
        handle.seek(10)
        byte = handle.read(1)
        handle.seek(10)
        handle.write(bytes([byte[0] ^ 0xFF]))


def test_a_changed_file_refuses_to_load_and_is_marked_tampered(upload, classifier, trained):
    version = upload(classifier, serialize(trained["breast-cancer"][0], "joblib"))
    _tamper(version)

    with pytest.raises(ArtifactTampered):
        services.estimator_for(version=version)

    version.refresh_from_db()
    assert version.status == VersionStatus.TAMPERED
    assert "sha256" in version.rejection_reason
    assert model_cache.loads == 0


def test_validation_of_a_changed_file_marks_it_tampered(upload, classifier, trained):
    version = upload(classifier, serialize(trained["breast-cancer"][0], "joblib"), validate=False)
    _tamper(version)

    services.version_validate(version_id=version.pk)

    version.refresh_from_db()
    assert version.status == VersionStatus.TAMPERED


def test_repeated_loads_use_the_cache(upload, classifier, trained):
    version = upload(classifier, serialize(trained["breast-cancer"][0], "joblib"))

    first = services.estimator_for(version=version)
    second = services.estimator_for(version=version)

    assert first is second
    assert model_cache.loads == 1


def _three_artifacts(org_a, upload, estimator):
    import io

    import joblib

    plain = io.BytesIO()
    joblib.dump(estimator, plain)
    model = services.model_create(organization=org_a, name="Many", task=Task.CLASSIFICATION)
    files = [
        (plain.getvalue(), "a.joblib"),
        (serialize(estimator, "joblib"), "b.joblib"),  # compressed
        (serialize(estimator, "skops"), "c.skops"),
    ]
    versions = [
        upload(model, data, version=f"1.0.{n}", filename=name)
        for n, (data, name) in enumerate(files)
    ]
    assert len({v.sha256 for v in versions}) == 3
    return versions


def test_the_cache_is_bounded_by_count(org_a, upload, trained, settings):
    settings.MODEL_CACHE_MAX_ENTRIES = 2
    versions = _three_artifacts(org_a, upload, trained["breast-cancer"][0])

    for version in versions:
        services.estimator_for(version=version)

    assert len(model_cache) == 2
    assert versions[0].sha256 not in model_cache  # the least recently used went first
    assert model_cache.loads == 3


def test_the_cache_is_bounded_by_bytes(org_a, upload, trained, settings):
    versions = _three_artifacts(org_a, upload, trained["breast-cancer"][0])
    settings.MODEL_CACHE_MAX_BYTES = max(v.size_bytes for v in versions)  # room for one

    for version in versions:
        services.estimator_for(version=version)

    assert len(model_cache) == 1
    assert versions[-1].sha256 in model_cache
    assert model_cache.total_bytes <= settings.MODEL_CACHE_MAX_BYTES


def test_only_ready_versions_load(upload, classifier):
    version = upload(classifier, b"junk", validate=True)
    assert version.status == VersionStatus.REJECTED

    with pytest.raises(Exception, match="not ready"):
        services.estimator_for(version=version)


def test_retired_versions_stay_retired_and_do_not_load(upload, classifier, trained):
    version = upload(classifier, serialize(trained["breast-cancer"][0], "joblib"))

    assert services.version_retire(version=version) is True
    assert services.version_retire(version=version) is False
    version.refresh_from_db()
    assert version.status == VersionStatus.RETIRED
    with pytest.raises(Exception, match="not ready"):
        services.estimator_for(version=version)
