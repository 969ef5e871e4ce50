from celery import shared_task
from django.conf import settings

from models_hub import services


@shared_task(
    name="models_hub.version_validate",
    soft_time_limit=settings.MODEL_VALIDATION_TIME_LIMIT,
    time_limit=settings.MODEL_VALIDATION_TIME_LIMIT + 30,
)
def version_validate_task(version_id: int) -> str | None:
    """Scan, load and inspect one uploaded version in a worker."""
    version = services.version_validate(version_id=version_id)
    return version.status if version else None


# --- batch inference jobs (models_hub.jobs.services) ---------------------------------------
# Late acknowledgement and reject-on-worker-lost are the project's defaults (settings): a chunk
# whose worker dies goes back to the queue, and the chunk's claim decides who runs it.
@shared_task(
    name="models_hub.chunk_run",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def chunk_run_task(self, chunk_id: int) -> str:
    """Predict one chunk of a job (a no-op when it is done, or another attempt holds it)."""
    from models_hub.jobs import services as jobs

    try:
        return jobs.chunk_run(chunk_id=chunk_id, worker=self.request.hostname or "")
    except jobs.ChunkBusy:
        # another worker's attempt holds it, with a fresh heartbeat: look again once it could be
        # stale (the claim takes it over then, if that worker died)
        raise self.retry(countdown=settings.JOB_CHUNK_STALE_SECONDS) from None
    except jobs.ChunkRetry:
        # it failed for a reason of ours and is pending again: another attempt, a little later
        raise self.retry(countdown=5) from None


@shared_task(name="models_hub.job_join", acks_late=True, reject_on_worker_lost=True)
def job_join_task(job_id: int, attempt: str) -> str:
    """Join a job's parts into its output and settle its charge (its claimed attempt only)."""
    from models_hub.jobs import services as jobs

    return jobs.job_join(job_id=job_id, attempt=attempt)


@shared_task(name="models_hub.jobs_sweep")
def jobs_sweep_task() -> str:
    """Beat: chunks whose worker vanished run again; lost joins are claimed again."""
    from models_hub.jobs import services as jobs

    return str(jobs.jobs_sweep())


@shared_task(name="models_hub.jobs_purge")
def jobs_purge_task() -> int:
    """Beat: delete the files of jobs past the retention period."""
    from models_hub.jobs import services as jobs

    return jobs.jobs_purge()


@shared_task(name="models_hub.payments_finish")
def payments_finish_task() -> int:
    """Beat: x402 payments whose settlement was mined (or failed) are settled and receipted."""
    from models_hub.x402 import services as x402

    return x402.payments_finish()
