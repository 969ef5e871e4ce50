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
