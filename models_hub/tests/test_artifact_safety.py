"""Bad artifacts: each gets a clear reason, nothing half-saved, and nothing in them runs."""

from __future__ import annotations

import io
import os
import pickle

import joblib
import numpy as np
import pytest
import skops.io
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from sklearn.base import BaseEstimator, ClassifierMixin

from models_hub.choices import VersionStatus
from models_hub.demo_models import serialize, train
from models_hub.models import ModelVersion


class HomeMadeClassifier(ClassifierMixin, BaseEstimator):
    """A real, fitted estimator, but from a package the allow-list does not know."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


class WritesAFile:
    """Unpickling this would create a file (via os.system): the proof that code ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _stored_files() -> list[str]:
    root = default_storage.location
    return sorted(os.path.join(d, f) for d, _, files in os.walk(root) for f in files)


def _joblib_bytes(obj, **kwargs) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def cancer():
    return train("breast-cancer")


def _assert_upload_refused(exc_info, code):
    error = exc_info.value
    codes = [e.code for errors in error.error_dict.values() for e in errors]
    assert code in codes
    assert ModelVersion.objects.count() == 0
    assert _stored_files() == []


def test_an_empty_file_is_refused_at_upload(upload, classifier):
    with pytest.raises(ValidationError) as exc_info:
        upload(classifier, b"")
    _assert_upload_refused(exc_info, "empty_artifact")


def test_a_file_over_the_limit_is_refused_while_streaming(upload, classifier, settings):
    settings.MODEL_ARTIFACT_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as exc_info:
        upload(classifier, b"x" * 5000)
    _assert_upload_refused(exc_info, "artifact_too_large")


def test_an_unknown_extension_is_refused(upload, classifier):
    with pytest.raises(ValidationError) as exc_info:
        upload(classifier, b"data", filename="model.onnx")
    _assert_upload_refused(exc_info, "unknown_format")


def test_a_duplicate_version_is_refused_and_nothing_is_added(upload, classifier, cancer):
    data = serialize(cancer[0], "joblib")
    first = upload(classifier, data)
    files_before = _stored_files()

    with pytest.raises(ValidationError) as exc_info:
        upload(classifier, data)

    codes = [e.code for errors in exc_info.value.error_dict.values() for e in errors]
    assert codes == ["version_exists"]
    assert list(ModelVersion.objects.values_list("pk", flat=True)) == [first.pk]
    assert _stored_files() == files_before


def test_a_truncated_file_is_rejected(upload, classifier, cancer):
    data = serialize(cancer[0], "joblib")
    version = upload(classifier, data[: len(data) // 2])

    assert version.status == VersionStatus.REJECTED
    assert "not a readable joblib file" in version.rejection_reason


def test_a_truncated_skops_file_is_rejected(upload, classifier, cancer):
    data = serialize(cancer[0], "skops")
    version = upload(classifier, data[:4000], filename="m.skops")

    assert version.status == VersionStatus.REJECTED
    assert "skops" in version.rejection_reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"just some text, not a model\n" * 10, "not a readable joblib file"),
        (_joblib_bytes({"weights": [1, 2, 3]}), "not an estimator with predict()"),
        (pickle.dumps(np.arange(5)), "not an estimator with predict()"),
    ],
    ids=["text", "a-dict", "an-array"],
)
def test_a_file_that_is_not_a_model_is_rejected(upload, classifier, data, reason):
    version = upload(classifier, data)

    assert version.status == VersionStatus.REJECTED
    assert reason in version.rejection_reason


@pytest.mark.parametrize("compress", [0, 3], ids=["plain", "compressed"])
def test_a_pickle_that_would_run_code_is_rejected_and_the_code_never_runs(
    upload, classifier, tmp_path, compress
):
    proof = tmp_path / "code-ran"
    payload = {"model": WritesAFile(proof), "weights": np.arange(1000.0)}
    version = upload(classifier, _joblib_bytes(payload, compress=compress))

    assert version.status == VersionStatus.REJECTED
    assert "posix.system" in version.rejection_reason
    assert not proof.exists()


def test_code_hidden_in_an_object_array_never_runs(upload, classifier, tmp_path):
    proof = tmp_path / "code-ran"
    array = np.empty(2, dtype=object)
    array[0], array[1] = "fine", WritesAFile(proof)

    version = upload(classifier, _joblib_bytes({"classes": array}))

    assert version.status == VersionStatus.REJECTED
    assert "posix.system" in version.rejection_reason
    assert not proof.exists()


def test_an_estimator_class_outside_the_allow_list_is_rejected(upload, classifier):
    estimator = HomeMadeClassifier().fit(np.zeros((4, 2)), [0, 1, 0, 1])

    version = upload(classifier, _joblib_bytes(estimator))

    assert version.status == VersionStatus.REJECTED
    assert "HomeMadeClassifier" in version.rejection_reason


def test_a_skops_file_with_an_untrusted_type_is_rejected(upload, classifier):
    estimator = HomeMadeClassifier().fit(np.zeros((4, 2)), [0, 1, 0, 1])

    version = upload(classifier, skops.io.dumps(estimator), filename="m.skops")

    assert version.status == VersionStatus.REJECTED
    assert "test_artifact_safety.HomeMadeClassifier" in version.rejection_reason


def test_a_regressor_uploaded_to_a_classification_model_is_rejected(upload, classifier):
    estimator, _ = train("diabetes")

    version = upload(classifier, serialize(estimator, "joblib"))

    assert version.status == VersionStatus.REJECTED
    assert "classifier" in version.rejection_reason


def test_an_unfitted_estimator_is_rejected(upload, classifier):
    from sklearn.linear_model import LogisticRegression

    version = upload(classifier, _joblib_bytes(LogisticRegression()))

    assert version.status == VersionStatus.REJECTED
    assert "not fitted" in version.rejection_reason


def test_validation_is_claimed_once(upload, classifier, cancer):
    from models_hub.services import version_validate

    version = upload(classifier, serialize(cancer[0], "joblib"))

    assert version.status == VersionStatus.READY
    assert version_validate(version_id=version.pk) is None  # nothing left to claim
