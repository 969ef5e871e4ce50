"""A task round trip through a real Celery worker process on the configured broker."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

from chain.testing.required import REQUIRE_SERVICES, require_service
from portal.tasks import echo_task


def test_task_round_trip_through_a_real_worker(celery_worker, transactional_db):
    # given a worker on the configured broker
    payload = f"ping-{uuid.uuid4().hex}"

    # when a task is sent to it
    result = echo_task.delay(payload)  # the default queue is this test run's

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
