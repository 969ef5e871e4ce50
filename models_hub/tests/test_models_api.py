"""The registry API: public listing, private drafts, uploads by training pipelines."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from models_hub import services
from models_hub.choices import Task, VersionStatus
from models_hub.demo_models import serialize, train
from models_hub.models import ModelVersion
from portal.choices import ApiScope, Role
from portal.services import api_key_create


@pytest.fixture
def key_for(make_staff):
    def make(organization, *scopes):
        owner = make_staff(organization, Role.MANAGER)
        issued = api_key_create(
            organization=organization, owner=owner, name="pipeline", scopes=list(scopes)
        )
        return {"Authorization": f"Bearer {issued.raw_key}"}

    return make


@pytest.fixture(scope="module")
def cancer_bytes():
    return serialize(train("breast-cancer")[0], "joblib")


def _post_version(client, headers, path, data, version="1.0.0", filename="m.joblib", **extra):
    payload = {"version": version, "artifact": SimpleUploadedFile(filename, data), **extra}
    return client.post(path, payload, headers=headers)


def test_the_public_sees_listed_models_and_published_versions(client, classifier, upload, org_a):
    hidden = services.model_create(organization=org_a, name="Draft", task=Task.REGRESSION)
    upload(classifier, b"junk", version="0.9.0")  # rejected: not public
    ready = upload(classifier, serialize(train("breast-cancer")[0], "joblib"), version="1.0.0")
    draft_listing = client.get("/api/models").json()
    draft_detail = client.get(f"/api/models/alpha/{classifier.slug}").json()
    services.version_publish(version=ready)

    listing = client.get("/api/models").json()
    detail = client.get(f"/api/models/alpha/{classifier.slug}").json()

    assert draft_listing["items"][0]["ready_versions"] == 0  # ready, but a draft
    assert draft_detail["versions"] == []
    assert [m["slug"] for m in listing["items"]] == [classifier.slug]
    assert listing["items"][0]["ready_versions"] == 1
    assert [v["version"] for v in detail["versions"]] == [ready.version]
    assert detail["versions"][0]["classes"] == [0, 1]
    assert detail["versions"][0]["published"] is True
    assert client.get(f"/api/models/alpha/{hidden.slug}").json()["code"] == "model_not_found"
    missing = client.get(f"/api/models/alpha/{classifier.slug}/versions/0.9.0")
    assert missing.status_code == 404
    assert missing.json()["code"] == "version_not_found"


def test_own_keys_see_drafts_and_rejection_reasons(client, classifier, upload, org_a, key_for):
    upload(classifier, b"junk", version="0.9.0")
    headers = key_for(org_a, ApiScope.MODELS_READ)

    response = client.get(f"/api/models/alpha/{classifier.slug}/versions/0.9.0", headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "rejected"
    assert body["rejection_code"] == "malformed_artifact"
    assert "not a readable joblib file" in body["rejection_reason"]


def test_a_pipeline_uploads_a_version(client, classifier, org_a, key_for, cancer_bytes):
    headers = key_for(org_a, ApiScope.MODELS_WRITE)
    path = f"/api/models/alpha/{classifier.slug}/versions"

    response = _post_version(client, headers, path, cancer_bytes, version="3.0.0")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "uploaded"
    row = ModelVersion.objects.get(model=classifier, version="3.0.0")
    assert body["sha256"] == row.sha256
    services.version_validate(version_id=row.pk)
    polled = client.get(f"{path}/3.0.0", headers=headers).json()
    assert polled["status"] == VersionStatus.READY
    assert polled["n_features"] == 30


@pytest.mark.parametrize(
    ("kwargs", "status", "code"),
    [
        ({"data": b""}, 422, "empty_artifact"),
        ({"data": b"x", "filename": "m.onnx"}, 422, "unknown_format"),
        ({"data": b"x", "format": "onnx"}, 422, "unknown_format"),
        ({"data": b"x", "version": "latest"}, 422, "validation_error"),
        ({"data": b"x" * 3000}, 413, "artifact_too_large"),
    ],
    ids=["empty", "extension", "format", "version-label", "too-large"],
)
def test_bad_uploads_get_4xx_and_save_nothing(
    client, classifier, org_a, key_for, settings, kwargs, status, code
):
    settings.MODEL_ARTIFACT_MAX_BYTES = 2048
    headers = key_for(org_a, ApiScope.MODELS_WRITE)
    path = f"/api/models/alpha/{classifier.slug}/versions"

    response = _post_version(client, headers, path, **kwargs)

    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    assert not ModelVersion.objects.exists()


def test_a_duplicate_version_is_409(client, classifier, org_a, key_for, cancer_bytes):
    headers = key_for(org_a, ApiScope.MODELS_WRITE)
    path = f"/api/models/alpha/{classifier.slug}/versions"
    assert _post_version(client, headers, path, cancer_bytes).status_code == 201

    response = _post_version(client, headers, path, cancer_bytes)

    assert response.status_code == 409
    assert response.json()["code"] == "version_exists"
    assert ModelVersion.objects.count() == 1


def test_uploads_need_the_scope_and_the_owning_organization(
    client, classifier, org_a, org_b, key_for, cancer_bytes
):
    path = f"/api/models/alpha/{classifier.slug}/versions"

    no_scope = _post_version(client, key_for(org_a, ApiScope.MODELS_READ), path, cancer_bytes)
    other_org = _post_version(client, key_for(org_b, ApiScope.MODELS_WRITE), path, cancer_bytes)
    anonymous = _post_version(client, {}, path, cancer_bytes)

    assert no_scope.status_code == 403
    assert no_scope.json()["code"] == "insufficient_scope"
    assert other_org.status_code == 403
    assert anonymous.status_code == 401
    assert not ModelVersion.objects.exists()


def test_another_organizations_unlisted_model_is_404_even_with_a_key(client, org_a, org_b, key_for):
    draft = services.model_create(organization=org_a, name="Secret", task=Task.REGRESSION)
    headers = key_for(org_b, ApiScope.MODELS_WRITE)

    response = client.get(f"/api/models/alpha/{draft.slug}", headers=headers)

    assert response.status_code == 404


def test_an_upload_over_the_request_limit_is_413(client, classifier, org_a, key_for, settings):
    settings.FILE_UPLOAD_MAX_BYTES = 4096
    headers = key_for(org_a, ApiScope.MODELS_WRITE)
    path = f"/api/models/alpha/{classifier.slug}/versions"

    response = _post_version(client, headers, path, b"x" * 100_000)

    assert response.status_code == 413
    assert response.json()["code"] == "artifact_too_large"
    assert not ModelVersion.objects.exists()


def test_an_upload_without_a_file_is_422(client, classifier, org_a, key_for):
    headers = key_for(org_a, ApiScope.MODELS_WRITE)

    response = client.post(
        f"/api/models/alpha/{classifier.slug}/versions", {"version": "1.0.0"}, headers=headers
    )

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("page", ["186617213328549412864", "1000001", "0"])
def test_a_page_out_of_bounds_is_a_422_not_an_overflow(client, page):
    # an offset past the database's integer was a 500 (SQLite, PostgreSQL alike)
    response = client.get(f"/api/models?page={page}")

    assert response.status_code == 422, response.content
    assert response.json()["code"] == "validation_error"
