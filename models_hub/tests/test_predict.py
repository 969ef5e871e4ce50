"""models_hub.predict: rows checked against the schema, then the cached estimator's answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from models_hub import predict, services
from models_hub.demo_models import serialize, train
from models_hub.loading import model_cache
from portal.errors import DomainError

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def iris():
    estimator, X = train("iris")
    return estimator, X


@pytest.fixture
def version(classifier, upload, iris):
    row = upload(classifier, serialize(iris[0], "joblib"))
    services.version_publish(version=row)
    return row


@pytest.fixture
def names(iris):
    return list(iris[1].columns)


def _error(version, rows, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as caught:
        predict.rows_matrix(version=version, rows=rows, **kwargs)
    return caught.value


def test_objects_and_arrays_give_the_estimators_own_answer(version, iris, names):
    estimator, X = iris
    arrays = X.head(20).to_numpy().tolist()
    objects = [dict(zip(names, row, strict=True)) for row in arrays]

    by_arrays = predict.predict_rows(version=version, rows=arrays)
    by_objects = predict.predict_rows(version=version, rows=objects)

    assert by_arrays == by_objects
    assert by_arrays.predictions == estimator.predict(X.head(20)).tolist()
    assert by_arrays.probabilities == estimator.predict_proba(X.head(20)).tolist()
    assert by_arrays.classes == [0, 1, 2]
    assert by_arrays.rows == 20
    json.dumps(by_arrays.as_dict())  # JSON-safe: no numpy scalars


def test_objects_may_name_features_in_any_order(version, names):
    row = dict(zip(names, [5.1, 3.5, 1.4, 0.2], strict=True))
    reordered = dict(reversed(list(row.items())))

    matrix = predict.rows_matrix(version=version, rows=[reordered])

    assert matrix.tolist() == [[5.1, 3.5, 1.4, 0.2]]
    assert matrix.dtype == np.float64


def test_ints_are_numbers(version):
    assert predict.rows_matrix(version=version, rows=[[5, 3, 1, 0]]).tolist() == [[5, 3, 1, 0]]


def test_the_estimator_comes_from_the_process_cache(version):
    predict.predict_rows(version=version, rows=[[5.1, 3.5, 1.4, 0.2]])
    loads = model_cache.loads

    predict.predict_rows(version=version, rows=[[5.1, 3.5, 1.4, 0.2]])

    assert model_cache.loads == loads


@pytest.mark.parametrize(
    ("rows", "code", "field"),
    [
        ([], "empty_rows", "rows"),
        ([{"sepal length (cm)": 1}], "feature_missing", "rows.0.sepal width (cm)"),
        ([[1, 2, 3]], "wrong_feature_count", "rows.0"),
        ([[1, 2, 3, 4], [1, 2, 3, 4, 5]], "wrong_feature_count", "rows.1"),
        ([[1, 2, 3, 4], {"a": 1}], "mixed_row_shapes", "rows.1"),
        ([1, 2], "mixed_row_shapes", "rows.0"),
        ([[1, 2, "3", 4]], "not_numeric", "rows.0.petal length (cm)"),
        ([[1, 2, None, 4]], "not_numeric", "rows.0.petal length (cm)"),
        ([[1, 2, [3], 4]], "not_numeric", "rows.0.petal length (cm)"),
        ([[1, 2, 3, True]], "not_numeric", "rows.0.petal width (cm)"),
        ([[True, False, True, False]], "not_numeric", "rows.0.sepal length (cm)"),
        ([[1, 2, math.nan, 4]], "not_numeric", "rows.0.petal length (cm)"),
        ([[1, 2, 3, math.inf]], "not_numeric", "rows.0.petal width (cm)"),
        ([[1, 2, 3, 10**400]], "not_numeric", "rows.0.petal width (cm)"),
    ],
)
def test_each_bad_row_has_its_code_and_names_row_and_feature(version, rows, code, field):
    error = _error(version, rows)

    assert error.code == code
    assert error.status in (409, 413, 422)
    assert error.details[0]["field"] == field
    assert error.details[0]["code"] == code


def test_an_unknown_feature_is_named(version, names):
    row = {**dict.fromkeys(names, 1.0), "colour": 2.0}

    error = _error(version, [row])

    assert (error.code, error.details[0]["field"]) == ("feature_unknown", "rows.0.colour")


def test_a_bool_in_objects_is_not_a_number(version, names):
    row = {**dict.fromkeys(names, 1.0), names[1]: False}

    assert _error(version, [row]).code == "not_numeric"


def test_every_problem_up_to_a_bound_is_listed(version):
    error = _error(version, [[1, 2, 3, "x"]] * 100)

    assert len(error.details) == predict.DETAILS_SHOWN
    assert [d["field"] for d in error.details[:2]] == [
        "rows.0.petal width (cm)",
        "rows.1.petal width (cm)",
    ]


def test_too_many_rows(version, settings):
    settings.PREDICT_MAX_ROWS = 3

    error = _error(version, [[1, 2, 3, 4]] * 4)

    assert (error.code, error.status) == ("too_many_rows", 422)


def test_only_a_published_version_predicts(classifier, upload, iris):
    draft = upload(classifier, serialize(iris[0], "joblib"))

    error = _error(draft, [[1, 2, 3, 4]])

    assert (error.code, error.status) == ("version_not_published", 409)
    with pytest.raises(DomainError):
        predict.predict_matrix(version=draft, matrix=np.zeros((1, 4)))


def test_a_tampered_artifact_is_unavailable_not_a_crash(version):
    with version.artifact.open("wb") as handle:
        handle.write(b"changed")

    with pytest.raises(DomainError) as caught:
        predict.predict_rows(version=version, rows=[[1, 2, 3, 4]])

    assert (caught.value.code, caught.value.status) == ("model_unavailable", 503)


@pytest.mark.parametrize(
    "body",
    [
        b'{"rows": [[1, 2, "3", 4]]}',
        b'{"rows": [[1, 2, true, 4]]}',
        b'{"rows": [[1, 2, 3, 4], [1, 2, 3, "4"]]}',
        b'{"rows": [[1, 2, null, 4]]}',
        b'{"rows": [[1, 2, 3, 1e999]]}',
        b'{"rows": [[1, 2, 3, NaN]]}',
        b'{"rows": [[1, 2, 3, [4]]]}',
        b'{"rows": [[1, 2, 3, 1' + b"0" * 400 + b"]]}",
    ],
)
def test_the_bodys_text_never_lets_a_bad_value_through(version, body):
    rows = predict.rows_from_body(body)

    assert _error(version, rows, text=body).code == "not_numeric"


def test_a_body_of_numbers_is_read_in_one_go(version):
    body = b'{"rows": [[1, 2.5, 3, 4], [5e-1, -2, 0, 1E2]]}'

    matrix = predict.rows_matrix(version=version, rows=predict.rows_from_body(body), text=body)

    assert matrix.tolist() == [[1, 2.5, 3, 4], [0.5, -2, 0, 100]]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "bad_request"),
        (b"{", "bad_request"),
        (b"\xff\xfe\x00", "bad_request"),
        (b"[" * 100_000, "bad_request"),
        (b"[]", "validation_error"),
        (b"{}", "validation_error"),
        (b'{"rows": {}}', "validation_error"),
        (b'{"rows": [], "extra": 1}', "validation_error"),
    ],
)
def test_a_bad_body(body, code):
    with pytest.raises(DomainError) as caught:
        predict.rows_from_body(body)
    assert caught.value.code == code
