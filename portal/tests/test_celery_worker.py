"""A task round trip through a real Celery worker process on the configured broker."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings
from django.db import connection

from conftest import REQUIRE_SERVICES, require_service
from portal.tasks import echo_task


def _database_url_of_test_db() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{user}{password}@{host}{port}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db):
    """A worker process consuming a queue of its own, on the test database."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "DATABASE_URL": _database_url_of_test_db(), "DEBUG": "true"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--pool=solo",
            "--queues",
            queue,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield queue
    process.terminate()
    try:
        output, _ = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    if "Traceback" in output:
        print(output)


def test_task_round_trip_through_a_real_worker(worker):
    # given a worker on the configured broker
    payload = f"ping-{uuid.uuid4().hex}"

    # when a task is sent to it
    result = echo_task.apply_async(args=[payload], queue=worker)

    # then it ran in the worker process and its result was stored by django-celery-results
    answer = result.get(timeout=60)
    assert answer["echo"] == payload
    assert answer["pid"] != os.getpid()
    from django_celery_results.models import TaskResult

    stored = TaskResult.objects.get(task_id=result.id)
    assert stored.status == "SUCCESS"
    assert payload in stored.result


def test_ci_runs_against_the_real_services():
    """In CI (REQUIRE_SERVICES=1) the database is PostgreSQL and the broker is Redis."""
    if not REQUIRE_SERVICES:
        pytest.skip("only CI requires PostgreSQL and Redis")
    require_service(settings.DATABASE_IS_POSTGRES, "DATABASE_URL must point at PostgreSQL")
    require_service(
        settings.CELERY_BROKER_URL.startswith("redis"), "CELERY_BROKER_URL must point at Redis"
    )
