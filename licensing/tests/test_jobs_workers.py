"""Batch jobs on real Celery worker processes on Redis, paid with credits bought on anvil.

A job over several chunks runs on two workers and its output is complete and in order; a
worker killed with SIGKILL in the middle of a chunk leaves the job to finish on the other one
(the pool's child killed: late acknowledgement and reject-on-worker-lost send the chunk back at
once; the whole worker killed: the beat's sweep takes the chunk over once its heartbeat is
stale), charged once; a job cancelled while it runs is charged for the rows done and releases
exactly the rows not done.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
import redis
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib.auth import get_user_model
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from chain.testing.market import CREDITS
from chain.testing.required import require_service
from licensing import entitlement
from licensing.models import CreditAccount, UsageReceipt
from models_hub import services as registry
from models_hub.choices import ChunkStatus, JobStatus
from models_hub.demo_models import serialize
from models_hub.jobs import services as jobs
from models_hub.models import AIModel, InferenceJob
from models_hub.tasks import jobs_sweep_task
from models_hub.tests import jobs_kit
from portal.services import customer_api_key_create

pytestmark = pytest.mark.django_db(transaction=True)

CREDIT_PRICE = 10**12
CHUNK_ROWS = 4_000
ROWS = 8 * CHUNK_ROWS
FEATURES = [f"f{i}" for i in range(8)]
STALE = 3  # the workers' JOB_CHUNK_STALE_SECONDS


@pytest.fixture
def redis_broker(task_queue):
    """Redis as the broker, for this test process's producer and for the workers it starts."""
    from portal.celery import app

    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis"):
        url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        reachable = bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        reachable = False
    require_service(reachable, f"Redis is not reachable at {url}")
    saved = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url, app.conf.broker_transport_options = url, {}
    _reset_pools(app)
    yield url
    app.conf.broker_url, app.conf.broker_transport_options = saved
    _reset_pools(app)


def _reset_pools(app) -> None:
    # kombu keeps one connection pool per broker URL; the app picks the configured one again
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def forest():
    X, y = make_classification(n_samples=600, n_features=len(FEATURES), random_state=0)
    import pandas as pd

    frame = pd.DataFrame(X, columns=FEATURES)
    estimator = RandomForestClassifier(n_estimators=150, random_state=0).fit(frame, y)
    rows, _ = make_classification(n_samples=ROWS, n_features=len(FEATURES), random_state=1)
    return estimator, pd.DataFrame(rows, columns=FEATURES)


@pytest.fixture
def paying(shop, forest, settings):
    """Alice holds credits for every row; the shop's model has the forest published."""
    settings.ENTITLEMENT_CACHE_SECONDS = 0
    settings.JOB_CHUNK_ROWS = CHUNK_ROWS  # fixed on each job at submission
    entitlement.invalidate()
    model = shop.offers[CREDITS].model
    AIModel.objects.filter(pk=model.pk).update(listed=True)
    estimator, _ = forest
    version = registry.version_upload(
        model=model,
        version="1.0.0",
        fileobj=io.BytesIO(serialize(estimator, "joblib")),
        filename="forest.joblib",
    )
    version = registry.version_validate(version_id=version.pk)
    registry.version_publish(version=version)
    alice = shop.env.acct.alice
    env = shop.env
    bought = ROWS + 1_000
    env.send(
        env.token.functions.purchase(CREDITS, bought, CREDIT_PRICE),
        alice,
        value=CREDIT_PRICE * bought,
    )
    shop.sync()
    user = get_user_model().objects.create_user(username=alice.lower())
    SocialAccount.objects.create(user=user, provider="siwe", uid=alice)
    key = customer_api_key_create(owner=user, name="jobs")
    version.refresh_from_db()
    return version, key.api_key, alice, bought


def _account(shop, holder):
    return CreditAccount.objects.get(network=shop.network, token_id=CREDITS, holder=holder)


def _submit(version, key, frame) -> InferenceJob:
    from licensing.entitlement import Caller

    job, created = jobs.job_submit(
        caller=Caller.of_api_key(key),
        version=version,
        source=jobs.JobSource.of_upload(jobs_kit.upload(jobs_kit.csv_bytes(frame))),
        user=key.owner,
        api_key=key,
    )
    assert created
    assert job.chunks_total == ROWS // CHUNK_ROWS
    return job


def _workers(celery_workers, broker, *, pool: str, count: int = 2):
    env = {
        "CELERY_BROKER_URL": broker,
        "JOB_BATCH_ROWS": "250",  # a heartbeat every 250 rows: chunks are seen mid-way
        "JOB_CHUNK_STALE_SECONDS": str(STALE),
    }
    return [celery_workers(name, pool=pool, env=env) for name in ("alpha", "beta")[:count]]


def _wait(predicate, *, timeout: float = 120, step: float = 0.05, sweep: bool = False, job=None):
    deadline = time.monotonic() + timeout
    swept = 0.0
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if sweep and time.monotonic() - swept > 1:  # the beat, every second
            jobs_sweep_task.delay()
            swept = time.monotonic()
        time.sleep(step)
    state = ""
    if job is not None:
        job.refresh_from_db()
        chunks = list(job.chunks.values_list("index", "status", "attempts", "worker", "rows_done"))
        from django_celery_results.models import TaskResult

        results = list(TaskResult.objects.values_list("task_name", "status", "result"))
        state = f": job {job.status} {job.error_message}; chunks {chunks}; tasks {results}"
    raise AssertionError("timed out waiting" + state)


def _mid_chunk_of(job, worker):
    """A chunk the worker is in the middle of (some batches done, not all)."""
    return job.chunks.filter(
        status=ChunkStatus.RUNNING,
        worker=worker.hostname,
        rows_done__gt=0,
        rows_done__lt=CHUNK_ROWS,
    ).first()


def _ended(job):
    job.refresh_from_db()
    return (
        job
        if job.status
        not in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.JOINING, JobStatus.CANCELLING)
        else None
    )


def _assert_complete_and_charged_once(shop, job, forest, alice, bought):
    estimator, frame = forest
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
    out = jobs_kit.output_frame(job)
    assert list(out["row"]) == list(range(1, ROWS + 1))  # every row once, in input order
    expected = jobs_kit.batched(estimator.predict_proba, frame.to_numpy(), 250)
    assert np.allclose(out.iloc[:, 2:].to_numpy(), expected, rtol=0, atol=1e-12)
    assert np.array_equal(out["prediction"].to_numpy(), estimator.predict(frame.to_numpy()))
    account = _account(shop, alice)
    assert (account.available, account.reserved, account.unsettled) == (bought - ROWS, 0, ROWS)
    receipt = UsageReceipt.objects.get()
    assert (receipt.units, receipt.input_hash) == (ROWS, "0x" + job.input_sha256)
    assert job.units_charged == ROWS


def test_two_workers_share_a_job_and_a_killed_pool_child_is_redelivered(
    celery_workers, redis_broker, shop, paying, forest
):
    # given two workers (a pool child each) and a job of eight chunks
    version, key, alice, bought = paying
    alpha, beta = _workers(celery_workers, redis_broker, pool="prefork")
    job = _submit(version, key, forest[1])

    # when alpha's child is killed in the middle of a chunk
    chunk = _wait(lambda: _mid_chunk_of(job, alpha))
    children = alpha.children()
    assert children
    for pid in children:
        os.kill(pid, 9)

    # then the chunk goes back to the queue (late ack, reject on worker lost), is taken over once
    # its heartbeat is stale, and the job ends complete, charged once
    job = _wait(lambda: _ended(job), timeout=90, job=job)
    _assert_complete_and_charged_once(shop, job, forest, alice, bought)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.DONE
    assert chunk.attempts >= 2
    workers = set(job.chunks.values_list("worker", flat=True))
    assert {alpha.hostname, beta.hostname} <= workers or beta.hostname in workers


def test_a_vanished_worker_is_swept_and_the_job_finishes_on_the_other(
    celery_workers, redis_broker, shop, paying, forest
):
    # given two solo workers and a job
    version, key, alice, bought = paying
    alpha, beta = _workers(celery_workers, redis_broker, pool="solo")
    job = _submit(version, key, forest[1])

    # when alpha dies whole (SIGKILL) in the middle of a chunk: nothing acknowledges, and its
    # message stays unacknowledged in Redis
    chunk = _wait(lambda: _mid_chunk_of(job, alpha))
    alpha.kill()

    # then the beat's sweep sees the stale heartbeat, queues the chunk again, beta runs it
    job = _wait(lambda: _ended(job), timeout=90, sweep=True, job=job)
    _assert_complete_and_charged_once(shop, job, forest, alice, bought)
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.DONE
    assert chunk.worker == beta.hostname
    assert chunk.attempts == 2


def test_a_job_cancelled_mid_way_releases_exactly_the_rows_not_done(
    celery_workers, redis_broker, shop, paying, forest
):
    # given one worker running a job
    version, key, alice, bought = paying
    _workers(celery_workers, redis_broker, pool="solo", count=1)
    job = _submit(version, key, forest[1])
    assert _account(shop, alice).reserved == ROWS

    # when it is cancelled after two chunks, while a third runs
    _wait(lambda: job.chunks.filter(status=ChunkStatus.DONE).count() >= 2)
    jobs.job_cancel(job=job)

    # then the running chunk stops at its next batch, the done rows are joined and charged, and
    # exactly the rows not done are released
    job = _wait(lambda: _ended(job), timeout=90, job=job)
    assert job.status == JobStatus.CANCELLED
    done = sum(job.chunks.filter(status=ChunkStatus.DONE).values_list("rows", flat=True))
    assert 2 * CHUNK_ROWS <= done < ROWS
    assert job.units_charged == job.output_rows == done
    account = _account(shop, alice)
    assert account.reserved == 0
    assert account.available == bought - done  # released: ROWS - done
    assert account.unsettled == done
    out = jobs_kit.output_frame(job)
    assert len(out) == done
    assert out["row"].is_monotonic_increasing
    assert not job.chunks.filter(status__in=[ChunkStatus.PENDING, ChunkStatus.RUNNING]).exists()
