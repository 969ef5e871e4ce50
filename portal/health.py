"""Health checks: each returns None when fine or raises with what went wrong."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from kombu import Connection


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_broker() -> None:
    if settings.CELERY_BROKER_IS_FILESYSTEM:
        for folder in ("data_folder_in", "data_folder_out"):
            path = settings.CELERY_BROKER_TRANSPORT_OPTIONS[folder]
            if not os.access(path, os.W_OK):
                raise OSError(f"broker folder {path} is not writable")
        return
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=3) as conn:
        conn.ensure_connection(max_retries=1, timeout=3)


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    required: bool
    latency_ms: float
    error: str | None = None

    def as_dict(self) -> dict:
        data = {"ok": self.ok, "required": self.required, "latency_ms": round(self.latency_ms, 1)}
        if self.error:
            data["error"] = self.error
        return data


def run_checks(checks: dict[str, Callable[[], None]]) -> list[CheckResult]:
    results = []
    for name, check in checks.items():
        started = time.perf_counter()
        error = None
        try:
            check()
        except Exception as exc:  # a health check reports every failure, it never raises
            error = f"{type(exc).__name__}: {exc}"[:300]
        results.append(
            CheckResult(
                name=name,
                ok=error is None,
                required=name in settings.HEALTHZ_REQUIRED,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=error,
            )
        )
    return results
