"""Batch inference jobs: submit (check, quote, reserve), run chunks, join, charge once, cancel,
sweep and purge.

The life of a job (docs/ARCHITECTURE.md, "Batch jobs"):

1. ``job_submit``: the input is checked (``tabular.inspect``: columns, rows, encoding, and for
   small files every cell), the caller's right is checked (``licensing.entitlement``), the
   credits it needs are reserved (``credits_reserve``, held for ``JOB_MAX_RUNTIME``), and the
   job is written with one ``JobChunk`` per ``JOB_CHUNK_ROWS`` rows, all in one transaction;
   the chunk tasks are queued once it commits. Nothing is reserved for a refused input.
2. ``chunk_run`` (a Celery task per chunk, on any worker): claim the chunk by a conditional
   update that sets a fresh ``attempt``; read its rows (a byte range, a row range), predict
   them batch by batch (a heartbeat, the progress and a cancellation check after each), write
   the part under a name of its own and commit it by a conditional update on the attempt. A
   redelivered task, a second worker, a sweep: only one attempt ever commits a chunk.
3. ``job_join``: when no chunk is left to run, one task (claimed by a conditional update)
   streams the parts, in order, into the output, and in one transaction marks the job ended,
   consumes the credits of the rows done, releases the rest and writes the usage receipt.
4. ``jobs_sweep`` (beat): chunks whose worker vanished (a stale heartbeat) run again
   elsewhere; a lost join is claimed again; a job past ``JOB_MAX_RUNTIME`` fails.
5. ``jobs_purge`` (beat): inputs, parts and outputs go ``JOB_RETENTION_DAYS`` after the end.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import resource
import socket
import tempfile
import threading
import uuid
import warnings
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from licensing import entitlement
from licensing.choices import UsageUnit
from licensing.entitlement import CREDITS, PUBLISHER, Caller, Right
from licensing.errors import CreditErrorCode, EntitlementErrorCode
from licensing.services.credits import (
    credit_balance,
    credits_consume,
    credits_release,
    credits_reserve,
)
from licensing.services.receipts import receipt_record
from models_hub import predict
from models_hub.choices import JOB_ENDED, JOB_LIVE, ChunkStatus, JobFormat, JobStatus
from models_hub.errors import JobErrorCode
from models_hub.jobs import tabular
from models_hub.models import InferenceJob, JobChunk, ModelVersion
from portal.errors import DomainError

RUNNABLE = (JobStatus.QUEUED, JobStatus.RUNNING)
logger = logging.getLogger(__name__)


# --- what a submission is ---------------------------------------------------------------------
@dataclass
class JobSource:
    """What the caller sent: a file (CSV or Parquet) or JSON rows (written as a CSV input)."""

    file: File
    format: str
    name: str = ""

    @classmethod
    def of_upload(cls, upload, *, name: str | None = None) -> JobSource:
        """An uploaded file; its format from its name's extension."""
        filename = name if name is not None else (getattr(upload, "name", "") or "")
        extension = os.path.splitext(filename.lower())[1]
        formats = {".csv": JobFormat.CSV, ".parquet": JobFormat.PARQUET, ".pq": JobFormat.PARQUET}
        if extension not in formats:
            raise DomainError(
                JobErrorCode.UNKNOWN_FILE_FORMAT,
                f"{os.path.basename(filename) or 'The file'!s} is not a .csv or .parquet file.",
            )
        size = getattr(upload, "size", None)
        if size is not None and size > settings.JOB_MAX_BYTES:
            raise _too_large(size)
        if size == 0:
            raise DomainError(JobErrorCode.EMPTY_FILE, "The file is empty.")
        return cls(file=upload, format=formats[extension], name=os.path.basename(filename)[:255])

    @classmethod
    def of_rows(cls, *, version: ModelVersion, rows: list, text: bytes | None = None) -> JobSource:
        """JSON rows (every check of the predict API), as a CSV input in feature order."""
        matrix = predict.rows_matrix(
            version=version, rows=rows, text=text, limit=settings.JOB_MAX_ROWS
        )
        data = tabular.matrix_csv(matrix, version.feature_names)
        return cls(file=ContentFile(data, name="rows.csv"), format=JobFormat.JSON, name="")


def _too_large(size: int) -> DomainError:
    limit = settings.JOB_MAX_BYTES
    return DomainError(
        JobErrorCode.FILE_TOO_LARGE,
        f"The file is {size:,} bytes: a job's input may be at most {limit:,} bytes.",
    )


@dataclass(frozen=True)
class Quote:
    """What a job would cost the caller, before anything is reserved."""

    rows: int
    chunks: int
    units: int  # units of use (receipted)
    unit: str  # what a unit is: a row, or a call (PREDICT_MAX_ROWS rows per call)
    right: Right
    credits_needed: int  # of them, credits (a credits right); 0 under a license or pass
    credits_available: int | None  # a credits right's balance; None for other rights

    @property
    def enough(self) -> bool:
        return self.credits_available is None or self.credits_available >= self.credits_needed

    def as_dict(self) -> dict:
        return {
            "rows": self.rows,
            "chunks": self.chunks,
            "units": self.units,
            "unit": self.unit,
            "right": self.right.kind,
            "credits_needed": self.credits_needed,
            "credits_available": self.credits_available,
            "enough": self.enough,
        }


def units_for(*, right: Right, rows: int) -> int:
    """A job costs what its rows would through the predict API in the fewest calls: one unit
    per row, or per call of at most ``PREDICT_MAX_ROWS`` rows for a per-call offer."""
    if right.kind == PUBLISHER or rows == 0:
        return 0
    if right.unit == UsageUnit.ROW:
        return rows
    return math.ceil(rows / settings.PREDICT_MAX_ROWS)


# --- checking and quoting ---------------------------------------------------------------------
def _layout(*, version: ModelVersion, source: JobSource) -> tabular.Layout:
    predict.check_published(version)
    handle = source.file
    handle.seek(0)
    fmt = JobFormat.CSV if source.format == JobFormat.JSON else source.format
    layout = tabular.inspect(
        handle,
        fmt=fmt,
        features=list(version.feature_names),
        id_column=settings.JOB_ID_COLUMN,
        chunk_rows=settings.JOB_CHUNK_ROWS,
        max_rows=settings.JOB_MAX_ROWS,
    )
    if layout.size > settings.JOB_MAX_BYTES:
        raise _too_large(layout.size)
    if layout.size <= settings.JOB_INLINE_CHECK_BYTES:
        for span in layout.chunks:  # every cell now: a bad one is refused before any charge
            tabular.read_chunk(
                handle,
                fmt=fmt,
                columns=layout.columns,
                features=layout.features,
                id_column=layout.id_column,
                span=span,
            )
    return layout


def _right(*, caller: Caller, version: ModelVersion) -> Right:
    return entitlement.check(caller=caller, version=version).raise_if_refused().right


def _quote(*, caller: Caller, version: ModelVersion, layout: tabular.Layout) -> Quote:
    right = _right(caller=caller, version=version)
    units = units_for(right=right, rows=layout.rows)
    available = None
    if right.kind == CREDITS:
        available = credit_balance(
            network_id=right.network_id, token_id=right.token_id, holder=right.holder
        ).available
    return Quote(
        rows=layout.rows,
        chunks=len(layout.chunks),
        units=units,
        unit=right.unit,
        right=right,
        credits_needed=units if right.kind == CREDITS else 0,
        credits_available=available,
    )


def job_quote(*, caller: Caller, version: ModelVersion, source: JobSource) -> Quote:
    """Check the input and the caller's right; what the job would cost (nothing is reserved)."""
    _right(caller=caller, version=version)  # a caller without a right learns it first
    layout = _layout(version=version, source=source)
    return _quote(caller=caller, version=version, layout=layout)


# --- submitting -------------------------------------------------------------------------------
def job_submit(
    *,
    caller: Caller,
    version: ModelVersion,
    source: JobSource,
    user=None,
    api_key=None,
    idempotency_key: str | None = None,
) -> tuple[InferenceJob, bool]:
    """Check, quote, reserve and queue a job; returns it and whether it was made now (False:
    the same ``idempotency_key`` made it before, for the same input)."""
    _right(caller=caller, version=version)
    layout = _layout(version=version, source=source)
    if idempotency_key:
        earlier = _earlier(caller=caller, key=idempotency_key, version=version, layout=layout)
        if earlier is not None:
            return earlier, False
    quote = _quote(caller=caller, version=version, layout=layout)
    _check_quota(quote)
    if not quote.enough:
        raise DomainError(
            CreditErrorCode.INSUFFICIENT_CREDITS,
            f"This job of {quote.rows:,} rows needs {quote.credits_needed:,} credit(s); "
            f"{quote.credits_available:,} are available: buy more, or send fewer rows.",
        )
    try:
        job = _create(
            caller=caller,
            version=version,
            source=source,
            layout=layout,
            quote=quote,
            user=user,
            api_key=api_key,
            idempotency_key=idempotency_key or "",
        )
    except IntegrityError:  # the same key, sent twice at once: the other one made it
        earlier = _earlier(caller=caller, key=idempotency_key, version=version, layout=layout)
        if earlier is None:
            raise
        return earlier, False
    return job, True


def _earlier(*, caller, key, version, layout) -> InferenceJob | None:
    job = InferenceJob.objects.filter(owner_key=caller.key, idempotency_key=key).first()
    if job is None:
        return None
    if job.version_id != version.pk or job.input_sha256 != layout.sha256:
        raise DomainError(
            CreditErrorCode.IDEMPOTENCY_KEY_REUSED,
            "This Idempotency-Key made another job (another version or another file).",
        )
    return job


def _check_quota(quote: Quote) -> None:
    left = entitlement.quota_left(right=quote.right)
    if left is not None and left < quote.units:
        raise DomainError(
            EntitlementErrorCode.QUOTA_EXCEEDED,
            f"The license's terms allow {quote.right.usage_quota:,} units a "
            f"{quote.right.quota_period or 'period'}; {left:,} are left and this job needs "
            f"{quote.units:,}.",
        )


@transaction.atomic
def _create(*, caller, version, source, layout, quote, user, api_key, idempotency_key):
    right = quote.right
    reservation = None
    if right.kind == CREDITS and quote.credits_needed:
        reservation = credits_reserve(
            network_id=right.network_id,
            token_id=right.token_id,
            holder=right.holder,
            units=quote.credits_needed,
            ttl_seconds=settings.JOB_MAX_RUNTIME + settings.JOB_CHUNK_STALE_SECONDS * 2,
        )
    organization = getattr(api_key, "organization", None) if api_key else None
    job = InferenceJob(
        version=version,
        owner_key=caller.key,
        user=user if getattr(user, "is_authenticated", False) else None,
        organization=organization,
        api_key=api_key,
        idempotency_key=idempotency_key,
        input_format=source.format,
        input_name=source.name,
        input_bytes=layout.size,
        input_sha256=layout.sha256,
        id_column=layout.id_column,
        columns=layout.columns,
        rows_total=layout.rows,
        chunk_rows=settings.JOB_CHUNK_ROWS,
        chunks_total=len(layout.chunks),
        right_kind=right.kind,
        network_id=right.network_id,
        token_id=right.token_id,
        holder=right.holder,
        unit=right.unit if right.kind != PUBLISHER else "",
        units_quoted=quote.units,
        reservation=reservation,
    )
    job.full_clean(exclude=["input_file", "reservation", "receipt", "user", "api_key"])
    source.file.seek(0)
    job.input_file.save("input", source.file, save=False)
    try:
        job.save(force_insert=True)
        now = timezone.now()
        JobChunk.objects.bulk_create(
            JobChunk(
                job=job,
                index=index,
                first_row=span.first_row,
                rows=span.rows,
                byte_start=span.byte_start,
                byte_end=span.byte_end,
                enqueued_at=now,
            )
            for index, span in enumerate(layout.chunks)
        )
    except BaseException:
        default_storage.delete(job.input_file.name)
        raise
    ids = list(job.chunks.values_list("pk", flat=True))
    transaction.on_commit(lambda: _enqueue_chunks(ids))
    return job


def _enqueue_chunks(chunk_ids: list[int]) -> None:
    from models_hub.tasks import chunk_run_task

    for chunk_id in chunk_ids:
        chunk_run_task.delay(chunk_id)


def _enqueue_join(job_id: int, attempt: uuid.UUID) -> None:
    from models_hub.tasks import job_join_task

    transaction.on_commit(lambda: job_join_task.delay(job_id, str(attempt)))


# --- running a chunk --------------------------------------------------------------------------
class ChunkBusy(Exception):
    """Another attempt holds the chunk and its heartbeat is fresh: ask again later."""


def _peak_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def chunk_run(*, chunk_id: int, worker: str = "") -> str:
    """Run one chunk if it is this call's to run; returns what became of it. Raises
    ``ChunkBusy`` (ask again later) while another live attempt holds it, and ``ChunkRetry``
    after an unexpected error while attempts are left."""
    attempt = _claim(chunk_id, worker or socket.gethostname())
    if attempt is None:
        chunk = JobChunk.objects.filter(pk=chunk_id).values("status", "job__status").first()
        if chunk is None:
            return "gone"
        if chunk["status"] == ChunkStatus.RUNNING and chunk["job__status"] in RUNNABLE:
            raise ChunkBusy(chunk_id)
        return chunk["status"]
    chunk = JobChunk.objects.select_related("job__version__model").get(pk=chunk_id)
    job = chunk.job
    if chunk.attempts > settings.JOB_CHUNK_MAX_ATTEMPTS:
        _fail(
            job,
            JobErrorCode.JOB_WORKER_LOST,
            chunk=chunk,
            message=(
                f"Chunk {chunk.index} was started {chunk.attempts - 1} times and its worker "
                "stopped each time."
            ),
        )
        return ChunkStatus.FAILED
    InferenceJob.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
        status=JobStatus.RUNNING, started_at=timezone.now()
    )
    try:
        with _Heartbeat(chunk.pk, attempt):
            outcome = _predict_chunk(job, chunk, attempt)
    except DomainError as error:
        if error.status < 500:  # the input's fault: the job fails with the reason
            _fail(job, error.error, chunk=chunk, message=error.message, details=error.details)
            return ChunkStatus.FAILED
        return _errored(job, chunk, attempt, error.message)
    except Exception as exc:  # a bug, the file store, memory: another attempt may do better
        logger.exception("chunk %s of job %s failed", chunk.index, job.public_id)
        return _errored(job, chunk, attempt, f"{type(exc).__name__}: {exc}"[:500])
    _maybe_join(job.pk)
    return outcome


class ChunkRetry(Exception):
    """The chunk failed for a reason of ours (not its input's); it is pending again."""


def _errored(job: InferenceJob, chunk: JobChunk, attempt: uuid.UUID, reason: str) -> str:
    """A chunk failed for a reason that is not its input's: run it again while attempts are
    left (``ChunkRetry``), else fail the job with the last reason."""
    if chunk.attempts >= settings.JOB_CHUNK_MAX_ATTEMPTS:
        message = f"Chunk {chunk.index} failed {chunk.attempts} times; the last time: {reason}"
        _fail(job, JobErrorCode.JOB_CHUNK_FAILED, chunk=chunk, message=message)
        return ChunkStatus.FAILED
    JobChunk.objects.filter(pk=chunk.pk, attempt=attempt, status=ChunkStatus.RUNNING).update(
        status=ChunkStatus.PENDING, enqueued_at=timezone.now()
    )
    raise ChunkRetry(reason)


class _Heartbeat:
    """While a chunk runs, a thread moves its heartbeat every third of the stale time, so a
    batch that takes long (a big ensemble) is not taken for a dead worker. Most chunks end
    before its first beat: it touches the database only for long ones."""

    def __init__(self, chunk_id: int, attempt: uuid.UUID) -> None:
        self.chunk_id, self.attempt = chunk_id, attempt
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="chunk-heartbeat", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        from django.db import connection

        interval = max(settings.JOB_CHUNK_STALE_SECONDS / 3, 0.5)
        try:
            while not self.stop.wait(interval):
                JobChunk.objects.filter(
                    pk=self.chunk_id, attempt=self.attempt, status=ChunkStatus.RUNNING
                ).update(heartbeat_at=timezone.now())
        except Exception:  # the batch's own heartbeat still runs; the sweep is the backstop
            logger.warning("heartbeat of chunk %s failed", self.chunk_id, exc_info=True)
        finally:
            connection.close()


def _claim(chunk_id: int, worker: str) -> uuid.UUID | None:
    now = timezone.now()
    stale = now - timedelta(seconds=settings.JOB_CHUNK_STALE_SECONDS)
    attempt = uuid.uuid4()
    runnable = InferenceJob.objects.filter(status__in=RUNNABLE).values("pk")
    claimed = (
        JobChunk.objects.filter(pk=chunk_id, job__in=runnable)
        .filter(
            Q(status=ChunkStatus.PENDING) | Q(status=ChunkStatus.RUNNING, heartbeat_at__lt=stale)
        )
        .update(
            status=ChunkStatus.RUNNING,
            attempt=attempt,
            attempts=F("attempts") + 1,
            worker=worker[:255],
            rows_done=0,
            started_at=now,
            heartbeat_at=now,
        )
    )
    return attempt if claimed else None


def _predict_chunk(job: InferenceJob, chunk: JobChunk, attempt: uuid.UUID) -> str:
    from threadpoolctl import threadpool_limits

    version = job.version
    estimator = predict.estimator_of(version)
    fmt = JobFormat.CSV if job.input_format == JobFormat.JSON else job.input_format
    span = tabular.ChunkSpan(chunk.first_row, chunk.rows, chunk.byte_start, chunk.byte_end)
    with default_storage.open(job.input_file.name, "rb") as handle:
        rows = tabular.read_chunk(
            handle,
            fmt=fmt,
            columns=job.columns,
            features=list(version.feature_names),
            id_column=job.id_column,
            span=span,
        )
    classes = estimator.classes_.tolist() if hasattr(estimator, "classes_") else None
    with_proba = classes is not None and hasattr(estimator, "predict_proba")
    predictions, probabilities = [], []
    batch = settings.JOB_BATCH_ROWS
    with threadpool_limits(settings.JOB_THREADS), warnings.catch_warnings():
        # rows come in the version's feature order: a plain array (as the predict API sends)
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        for start in range(0, chunk.rows, batch):
            part = rows.matrix[start : start + batch]
            predictions.append(estimator.predict(part))
            if with_proba:
                probabilities.append(estimator.predict_proba(part))
            if not _heartbeat(job.pk, chunk.pk, attempt, min(start + batch, chunk.rows)):
                return _stop(job.pk, chunk.pk, attempt)
    table = tabular.prediction_table(
        first_row=chunk.first_row,
        ids=rows.ids,
        id_column=job.id_column,
        predictions=np.concatenate(predictions),
        probabilities=np.concatenate(probabilities) if with_proba else None,
        classes=classes,
    )
    if job.output_format == JobFormat.PARQUET:
        data, extension = tabular.parquet_part(table), "parquet"
    else:
        data, extension = tabular.csv_part(table), "csv"
    name = default_storage.save(
        f"{job.folder}/parts/{chunk.index:06d}-{attempt.hex}.{extension}", ContentFile(data)
    )
    return _commit(job.pk, chunk, attempt, name)


def _heartbeat(job_id: int, chunk_id: int, attempt: uuid.UUID, rows_done: int) -> bool:
    """Move the heartbeat and the progress; False when the chunk should stop (the job was
    cancelled or failed, or another attempt took the chunk over)."""
    moved = JobChunk.objects.filter(
        pk=chunk_id, attempt=attempt, status=ChunkStatus.RUNNING
    ).update(heartbeat_at=timezone.now(), rows_done=rows_done)
    if not moved:
        return False
    return InferenceJob.objects.filter(pk=job_id, status__in=RUNNABLE).exists()


def _stop(job_id: int, chunk_id: int, attempt: uuid.UUID) -> str:
    JobChunk.objects.filter(pk=chunk_id, attempt=attempt, status=ChunkStatus.RUNNING).update(
        status=ChunkStatus.CANCELLED, finished_at=timezone.now()
    )
    _maybe_join(job_id)
    return ChunkStatus.CANCELLED


def _commit(job_id: int, chunk: JobChunk, attempt: uuid.UUID, part: str) -> str:
    with transaction.atomic():
        committed = JobChunk.objects.filter(
            pk=chunk.pk, attempt=attempt, status=ChunkStatus.RUNNING
        ).update(
            status=ChunkStatus.DONE,
            part_file=part,
            rows_done=chunk.rows,
            finished_at=timezone.now(),
            peak_rss_kb=_peak_rss_kb(),
        )
        if committed:
            InferenceJob.objects.filter(pk=job_id).update(rows_done=F("rows_done") + chunk.rows)
    if not committed:  # another attempt holds it now, or the job ended: this part is not used
        default_storage.delete(part)
        return "superseded"
    return ChunkStatus.DONE


def _maybe_join(job_id: int) -> None:
    """Claim the join once no chunk is left to run (exactly one caller wins the update)."""
    live = JobChunk.objects.filter(
        job_id=job_id, status__in=[ChunkStatus.PENDING, ChunkStatus.RUNNING]
    )
    if live.exists():
        return
    attempt = uuid.uuid4()
    with transaction.atomic():
        claimed = InferenceJob.objects.filter(
            pk=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING]
        ).update(status=JobStatus.JOINING, join_attempt=attempt, join_heartbeat_at=timezone.now())
        if claimed:
            _enqueue_join(job_id, attempt)


# --- failing and cancelling -------------------------------------------------------------------
def _fail(
    job: InferenceJob,
    error,
    *,
    chunk: JobChunk | None = None,
    message: str = "",
    details: list | None = None,
) -> bool:
    """End a live job as failed with its reason; its reservation goes back whole (a failed job
    is not charged); returns whether this call failed it."""
    row, column = _where(details or [])
    with transaction.atomic():
        failed = InferenceJob.objects.filter(pk=job.pk, status__in=JOB_LIVE).update(
            status=JobStatus.FAILED,
            error_code=error.code,
            error_message=message or error.message,
            error_chunk=chunk.index if chunk is not None else None,
            error_row=row,
            error_column=column,
            finished_at=timezone.now(),
        )
        if not failed:
            return False
        JobChunk.objects.filter(job_id=job.pk, status__in=[ChunkStatus.PENDING]).update(
            status=ChunkStatus.CANCELLED
        )
        if chunk is not None:
            JobChunk.objects.filter(pk=chunk.pk, status=ChunkStatus.RUNNING).update(
                status=ChunkStatus.FAILED, finished_at=timezone.now()
            )
        if job.reservation_id:
            credits_release(reservation=job.reservation)
    return True


def _where(details: list) -> tuple[int | None, str]:
    """The row and column a detail's field names (``rows.12.mean radius``)."""
    for item in details:
        parts = (item.get("field") or "").split(".", 2)
        if parts[0] == "rows" and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1]), parts[2] if len(parts) > 2 else ""
        if item.get("field"):
            return None, item["field"]
    return None, ""


def job_cancel(*, job: InferenceJob) -> InferenceJob:
    """Cancel a live job: chunks not started never start, running ones stop at their next
    batch; the rows done are joined and charged, the rest of the reservation released."""
    with transaction.atomic():
        cancelled = InferenceJob.objects.filter(pk=job.pk, status__in=RUNNABLE).update(
            status=JobStatus.CANCELLING, cancelled_at=timezone.now()
        )
        if cancelled:
            JobChunk.objects.filter(job_id=job.pk, status=ChunkStatus.PENDING).update(
                status=ChunkStatus.CANCELLED
            )
    if not cancelled:
        job.refresh_from_db()
        if job.status in (JobStatus.CANCELLING, JobStatus.JOINING) and job.cancelled_at:
            return job  # cancelled already
        raise DomainError(
            JobErrorCode.JOB_NOT_CANCELLABLE, f"The job is {job.get_status_display().lower()}."
        )
    _maybe_join(job.pk)
    job.refresh_from_db()
    return job


# --- joining ----------------------------------------------------------------------------------
class _Local(File):
    """A temporary local file that storage may move instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


def job_join(*, job_id: int, attempt: str) -> str:
    """Join the done chunks' parts into the output and settle the charge (once per job)."""
    job = InferenceJob.objects.select_related("version__model", "reservation").get(pk=job_id)
    if job.status != JobStatus.JOINING or str(job.join_attempt) != str(attempt):
        return "not-mine"
    chunks = list(job.chunks.filter(status=ChunkStatus.DONE).order_by("index"))
    rows_done = sum(chunk.rows for chunk in chunks)
    output, size = _write_output(job, chunks, attempt) if chunks else ("", 0)
    cancelled = job.cancelled_at is not None
    right = Right(kind=job.right_kind, unit=job.unit or UsageUnit.ROW)
    units = units_for(right=right, rows=rows_done)
    with transaction.atomic():
        ended = InferenceJob.objects.filter(
            pk=job.pk, status=JobStatus.JOINING, join_attempt=attempt
        ).update(
            status=JobStatus.CANCELLED if cancelled else JobStatus.SUCCEEDED,
            output_file=output,
            output_rows=rows_done,
            output_bytes=size,
            units_charged=units if job.right_kind == CREDITS else 0,
            finished_at=timezone.now(),
        )
        if ended:
            _settle(job, units)
    if not ended:
        if output:
            default_storage.delete(output)
        return "not-mine"
    for chunk in chunks:
        with contextlib.suppress(OSError):
            default_storage.delete(chunk.part_file)
    return "cancelled" if cancelled else "succeeded"


def _write_output(job: InferenceJob, chunks: list[JobChunk], attempt: str) -> tuple[str, int]:
    extension = "parquet" if job.output_format == JobFormat.PARQUET else "csv"
    temporary = tempfile.NamedTemporaryFile(  # noqa: SIM115 - handed to storage, then closed
        dir=settings.FILE_UPLOAD_TEMP_DIR, suffix=f".{extension}", delete=False
    )
    try:
        parts = _parts(chunks)
        if extension == "parquet":
            tabular.join_parquet(parts, temporary)
        else:
            estimator = predict.estimator_of(job.version)
            classes = estimator.classes_.tolist() if hasattr(estimator, "classes_") else None
            names = tabular.output_columns(
                id_column=job.id_column,
                classes=classes,
                probabilities=classes is not None and hasattr(estimator, "predict_proba"),
            )
            tabular.join_csv(parts, temporary, names)
        temporary.flush()
        size = temporary.tell()
        temporary.seek(0)
        name = default_storage.save(
            f"{job.folder}/output-{str(attempt)[:8]}.{extension}", _Local(temporary)
        )
    finally:
        temporary.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary.name)
    return name, size


def _parts(chunks: list[JobChunk]):
    for chunk in chunks:
        with default_storage.open(chunk.part_file, "rb") as part:
            yield part


def _settle(job: InferenceJob, units: int) -> None:
    """In the join's transaction: consume the rows done's credits, release the rest, receipt."""
    if job.reservation_id:
        if units:
            credits_consume(reservation=job.reservation, units=units)
        else:
            credits_release(reservation=job.reservation)
    if job.right_kind == PUBLISHER or not units:
        return
    receipt = receipt_record(
        holder=job.holder,
        network_id=job.network_id,
        token_id=int(job.token_id),
        units=units,
        input_hash="0x" + job.input_sha256,
        user=job.user,
        api_key=job.api_key,
    )
    InferenceJob.objects.filter(pk=job.pk).update(receipt=receipt)


# --- sweeping and purging ---------------------------------------------------------------------
@dataclass
class SweepReport:
    requeued: int = 0  # stale or lost chunks queued again
    rejoined: int = 0  # lost joins claimed again
    timed_out: int = 0
    failed: int = 0  # chunks that ran out of attempts

    def __str__(self) -> str:
        return (
            f"{self.requeued} chunk(s) queued again, {self.rejoined} join(s) claimed again, "
            f"{self.timed_out} job(s) timed out, {self.failed} failed (worker lost)"
        )


def jobs_sweep(*, now=None) -> SweepReport:
    """Pick up what vanished workers left: the beat task and ``manage.py jobs_sweep``."""
    now = now or timezone.now()
    report = SweepReport()
    stale = now - timedelta(seconds=settings.JOB_CHUNK_STALE_SECONDS)
    for job in InferenceJob.objects.filter(
        status__in=JOB_LIVE, created_at__lt=now - timedelta(seconds=settings.JOB_MAX_RUNTIME)
    ):
        if _fail(
            job,
            JobErrorCode.JOB_TIMED_OUT,
            message=(f"The job ran past {settings.JOB_MAX_RUNTIME} s, the most a job may run."),
        ):
            report.timed_out += 1
    requeue = []
    stale_chunks = JobChunk.objects.filter(
        status=ChunkStatus.RUNNING, heartbeat_at__lt=stale, job__status__in=RUNNABLE
    ).select_related("job")
    for chunk in stale_chunks:
        if chunk.attempts >= settings.JOB_CHUNK_MAX_ATTEMPTS:
            if _fail(
                chunk.job,
                JobErrorCode.JOB_WORKER_LOST,
                chunk=chunk,
                message=(
                    f"Chunk {chunk.index} was started {chunk.attempts} times and its worker "
                    "stopped each time."
                ),
            ):
                report.failed += 1
            continue
        reset = JobChunk.objects.filter(
            pk=chunk.pk, attempt=chunk.attempt, status=ChunkStatus.RUNNING
        ).update(status=ChunkStatus.PENDING, enqueued_at=now)
        if reset:
            requeue.append(chunk.pk)
    lost = JobChunk.objects.filter(
        status=ChunkStatus.PENDING,
        enqueued_at__lt=now - timedelta(seconds=settings.JOB_PENDING_REQUEUE_SECONDS),
        job__status__in=RUNNABLE,
    ).values_list("pk", flat=True)
    for pk in lost:
        if JobChunk.objects.filter(pk=pk, status=ChunkStatus.PENDING).update(enqueued_at=now):
            requeue.append(pk)
    _enqueue_chunks(requeue)
    report.requeued = len(requeue)
    for job in InferenceJob.objects.filter(status=JobStatus.JOINING, join_heartbeat_at__lt=stale):
        attempt = uuid.uuid4()
        with transaction.atomic():
            if InferenceJob.objects.filter(
                pk=job.pk, status=JobStatus.JOINING, join_attempt=job.join_attempt
            ).update(join_attempt=attempt, join_heartbeat_at=now):
                _enqueue_join(job.pk, attempt)
                report.rejoined += 1
    # a chunk whose worker died after its job was cancelled or failed: it is not coming back
    JobChunk.objects.filter(status=ChunkStatus.RUNNING, heartbeat_at__lt=stale).exclude(
        job__status__in=RUNNABLE
    ).update(status=ChunkStatus.CANCELLED, finished_at=now)
    # a live job none of whose chunks is left to run, whose join was never claimed
    idle = InferenceJob.objects.filter(
        status__in=[JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING]
    ).exclude(chunks__status__in=[ChunkStatus.PENDING, ChunkStatus.RUNNING])
    for pk in idle.values_list("pk", flat=True):
        _maybe_join(pk)
    return report


def jobs_purge(*, now=None) -> int:
    """Delete the files of jobs that ended ``JOB_RETENTION_DAYS`` ago; returns how many jobs."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.JOB_RETENTION_DAYS)
    purged = 0
    expired = InferenceJob.objects.filter(
        status__in=JOB_ENDED, finished_at__lt=cutoff, files_deleted_at__isnull=True
    ).select_related("version")
    for job in expired.iterator():
        _delete_folder(job.folder)
        if InferenceJob.objects.filter(pk=job.pk, files_deleted_at__isnull=True).update(
            files_deleted_at=now
        ):
            purged += 1
    return purged


def _delete_folder(folder: str) -> None:
    try:
        directories, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    for directory in directories:
        _delete_folder(f"{folder}/{directory}")


# --- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """A job's progress as its page and the API show it."""

    percent: float
    rows_done: int  # rows predicted, counting running chunks' batches
    rows_total: int
    rate: float | None  # rows per second since it started
    eta_seconds: int | None

    def as_dict(self) -> dict:
        return {
            "percent": self.percent,
            "rows_done": self.rows_done,
            "rows_total": self.rows_total,
            "rows_per_second": self.rate,
            "eta_seconds": self.eta_seconds,
        }


def job_progress(job: InferenceJob, *, now=None, live_rows_done: int | None = None) -> Progress:
    """``live_rows_done``: a live job's rows done in its chunks, when the caller summed them
    already (``jobs_progress``); else they are summed here."""
    now = now or timezone.now()
    if job.status in JOB_ENDED:
        done = job.output_rows if job.status != JobStatus.FAILED else job.rows_done
    elif live_rows_done is not None:
        done = live_rows_done
    else:
        done = _live_rows_done([job.pk]).get(job.pk, 0)
    total = job.rows_total
    end = job.finished_at or now
    rate = None
    if job.started_at and done:
        elapsed = max((end - job.started_at).total_seconds(), 1e-3)
        rate = round(done / elapsed, 1)
    eta = None
    if rate and job.status in JOB_LIVE:
        eta = math.ceil((total - done) / rate)
    percent = 100.0 if job.status == JobStatus.SUCCEEDED else round(100.0 * done / total, 1)
    return Progress(percent=percent, rows_done=done, rows_total=total, rate=rate, eta_seconds=eta)


def jobs_progress(jobs, *, now=None) -> dict[int, Progress]:
    """The progress of several jobs (a page of a list) by pk: one query for the live ones'
    chunks, none for the ended ones."""
    now = now or timezone.now()
    done = _live_rows_done([job.pk for job in jobs if job.status not in JOB_ENDED])
    return {job.pk: job_progress(job, now=now, live_rows_done=done.get(job.pk, 0)) for job in jobs}


def _live_rows_done(job_ids: list[int]) -> dict[int, int]:
    """Rows predicted so far by job: its done chunks' and its running chunks' batches."""
    if not job_ids:
        return {}
    sums = (
        JobChunk.objects.filter(
            job_id__in=job_ids, status__in=[ChunkStatus.DONE, ChunkStatus.RUNNING]
        )
        .order_by()
        .values("job_id")
        .annotate(total=Sum("rows_done"))
        .values_list("job_id", "total")
    )
    return {job_id: total or 0 for job_id, total in sums}


def job_for(*, caller: Caller, public_id) -> InferenceJob:
    """The caller's own job, or ``job_not_found`` (404: another caller's job is not there)."""
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        key = None
    job = (
        InferenceJob.objects.select_related("version__model__organization")
        .filter(public_id=key, owner_key=caller.key)
        .first()
        if key
        else None
    )
    if job is None:
        raise DomainError(JobErrorCode.JOB_NOT_FOUND)
    return job


def job_output(*, job: InferenceJob):
    """The output file, opened, with its download name; 409 before it exists, 410 once purged."""
    if job.files_deleted_at is not None:
        raise DomainError(JobErrorCode.JOB_FILES_EXPIRED)
    if not job.output_file:
        raise DomainError(
            JobErrorCode.JOB_OUTPUT_NOT_READY,
            f"The job is {job.get_status_display().lower()}: it has no output"
            + (" yet." if job.is_live else "."),
        )
    extension = "parquet" if job.output_format == JobFormat.PARQUET else "csv"
    model = job.version.model
    filename = f"{model.slug}-{job.version.version}-{job.public_id.hex[:8]}.{extension}"
    try:
        return default_storage.open(job.output_file.name, "rb"), filename
    except FileNotFoundError:
        raise DomainError(JobErrorCode.JOB_FILES_EXPIRED) from None


__all__ = [
    "ChunkBusy",
    "ChunkRetry",
    "JobSource",
    "Quote",
    "chunk_run",
    "job_cancel",
    "job_for",
    "job_join",
    "job_output",
    "job_progress",
    "job_quote",
    "job_submit",
    "jobs_of",
    "jobs_progress",
    "jobs_purge",
    "jobs_sweep",
    "units_for",
]


def jobs_of(*, caller: Caller):
    """The caller's own jobs, newest first."""
    return InferenceJob.objects.filter(owner_key=caller.key).select_related(
        "version__model__organization"
    )
