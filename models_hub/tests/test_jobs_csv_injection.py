"""CSV outputs never hand a spreadsheet a formula: text cells starting with =, +, -, @, a tab or
a carriage return get a leading ' (predicted labels and ids alike), plain numbers (a negative id,
a regressor's negative prediction) are left alone, and Parquet outputs keep the values as they
are."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from models_hub import services
from models_hub.choices import Task
from models_hub.demo_models import serialize
from models_hub.jobs import services as jobs
from models_hub.tests import jobs_kit
from portal.errors import DomainError

pytestmark = pytest.mark.django_db

LABELS = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "plain"]
IDS = ["=1+1", "-5", "+7", "@me", "-1.5e3", "fine", "\tx", "-x"]


def _published(org_a, upload, estimator, task):
    model = services.model_create(organization=org_a, name=f"Inject {task}", task=task)
    version = upload(model, serialize(estimator, "joblib"), filename="m.joblib")
    services.version_publish(version=version)
    return version


@pytest.fixture
def classifier(org_a, upload):
    X = np.arange(60, dtype=float).reshape(30, 2)
    y = [LABELS[i % len(LABELS)] for i in range(30)]
    frame = pd.DataFrame(X, columns=["x1", "x2"])
    estimator = LogisticRegression(max_iter=500).fit(frame, y)
    return _published(org_a, upload, estimator, Task.CLASSIFICATION), estimator, frame


def _raw_csv(job) -> list[list[str]]:
    handle, _ = jobs.job_output(job=job)
    with handle:
        return list(csv.reader(io.StringIO(handle.read().decode())))


def test_formula_cells_of_a_csv_output_are_neutralised(classifier):
    # given a classifier whose labels look like formulas, and ids that do too
    version, estimator, frame = classifier
    rows = frame.head(len(IDS)).assign(id=IDS)

    # when a CSV job runs
    job = jobs_kit.run_inline(jobs_kit.submit(version, jobs_kit.csv_bytes(rows)))

    # then no text cell starts with a formula character, and plain numbers are untouched
    assert job.status == "succeeded", job.error_message
    header, *lines = _raw_csv(job)
    assert header[:3] == ["row", "id", "prediction"]
    expected_labels = estimator.predict(rows[["x1", "x2"]].to_numpy())
    for line, given_id, label in zip(lines, IDS, expected_labels, strict=True):
        row_id, prediction = line[1], line[2]
        plain_number = given_id in ("-5", "+7", "-1.5e3")
        assert row_id == (given_id if plain_number else _quoted(given_id))
        assert prediction == _quoted(label)
        assert not row_id.startswith(("=", "+", "@", "\t", "\r")) or row_id == given_id
    assert {cell[:1] for line in lines for cell in line[3:]} <= set("0123456789.e-")


def _quoted(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def test_a_carriage_return_inside_a_cell_is_a_clear_error(classifier):
    version, _, _ = classifier
    data = b"x1,x2,id\n1,2,a\n3,4,b\rc\n5,6,d\n"

    with pytest.raises(DomainError) as refused:
        jobs_kit.submit(version, data)

    assert refused.value.code == "malformed_csv"
    assert refused.value.details[0]["field"] == "rows.2"


def test_a_parquet_output_keeps_the_values(classifier):
    version, estimator, frame = classifier
    rows = frame.head(len(IDS)).assign(id=IDS)

    job = jobs_kit.run_inline(
        jobs_kit.submit(version, jobs_kit.parquet_bytes(rows), "rows.parquet")
    )

    out = jobs_kit.output_frame(job)
    assert list(out["id"]) == IDS
    assert list(out["prediction"]) == list(estimator.predict(rows[["x1", "x2"]].to_numpy()))


def test_a_regressors_negative_predictions_stay_numbers(org_a, upload):
    frame = pd.DataFrame({"x1": np.linspace(-5, 5, 20), "x2": np.linspace(5, -5, 20)})
    estimator = LinearRegression().fit(frame, -3 * frame["x1"] - 10)
    version = _published(org_a, upload, estimator, Task.REGRESSION)

    job = jobs_kit.run_inline(jobs_kit.submit(version, jobs_kit.csv_bytes(frame)))

    _, *lines = _raw_csv(job)
    predictions = [float(line[1]) for line in lines]
    assert any(value < 0 for value in predictions)
    assert np.allclose(predictions, estimator.predict(frame.to_numpy()))
