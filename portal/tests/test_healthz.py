"""GET /healthz reports the database, the broker and the chain node."""

from __future__ import annotations

import pytest

from chain.testing.devnode import free_port


@pytest.fixture
def chain_at(settings):
    def point(url):
        settings.CHAIN_RPC_URL = url

    return point


def test_all_up_is_200(client, db, anvil, chain_at):
    chain_at(anvil.url)

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "broker",
        "chain",
    }


def test_a_required_chain_that_is_down_is_503(client, db, chain_at):
    chain_at(f"http://127.0.0.1:{free_port()}")  # nothing listens there

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["chain"]["ok"] is False
    assert body["checks"]["chain"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_an_optional_check_that_is_down_only_degrades(client, db, chain_at, settings):
    settings.HEALTHZ_REQUIRED = ["database", "broker"]
    chain_at(f"http://127.0.0.1:{free_port()}")

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"


def test_a_broken_broker_is_503(client, db, settings, tmp_path):
    if settings.CELERY_BROKER_IS_FILESYSTEM:
        missing = str(tmp_path / "gone")  # the queue folder vanished (a lost volume, say)
        options = {**settings.CELERY_BROKER_TRANSPORT_OPTIONS, "data_folder_in": missing}
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    else:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing there

    response = client.get("/healthz?checks=broker")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_unknown_check_names_are_a_400(client, db):
    response = client.get("/healthz?checks=database,coffee")

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_check"


def test_chain_status_api(client, db, anvil, chain_at):
    chain_at(anvil.url)
    assert client.get("/api/chain/status").json()["chain_id"] == anvil.chain_id

    chain_at(f"http://127.0.0.1:{free_port()}")
    response = client.get("/api/chain/status")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
