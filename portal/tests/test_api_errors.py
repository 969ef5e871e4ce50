"""Every error under /api/ answers one JSON shape with a registered code; the site keeps HTML."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseServerError
from django.test import RequestFactory
from ninja import NinjaAPI, Schema
from ninja.testing import TestClient

from models_hub import selectors
from models_hub.errors import ModelsErrorCode
from portal.api_errors import ApiErrorMiddleware, from_django_validation, install_error_handlers
from portal.choices import ApiScope, Role
from portal.errors import GENERIC_CODES, DomainError, PortalErrorCode, generic_code, registry
from portal.services import api_key_create


@pytest.fixture
def bearer(org_a, make_staff):
    owner = make_staff(org_a, Role.MANAGER)
    issued = api_key_create(
        organization=org_a, owner=owner, name="pipeline", scopes=[str(s) for s in ApiScope]
    )
    return {"Authorization": f"Bearer {issued.raw_key}"}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    assert body["code"] in registry()
    assert body["message"]
    assert isinstance(body["details"], list)
    return body


@pytest.mark.parametrize("path", ["/api/", "/api/nothing/here", "/api/models/a/b/c/d/e"])
def test_unknown_api_paths_and_the_root_are_404_json(client, db, path):
    body = assert_error(client.get(path), 404, "not_found")
    assert "/api/docs" in body["message"]


def test_the_rest_of_the_site_keeps_html_errors(client, db):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/key", "GET"),
        ("post", "/api/models", "GET"),
        ("put", "/api/chain/status", "GET"),
    ],
)
def test_a_wrong_method_is_405_json_and_says_what_is_allowed(client, db, method, path, allowed):
    response = getattr(client, method)(path)

    body = assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allowed
    assert allowed in body["message"]


def test_multipart_without_a_boundary_is_400(client, bearer):
    response = client.post(
        "/api/models/alpha/anything/versions",
        data=b"version=1.0.0",
        content_type="multipart/form-data",
        headers=bearer,
    )

    body = assert_error(response, 400, "bad_request")
    assert "boundary" in body["message"]


def test_too_many_fields_is_413(client, bearer, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    fields = {f"field{i}": "x" for i in range(10)}

    response = client.post("/api/models/alpha/anything/versions", fields, headers=bearer)

    assert_error(response, 413, "payload_too_large")


def test_a_form_field_over_the_memory_limit_is_413(client, bearer, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = client.post(
        "/api/models/alpha/anything/versions", {"version": "1" * 1000}, headers=bearer
    )

    assert_error(response, 413, "payload_too_large")


def test_a_validation_error_names_each_field(client, db):
    body = assert_error(client.get("/api/models?page=0"), 422, "validation_error")

    assert body["details"] == [
        {"field": "page", "code": "greater_than_equal", "message": body["details"][0]["message"]}
    ]


def test_an_unexpected_error_is_500_json_without_a_traceback(client, db, monkeypatch):
    def broken():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(selectors, "models_listed", broken)

    body = assert_error(client.get("/api/models"), 500, "internal_error")
    assert "secret" not in body["message"]
    assert "Traceback" not in str(body)


def test_a_500_from_outside_any_endpoint_is_reshaped_too():
    # given a debug page with a traceback, as Django renders it for an error in a middleware
    debug_page = HttpResponseServerError("<html>Traceback ... SECRET_KEY</html>")
    middleware = ApiErrorMiddleware(lambda request: debug_page)

    response = middleware(RequestFactory().get("/api/models"))
    site_response = middleware(RequestFactory().get("/admin/"))

    body = assert_error(response, 500, "internal_error")
    assert "SECRET_KEY" not in response.content.decode()
    assert body["details"] == []
    assert site_response is debug_page


def test_json_errors_pass_the_middleware_untouched():
    already = HttpResponse(b'{"code": "x"}', status=409, content_type="application/json")
    middleware = ApiErrorMiddleware(lambda request: already)

    assert middleware(RequestFactory().get("/api/models")) is already


def test_the_chain_node_being_down_is_503_json(client, db, settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # discard port: nothing listens there
    settings.CHAIN_RPC_TIMEOUT = 1

    body = assert_error(client.get("/api/chain/status"), 503, "service_unavailable")
    assert "unavailable" in body["message"]


def test_a_service_validation_error_answers_its_registered_code():
    exc = ValidationError(
        {
            "version": ValidationError("Version 1.0.0 exists already.", code="version_exists"),
            "__all__": ValidationError("Something else.", code="odd"),
        }
    )

    error = from_django_validation(exc)

    assert error.error is ModelsErrorCode.VERSION_EXISTS
    assert error.status == 409
    assert error.message == "Version 1.0.0 exists already."
    assert error.details == [
        {"field": "version", "code": "version_exists", "message": "Version 1.0.0 exists already."},
        {"field": None, "code": "odd", "message": "Something else."},
    ]


def test_a_validation_error_without_a_registered_code_is_422():
    error = from_django_validation(ValidationError("Enter a version like 1.2.0."))

    assert error.error is PortalErrorCode.VALIDATION_ERROR
    assert error.details == [
        {"field": None, "code": "invalid", "message": "Enter a version like 1.2.0."}
    ]


def test_a_domain_error_defaults_to_its_codes_message():
    error = DomainError(ModelsErrorCode.MODEL_NOT_FOUND)

    assert (error.code, error.status, error.message) == ("model_not_found", 404, "No such model.")
    assert error.details == []


def test_codes_are_unique_error_statuses_and_generic_codes_match_their_status():
    codes = registry()

    assert all(400 <= error.status < 600 for error in codes.values())
    assert all(code == error.code for code, error in codes.items())
    assert all(generic_code(status).status == status for status in GENERIC_CODES)
    assert generic_code(418) is PortalErrorCode.BAD_REQUEST
    assert generic_code(502) is PortalErrorCode.INTERNAL_ERROR


class ThingIn(Schema):
    name: str


def test_a_json_body_that_does_not_parse_is_400():
    # no endpoint of ours takes JSON yet: a throwaway API with the same handlers does
    api = NinjaAPI(urls_namespace="errors-json-test")
    install_error_handlers(api)

    @api.post("/things")
    def things(request, payload: ThingIn):
        return {"name": payload.name}

    client = TestClient(api)
    broken = client.post("/things", data=b'{"name": ', content_type="application/json")
    invalid = client.post("/things", json={"name": ["not", "a", "string"]})

    assert_error(broken, 400, "bad_request")
    body = assert_error(invalid, 422, "validation_error")
    assert [(d["field"], d["code"]) for d in body["details"]] == [("payload.name", "string_type")]
