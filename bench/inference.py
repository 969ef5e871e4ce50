"""Batch inference jobs through the real job path, against the serial floor on the same file.

For a RandomForest of 100 trees and a LogisticRegression on 20 features, a CSV of 1,000,000
rows (``--quick``: 200,000) is run as a job: ``job_submit`` (the file stored, checked and split
in one pass, chunk tasks queued), chunk tasks on real Celery worker processes (``--pool=solo``,
one process each, ``JOB_THREADS=1``) on Redis, and the join; the time is from the submit call to
the job seen ended. The floor is the same work in this process, one thread: read the file
(pyarrow's CSV reader, single-threaded), predict (and ``predict_proba``), write the output CSV
(pyarrow's writer) — the same libraries the job uses, with nothing else. Each worker has
run a small job first (its estimator is in its cache, as on a worker that serves jobs), and
the floor one run first too. The input is handed to ``job_submit`` as Django's upload handler
leaves an upload (a file on disk, moved into storage, not copied). Floor and job runs take
turns (three of each in the full run, one with ``--quick``); the figures are their medians,
and ``detail.phases`` says where a job's time went (submit, chunks, join).

Cases, per model (``rf``, ``lr``):
- ``inference.<model>_1m``: one worker's rows per second ÷ the floor's: target >= 0.9;
- ``inference.<model>_2_workers``: two workers' rows per second ÷ one worker's: target >= 1.6
  (``detail.cores`` says how many cores the machine has; each worker uses one);
- ``inference.<model>_rss``: the worker's peak RSS (``VmHWM``) after the big job ÷ after a
  job of a tenth of the rows, on a fresh worker: target <= 1.3.

Needs Redis (``BENCH_REDIS_URL``, default redis://127.0.0.1:6379/14): the filesystem broker
polls once a second, which is no engine for this.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench._common import case, migrate, setup_django

FULL = {"rows": 1_000_000, "rounds": 3}
QUICK = {"rows": 200_000, "rounds": 1}
FEATURES = 20
TRAIN_ROWS = 20_000
MODELS = tuple(os.environ.get("BENCH_INFERENCE_MODELS", "rf,lr").split(","))  # rf, lr


# --- data and estimators ------------------------------------------------------------------
def _estimator(name: str):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(
        n_samples=TRAIN_ROWS, n_features=FEATURES, n_informative=10, random_state=0
    )
    if name == "rf":
        return RandomForestClassifier(n_estimators=100, max_depth=12, random_state=0).fit(X, y)
    return LogisticRegression(max_iter=1000).fit(X, y)


def _write_csv(path: Path, rows: int) -> None:
    """``rows`` rows of 20 features (6 decimals, as measured data has), written in blocks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"x{i}" for i in range(FEATURES)]
    rng = np.random.default_rng(1)
    with path.open("wb") as out:
        out.write((",".join(names) + "\n").encode())
        left = rows
        while left:
            n = min(left, 200_000)
            block = np.round(rng.normal(size=(n, FEATURES)), 6)
            table = pa.table({name: block[:, i] for i, name in enumerate(names)})
            pa_csv.write_csv(table, out, write_options=pa_csv.WriteOptions(include_header=False))
            left -= n


def serial_floor(path: Path, estimator, out: Path) -> float:
    """Read, predict, write in one process and one thread; the seconds it took."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    with threadpool_limits(1):
        table = pa_csv.read_csv(path, read_options=pa_csv.ReadOptions(use_threads=False))
        matrix = np.column_stack([column.to_numpy() for column in table.columns])
        predictions = estimator.predict(matrix)
        probabilities = estimator.predict_proba(matrix)
    columns = {"row": pa.array(np.arange(1, len(matrix) + 1)), "prediction": predictions}
    for i, label in enumerate(estimator.classes_):
        columns[f"probability_{label}"] = probabilities[:, i]
    pa_csv.write_csv(pa.table(columns), out)
    return time.perf_counter() - start


# --- the portal side ------------------------------------------------------------------------
class Workers:
    """Real Celery worker processes (solo pool) on the bench's database, media and Redis."""

    def __init__(self, *, var_dir: Path, broker: str, queue: str) -> None:
        from django.conf import settings

        self.queue = queue
        self.env = {
            **os.environ,
            "DEBUG": "true",
            "VAR_DIR": str(var_dir),
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "JOB_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        from django.conf import settings

        name = f"bench{len(self.processes)}-{uuid.uuid4().hex[:6]}@bench"
        command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo"]
        command += ["--queues", self.queue, "-n", name, "--without-gossip", "--without-mingle"]
        command += ["--without-heartbeat", "--loglevel=ERROR"]
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        process.name = name
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process)


def peak_rss_kb(process: subprocess.Popen) -> int:
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _world(estimators: dict):
    """An organization, one model per estimator, published; the publisher's caller."""
    import io

    from django.contrib.auth import get_user_model

    from licensing.entitlement import Caller
    from models_hub import services
    from models_hub.choices import Task
    from models_hub.demo_models import serialize
    from portal.services import organization_create

    organization = organization_create(name="Bench Jobs", slug="bench-jobs")
    get_user_model().objects.create_user(username="bench", email="bench@example.com")
    versions = {}
    for name, estimator in estimators.items():
        model = services.model_create(
            organization=organization, name=f"Bench {name}", task=Task.CLASSIFICATION
        )
        row = services.version_upload(
            model=model,
            version="1.0.0",
            fileobj=io.BytesIO(serialize(estimator, "joblib")),
            filename="m.joblib",
        )
        version = services.version_validate(version_id=row.pk)
        services.version_publish(version=version)
        version.refresh_from_db()
        versions[name] = version
    caller = Caller(key=f"org:{organization.pk}", organization_ids=frozenset([organization.pk]))
    return versions, caller


def run_job(version, caller, path: Path, *, timeout: float = 1800) -> tuple[float, object]:
    """Submit ``path`` and wait until the job ends; (seconds, job)."""

    from models_hub.choices import JOB_ENDED
    from models_hub.jobs import services as jobs
    from models_hub.models import InferenceJob

    upload = path.with_name(f"upload-{uuid.uuid4().hex}.csv")
    os.link(path, upload)  # what Django's upload handler leaves: the file in a temporary file
    start = time.perf_counter()
    with upload.open("rb") as handle:
        source = jobs.JobSource.of_upload(Uploaded(handle, name=path.name))
        job, _ = jobs.job_submit(caller=caller, version=version, source=source)
    submitted = time.perf_counter() - start
    deadline = start + timeout
    while time.perf_counter() < deadline:
        status = InferenceJob.objects.filter(pk=job.pk).values_list("status", flat=True).get()
        if status in JOB_ENDED:
            break
        time.sleep(0.02)
    else:
        raise RuntimeError(f"job {job.public_id} did not end in {timeout} s")
    elapsed = time.perf_counter() - start
    job.refresh_from_db()
    if job.status != "succeeded":
        raise RuntimeError(f"job {job.public_id} {job.status}: {job.error_message}")
    job.phases = _phases(job, submitted)
    return elapsed, job


def _phases(job, submitted: float) -> dict:
    """Where the time went: submit (store, check, split), chunks, the join."""
    from django.db.models import Max, Min

    span = job.chunks.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return {
        "submit_s": round(submitted, 3),
        "chunks_s": round((span["last"] - span["first"]).total_seconds(), 3),
        "join_s": round((job.finished_at - span["last"]).total_seconds(), 3),
    }


class Uploaded:
    """An uploaded file as Django's upload handler leaves it (``TemporaryUploadedFile``): on
    disk, so the storage moves it into place instead of copying it."""

    def __new__(cls, handle, *, name: str):
        from django.core.files import File

        class _Temporary(File):
            def temporary_file_path(self) -> str:
                return self.file.name

        file = _Temporary(handle, name=name)
        file.size = os.path.getsize(handle.name)
        return file


def _warm(workers: Workers, version, caller, small: Path, count: int) -> None:
    """Run small jobs (chunks of 500 rows) until each of the ``count`` newest workers has
    loaded the estimator."""
    from django.test import override_settings

    from models_hub.models import JobChunk

    names = {process.name for process in workers.processes[-count:]}
    for _ in range(20):
        with override_settings(JOB_CHUNK_ROWS=500):
            _, job = run_job(version, caller, small)
        seen = set(JobChunk.objects.filter(job=job).values_list("worker", flat=True))
        names -= seen
        if not names:
            return
    raise RuntimeError(f"workers {names} took no chunk of the warm-up jobs")


def run(quick: bool = False) -> list[dict]:
    import redis

    params = QUICK if quick else FULL
    broker = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(broker, socket_timeout=2).ping()  # a clear error when it is not there
    queue = f"bench-{os.getpid()}"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = queue
    var_dir = setup_django(broker_url=broker)
    migrate()

    from django.conf import settings
    from django.test import override_settings

    from portal.celery import app

    rows = params["rows"]
    folder = Path(tempfile.mkdtemp(prefix="inference-", dir=var_dir))
    big, tenth, small = folder / "big.csv", folder / "tenth.csv", folder / "small.csv"
    _write_csv(big, rows)
    _write_csv(tenth, rows // 10)
    _write_csv(small, 2_000)  # a few chunks of 500 rows: every worker takes one, mostly
    estimators = {name: _estimator(name) for name in MODELS}
    versions, caller = _world(estimators)
    workers = Workers(var_dir=var_dir, broker=broker, queue=queue)
    results = []
    limits = {"JOB_MAX_BYTES": max(settings.JOB_MAX_BYTES, big.stat().st_size)}
    try:
        with override_settings(**limits):
            for name in MODELS:
                results += _cases(
                    name,
                    estimators[name],
                    versions[name],
                    caller,
                    workers,
                    big=big,
                    tenth=tenth,
                    small=small,
                    params=params,
                    folder=folder,
                )
    finally:
        workers.stop_all()
        with contextlib.suppress(Exception), app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    return results


def _cases(name, estimator, version, caller, workers, *, big, tenth, small, params, folder):
    rows = params["rows"]
    rounds = params["rounds"]
    serial_floor(big, estimator, folder / "floor.csv")  # a warm-up, as the workers have had
    # one fresh worker: a warm-up, the tenth (peak RSS), then the big job and the floor, in turns
    first = workers.start()
    _warm(workers, version, caller, small, 1)
    run_job(version, caller, tenth)
    rss_tenth = peak_rss_kb(first)
    floors, ones = [], []
    for _ in range(rounds):
        floors.append(serial_floor(big, estimator, folder / "floor.csv"))
        seconds, job = run_job(version, caller, big)
        ones.append(seconds)
    rss_big = peak_rss_kb(first)
    floor_s, one_s = statistics.median(floors), statistics.median(ones)
    # a second worker, warmed, and the same job on both
    workers.start()
    _warm(workers, version, caller, small, 1)
    twos = []
    for _ in range(rounds):
        seconds, job2 = run_job(version, caller, big)
        twos.append(seconds)
    two_s = statistics.median(twos)
    workers.stop_all()
    cores = os.cpu_count()
    label = f"{rows // 1000}k" if rows < 1_000_000 else f"{rows // 1_000_000}m"
    detail = {
        "rows": rows,
        "features": FEATURES,
        "chunks": job.chunks_total,
        "chunk_rows": job.chunk_rows,
        "input_mb": round(big.stat().st_size / 2**20, 1),
    }
    return [
        case(
            f"inference.{name}_{label}",
            ratio=floor_s / one_s,
            target=">=0.9",
            detail={
                **detail,
                "floor_s": round(floor_s, 3),
                "floors_s": [round(f, 3) for f in floors],
                "one_worker_s": round(one_s, 3),
                "one_worker_runs_s": [round(f, 3) for f in ones],
                "phases": job.phases,
                "floor_rows_per_s": round(rows / floor_s),
                "job_rows_per_s": round(rows / one_s),
            },
        ),
        case(
            f"inference.{name}_2_workers",
            ratio=one_s / two_s,
            target=">=1.6",
            detail={
                **detail,
                "one_worker_s": round(one_s, 3),
                "two_workers_s": round(two_s, 3),
                "two_workers_runs_s": [round(f, 3) for f in twos],
                "phases": job2.phases,
                "cores": cores,
                "threads_per_worker": 1,
                "workers_used": sorted(set(job2.chunks.values_list("worker", flat=True))),
            },
        ),
        case(
            f"inference.{name}_rss",
            ratio=rss_big / rss_tenth,
            target="<=1.3",
            detail={
                "rows": rows,
                "tenth_rows": rows // 10,
                "peak_rss_kb": rss_big,
                "peak_rss_tenth_kb": rss_tenth,
                "chunk_rows": job.chunk_rows,
            },
        ),
    ]
