"""Schemathesis over the whole OpenAPI document, against the Django app in this process.

Every operation gets a bounded number of generated requests (examples, coverage and fuzzing
phases), anonymous or with a key that holds every scope, on an organization with a listed
model and a ready version; generated path parameters are sometimes swapped for those real
ones so the 200 paths are exercised too. Checks: no 5xx, documented status codes and content
types, bodies that conform to the documented schemas.

The schema is loaded when the module is imported: schemathesis' lazy ``from_fixture`` loader
does not work with pytest 9 (it sets ``node._nodeid``).
"""

from __future__ import annotations

import io

import hypothesis
import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.choices import ApiScope, Role
from portal.services import api_key_create

MAX_EXAMPLES = 25
KEY_MARK = "Bearer the-test-key"
# The document's examples (the demo's names): the organization, model and version made here.
REAL = {"org": "acme", "slug": "wine", "version": "1.0.0"}

config = schemathesis.Config.from_dict({"phases": {"stateful": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", WSGIHandler(), config=config)


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    """Half the time, the real organization, model and version instead of generated ones."""
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    real = {name: REAL.get(name, value) for name, value in path_parameters.items()}
    return st.sampled_from([path_parameters, real])


@schema.hook
def flatmap_headers(context, headers):
    """Public endpoints: half the time with the key (the test puts the real one in)."""
    if _secured(context.operation) or not (headers is None or isinstance(headers, dict)):
        return st.just(headers)
    return st.sampled_from([headers, {**(headers or {}), "Authorization": KEY_MARK}])


def _secured(operation) -> bool:
    return bool(operation.definition.raw.get("security"))


@pytest.fixture(scope="module")
def artifact_bytes():
    from models_hub.demo_models import serialize, train

    return serialize(train("breast-cancer")[0], "joblib")


@pytest.fixture
def api_world(db, make_staff, artifact_bytes, settings, tmp_path):
    """The organization, its listed model with a ready version, and a key with every scope."""
    from models_hub import services
    from models_hub.choices import Task
    from portal.services import organization_create

    storages = {**settings.STORAGES}
    storages["default"] = {**storages["default"], "OPTIONS": {"location": str(tmp_path)}}
    settings.STORAGES = storages
    acme = organization_create(name="Acme Models", slug=REAL["org"])
    model = services.model_create(
        organization=acme, name="Wine", slug=REAL["slug"], task=Task.CLASSIFICATION, listed=True
    )
    row = services.version_upload(
        model=model,
        version=REAL["version"],
        fileobj=io.BytesIO(artifact_bytes),
        filename="m.joblib",
    )
    services.version_validate(version_id=row.pk)
    owner = make_staff(acme, Role.MANAGER)
    issued = api_key_create(
        organization=acme, owner=owner, name="fuzz", scopes=[str(s) for s in ApiScope]
    )
    return {"Authorization": f"Bearer {issued.raw_key}"}


@pytest.fixture
def wsgi_keeps_the_test_connection():
    """The WSGI handler closes the database connection after each request; the test client
    does not, and neither may we: the test's transaction lives on that connection."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def chain_node(request, settings):
    """A real node for ``/api/chain/status`` (its 503 is tested on its own)."""

    def use():
        node = request.getfixturevalue("anvil")
        settings.CHAIN_RPC_URL = node.url

    return use


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_answers_what_its_schema_says(
    case, api_world, wsgi_keeps_the_test_connection, chain_node
):
    if case.operation.path == "/api/chain/status":
        chain_node()
    keyed = (case.headers or {}).get("Authorization") == KEY_MARK
    headers = api_world if keyed or _secured(case.operation) else {}
    case.call_and_validate(
        headers=headers,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
