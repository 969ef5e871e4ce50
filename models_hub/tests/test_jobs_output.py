"""A job's output is the estimator's own answer on the same rows, for every demo model."""

from __future__ import annotations

import numpy as np
import pytest

from models_hub import services
from models_hub.demo_models import DEMO_MODELS, serialize, train
from models_hub.tests import jobs_kit

pytestmark = pytest.mark.django_db

_trained: dict = {}


def _model(slug):
    if slug not in _trained:
        _trained[slug] = train(slug)
    return _trained[slug]


@pytest.fixture
def published(org_a, upload):
    def make(demo):
        estimator, X = _model(demo.slug)
        model = services.model_create(organization=org_a, name=demo.name, task=demo.task)
        row = upload(model, serialize(estimator, "joblib"), filename="m.joblib")
        services.version_publish(version=row)
        return row, estimator, X

    return make


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("demo", DEMO_MODELS, ids=[d.slug for d in DEMO_MODELS])
def test_the_output_is_the_estimators_own_answer(published, settings, demo, fmt):
    # given a published demo model and its rows, over several chunks
    settings.JOB_CHUNK_ROWS = 37
    version, estimator, X = published(demo)
    frame = X.head(150)
    data = (
        jobs_kit.csv_bytes(frame)
        if fmt == "csv"
        else jobs_kit.parquet_bytes(frame, row_group_size=50)
    )

    # when a job runs them
    job = jobs_kit.run_inline(jobs_kit.submit(version, data, f"rows.{fmt}"))

    # then the output holds every row, in order, with the estimator's predictions
    assert job.status == "succeeded", (job.error_code, job.error_message)
    out = jobs_kit.output_frame(job)
    assert list(out["row"]) == list(range(1, len(frame) + 1))
    matrix = frame.to_numpy()
    expected = jobs_kit.batched(estimator.predict, matrix, 37)
    assert np.array_equal(out["prediction"].to_numpy(), expected)
    if hasattr(estimator, "predict_proba"):
        probabilities = jobs_kit.batched(estimator.predict_proba, matrix, 37)
        assert list(out.columns[2:]) == [f"probability_{c}" for c in estimator.classes_]
        assert np.array_equal(out.iloc[:, 2:].to_numpy(), probabilities)
        assert np.allclose(probabilities, estimator.predict_proba(matrix), rtol=0, atol=1e-12)
