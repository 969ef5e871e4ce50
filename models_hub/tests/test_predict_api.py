"""The predict endpoints: the estimator's own answers, every bad input a 4xx, auth, the gate."""

from __future__ import annotations

import json

import hypothesis
import numpy as np
import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client
from hypothesis import HealthCheck
from hypothesis import strategies as st

from models_hub import metering, services
from models_hub.choices import Task
from models_hub.demo_models import DEMO_MODELS, serialize, train
from portal.choices import ApiScope, Role
from portal.services import api_key_create, customer_api_key_create, organization_create

pytestmark = pytest.mark.django_db

DEMO_VERSIONS = [(demo, spec) for demo in DEMO_MODELS for spec in demo.versions]
_trained: dict = {}


def _trained_model(slug: str, features):
    if (slug, features) not in _trained:
        _trained[slug, features] = train(slug, features)
    return _trained[slug, features]


def _json(client, path, body, headers=None, **extra):
    data = body if isinstance(body, bytes) else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers or {}, **extra)


def _error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    return response.json()


@pytest.fixture
def publish(upload):
    """A published version of a demo model (trained once per test module)."""

    def make(model, slug, *, version="1.0.0", fmt="joblib", features=None):
        estimator, _ = _trained_model(slug, features)
        row = upload(model, serialize(estimator, fmt), version=version, filename=f"m.{fmt}")
        services.version_publish(version=row)
        return row

    return make


@pytest.fixture
def key(make_staff, org_b):
    """Another organization's key with `predict`: it sees what the public sees."""

    def make(*scopes, organization=None):
        owner = make_staff(organization or org_b, Role.MANAGER)
        issued = api_key_create(
            organization=organization or org_b,
            owner=owner,
            name="caller",
            scopes=[str(s) for s in scopes],
        )
        return {"Authorization": f"Bearer {issued.raw_key}"}

    return make


@pytest.fixture
def predictor(key):
    return key(ApiScope.PREDICT)


@pytest.fixture
def cancer(classifier, publish):
    publish(classifier, "breast-cancer")
    return f"/api/models/alpha/{classifier.slug}/versions/1.0.0/predict"


@pytest.fixture
def cancer_rows():
    _, X = _trained_model("breast-cancer", None)
    return X.head(10)


# --- answers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("demo", "spec"), DEMO_VERSIONS, ids=[f"{d.slug}-{s.version}" for d, s in DEMO_VERSIONS]
)
def test_every_demo_model_answers_what_its_estimator_does(client, publish, key, demo, spec):
    # given the demo's model, organization and version, called by the organization's own key
    organization = organization_create(name=demo.organization, slug=demo.organization)
    model = services.model_create(
        organization=organization, name=demo.name, slug=demo.slug, task=demo.task, listed=True
    )
    publish(model, demo.slug, version=spec.version, fmt=spec.fmt, features=spec.features)
    estimator, X = _trained_model(demo.slug, spec.features)
    rows = X.sample(25, random_state=1)
    # the same rows as the request's: a C-ordered float matrix (a DataFrame's own, column-major
    # block gives a BLAS another summation order, so the last bit of a probability may differ)
    matrix = np.array(rows.to_numpy().tolist())
    headers = key(ApiScope.PREDICT, ApiScope.MODELS_READ, organization=organization)
    path = f"/api/models/{demo.organization}/{demo.slug}/versions/{spec.version}/predict"

    # when
    by_arrays = _json(client, path, {"rows": rows.to_numpy().tolist()}, headers)
    by_objects = _json(client, path, {"rows": rows.to_dict(orient="records")}, headers)

    # then
    assert by_arrays.status_code == 200, by_arrays.content
    body = by_arrays.json()
    assert body == by_objects.json()
    assert body["predictions"] == estimator.predict(matrix).tolist()
    assert body["rows"] == 25
    assert body["version"] == spec.version
    assert body["model"] == f"{demo.organization}/{demo.slug}"
    assert body["units_charged"] == 0
    if demo.task == Task.CLASSIFICATION:
        assert body["classes"] == estimator.classes_.tolist()
        assert body["probabilities"] == estimator.predict_proba(matrix).tolist()
    else:
        assert body["classes"] is None
        assert body["probabilities"] is None


def test_the_latest_published_version_answers(client, classifier, publish, key, org_a):
    own = key(ApiScope.PREDICT, organization=org_a)  # the publisher's: the gate lets it in
    publish(classifier, "iris", version="1.0.0")
    publish(classifier, "iris", version="1.1.0", fmt="skops")
    draft = publish(classifier, "iris", version="1.2.0")
    services.version_unpublish(version=draft)

    response = _json(
        client, f"/api/models/alpha/{classifier.slug}/predict", {"rows": [[1, 2, 3, 4]]}, own
    )

    assert response.status_code == 200, response.content
    assert response.json()["version"] == "1.1.0"


def test_a_model_without_a_published_version(client, classifier, predictor):
    response = _json(
        client, f"/api/models/alpha/{classifier.slug}/predict", {"rows": []}, predictor
    )

    _error(response, 404, "version_not_found")


def test_a_draft_is_not_found_by_others_and_not_published_for_its_owner(
    client, classifier, upload, key, org_a
):
    estimator, _ = _trained_model("iris", None)
    upload(classifier, serialize(estimator, "joblib"))  # ready, a draft
    path = f"/api/models/alpha/{classifier.slug}/versions/1.0.0/predict"
    own = key(ApiScope.PREDICT, ApiScope.MODELS_READ, organization=org_a)

    _error(
        _json(client, path, {"rows": [[1, 2, 3, 4]]}, key(ApiScope.PREDICT)),
        404,
        "version_not_found",
    )
    _error(_json(client, path, {"rows": [[1, 2, 3, 4]]}, own), 409, "version_not_published")


def test_an_unlisted_model_is_not_found(client, org_a, publish, predictor):
    hidden = services.model_create(organization=org_a, name="Hidden", task=Task.CLASSIFICATION)
    publish(hidden, "iris")

    response = _json(
        client,
        f"/api/models/alpha/{hidden.slug}/versions/1.0.0/predict",
        {"rows": [[1, 2, 3, 4]]},
        predictor,
    )

    _error(response, 404, "model_not_found")


# --- auth ------------------------------------------------------------------------------------
def test_no_key_is_401_and_a_key_without_predict_is_403(client, cancer, key):
    _error(_json(client, cancer, {"rows": [[0] * 30]}), 401, "unauthenticated")
    _error(
        _json(client, cancer, {"rows": [[0] * 30]}, key(ApiScope.MODELS_READ)),
        403,
        "insufficient_scope",
    )
    bad = {"Authorization": "Bearer mlp_00000000_nope"}
    assert _json(client, cancer, {"rows": [[0] * 30]}, bad).status_code == 401


@pytest.fixture
def customer(db):
    user = get_user_model().objects.create_user(username="customer-predict")
    user.set_unusable_password()
    user.save()
    SocialAccount.objects.create(user=user, provider="siwe", uid=f"0x{7:040x}")
    return user


def test_a_customers_key_is_gated_by_the_customers_rights(client, cancer, customer):
    # a customer's key authenticates; without a license, pass or credits the gate refuses
    # (licensing/tests/test_predict_metered.py has customers who hold one)
    issued = customer_api_key_create(owner=customer, name="mine")

    response = _json(
        client, cancer, {"rows": [[0] * 30]}, {"Authorization": f"Bearer {issued.raw_key}"}
    )

    _error(response, 403, "no_license")


def test_a_signed_in_session_passes_the_csrf_check_to_the_gate(cancer, customer):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    browser.get("/account/keys/")  # any page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value

    refused = _json(browser, cancer, {"rows": [[0] * 30]})
    answered = _json(browser, cancer, {"rows": [[0] * 30]}, {"X-CSRFToken": token})

    _error(refused, 403, "forbidden")
    _error(answered, 403, "no_license")  # past the CSRF check, the gate decides


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "bad_request"),
        (b'{"rows": [', 400, "bad_request"),
        (b"[]", 422, "validation_error"),
        ({"rows": "all"}, 422, "validation_error"),
        ({"rows": []}, 422, "empty_rows"),
        ({"rows": [{"mean radius": 1}]}, 422, "feature_missing"),
        ({"rows": [[1] * 29]}, 422, "wrong_feature_count"),
        ({"rows": [[1] * 30, {"a": 1}]}, 422, "mixed_row_shapes"),
        ({"rows": [[1] * 29 + ["1"]]}, 422, "not_numeric"),
        ({"rows": [[1] * 29 + [True]]}, 422, "not_numeric"),
        (b'{"rows": [[' + b"1, " * 29 + b"NaN]]}", 422, "not_numeric"),
        (b'{"rows": [[' + b"1, " * 29 + b"1e999]]}", 422, "not_numeric"),
    ],
)
def test_each_bad_body_is_a_4xx_with_its_code(client, cancer, predictor, body, status, code):
    _error(_json(client, cancer, body, predictor), status, code)


def test_an_unknown_feature(client, cancer, predictor, cancer_rows):
    row = {**cancer_rows.iloc[0].to_dict(), "colour": 1}

    body = _error(_json(client, cancer, {"rows": [row]}, predictor), 422, "feature_unknown")

    assert body["details"][0]["field"] == "rows.0.colour"


def test_too_many_rows(client, cancer, predictor, settings):
    settings.PREDICT_MAX_ROWS = 5

    _error(_json(client, cancer, {"rows": [[0] * 30] * 6}, predictor), 422, "too_many_rows")


def test_a_body_over_the_size_limit(client, cancer, predictor, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    _error(_json(client, cancer, {"rows": [[0] * 30] * 50}, predictor), 413, "payload_too_large")


def test_an_idempotency_key_is_at_most_255_characters(client, cancer, key, org_a):
    own = key(ApiScope.PREDICT, organization=org_a)  # the publisher's: the gate lets it in
    ok = _json(client, cancer, {"rows": [[0] * 30]}, {**own, "Idempotency-Key": "k" * 255})
    long = _json(client, cancer, {"rows": [[0] * 30]}, {**own, "Idempotency-Key": "k" * 256})

    assert ok.status_code == 200, ok.content
    body = _error(long, 422, "validation_error")
    assert body["details"][0]["field"] == "Idempotency-Key"


# --- the gate --------------------------------------------------------------------------------
@pytest.fixture
def gate_calls(monkeypatch):
    calls = []

    class Recorded(metering.Metered):
        def finish(self, result):
            calls.append(("finish", result.rows))

        def release(self):
            calls.append(("release", None))

    def gate(*, request, version, rows, idempotency_key):
        calls.append(("gate", rows, idempotency_key, version.version, request.auth is not None))
        return Recorded(units_charged=rows)

    monkeypatch.setattr(metering, "gate", gate)
    return calls


def test_the_gate_is_called_once_with_the_rows_and_the_key(client, cancer, predictor, gate_calls):
    response = _json(
        client, cancer, {"rows": [[0] * 30] * 3}, {**predictor, "Idempotency-Key": "a-1"}
    )

    assert response.json()["units_charged"] == 3
    assert gate_calls == [("gate", 3, "a-1", "1.0.0", True), ("finish", 3)]


def test_bad_rows_never_reach_the_gate(client, cancer, predictor, gate_calls):
    _json(client, cancer, {"rows": [[0] * 29]}, predictor)

    assert gate_calls == []


def test_a_failed_prediction_releases(client, cancer, predictor, gate_calls, monkeypatch):
    from models_hub import predict

    def broken(**kwargs):
        raise RuntimeError("the estimator broke")

    monkeypatch.setattr(predict, "predict_matrix", broken)

    response = _json(client, cancer, {"rows": [[0] * 30]}, predictor)

    assert response.status_code == 500
    assert gate_calls[-1] == ("release", None)


# --- fuzzing ---------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=40,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"rows": json_values}),
    st.fixed_dictionaries({"rows": st.lists(st.lists(json_values, min_size=29, max_size=31))}),
)


@hypothesis.settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@hypothesis.given(body=bodies)
def test_any_json_body_is_a_200_or_a_4xx(client, cancer, predictor, body):
    response = client.post(
        cancer, json.dumps(body), content_type="application/json", headers=predictor
    )

    assert response.status_code < 500, response.content
    assert response.status_code == 200 or "code" in response.json()


@hypothesis.settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@hypothesis.given(body=st.binary(max_size=200))
def test_any_bytes_are_a_4xx(client, cancer, predictor, body):
    response = client.post(cancer, body, content_type="application/json", headers=predictor)

    assert 400 <= response.status_code < 500, response.content


def test_the_openapi_document_shows_examples_and_every_status(client):
    document = client.get("/api/openapi.json").json()
    operation = document["paths"]["/api/models/{org}/{slug}/versions/{version}/predict"]["post"]

    examples = operation["requestBody"]["content"]["application/json"]["examples"]
    assert set(examples) == {"objects", "arrays"}
    assert set(operation["responses"]) == {
        "200",
        "400",
        "401",
        "402",
        "403",
        "404",
        "409",
        "413",
        "422",
        "503",
    }
    assert "examples" in operation["responses"]["200"]["content"]["application/json"]
    assert any(p["name"] == "Idempotency-Key" for p in operation["parameters"])
    assert "/api/models/{org}/{slug}/predict" in document["paths"]
