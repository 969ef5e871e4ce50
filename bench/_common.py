"""Helpers shared by the bench modules: Django set-up, timing, targets and the JSON line."""

from __future__ import annotations

import atexit
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

_TARGET = re.compile(r"^(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?)$")
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
}

_var_dir: tempfile.TemporaryDirectory | None = None
_migrated = False


# --- Django -----------------------------------------------------------------------------
def setup_django(*, broker_url: str = "filesystem://") -> Path:
    """Set up Django on a throwaway VAR_DIR (SQLite database, filesystem broker); idempotent.

    The real ``var/`` and whatever database or broker the environment names are never touched:
    a bench starts what it needs (``BENCH_DATABASE_URL`` names a throwaway database to use
    instead of SQLite, e.g. an empty PostgreSQL database). Returns the temporary VAR_DIR.
    """
    global _var_dir
    if _var_dir is not None:
        return Path(_var_dir.name)

    from django.conf import settings

    if settings.configured:
        raise RuntimeError("Django is already configured: benches need their own throwaway VAR_DIR")
    _var_dir = tempfile.TemporaryDirectory(prefix="portal-bench-", ignore_cleanup_errors=True)
    atexit.register(_cleanup)
    var_dir = Path(_var_dir.name)
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ["VAR_DIR"] = str(var_dir)
    # BENCH_DATABASE_URL: a database of its own that the bench may fill (PostgreSQL, say)
    sqlite = f"sqlite:///{var_dir / 'bench.sqlite3'}"
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or sqlite
    os.environ["CELERY_BROKER_URL"] = broker_url  # Redis for a bench that starts workers

    import django

    django.setup()
    return var_dir


def migrate() -> None:
    """Create the schema in the throwaway database (once per process, quietly)."""
    global _migrated
    setup_django()
    if _migrated:
        return
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    _migrated = True


def _cleanup() -> None:
    if _var_dir is None:
        return
    try:
        from django.db import connections

        connections.close_all()
    finally:
        _var_dir.cleanup()


# --- Timing -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Timing:
    samples_ms: list[float]

    @property
    def count(self) -> int:
        return len(self.samples_ms)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)

    def percentile_ms(self, pct: float) -> float:
        ordered = sorted(self.samples_ms)
        index = min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))
        return ordered[index]

    def summary(self, digits: int = 3) -> dict[str, float | int]:
        return {
            "samples": self.count,
            "median_ms": round(self.median_ms, digits),
            "p10_ms": round(self.percentile_ms(10), digits),
            "p90_ms": round(self.percentile_ms(90), digits),
        }


def measure(
    fns: dict[str, Callable[[], Any]],
    *,
    samples: int,
    warmup: int,
    budget_s: float | None = None,
    min_samples: int = 10,
    check: Callable[[str, Any], None] | None = None,
) -> dict[str, Timing]:
    """Time each callable with ``time.perf_counter``, interleaved so drift hits all alike.

    ``warmup`` untimed rounds first, then up to ``samples`` timed rounds; each round calls every
    callable once. Past ``budget_s`` seconds (once ``min_samples`` rounds are in) it stops early,
    so a slow machine gives fewer samples rather than a hung bench. ``check(name, result)``
    runs outside the timed region and should raise when a result is wrong.
    """
    for _ in range(warmup):
        for name, fn in fns.items():
            result = fn()
            if check is not None:
                check(name, result)
    timings: dict[str, list[float]] = {name: [] for name in fns}
    started = time.perf_counter()
    for done in range(samples):
        over_budget = budget_s is not None and time.perf_counter() - started > budget_s
        if over_budget and done >= min_samples:
            break
        for name, fn in fns.items():
            t0 = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - t0
            timings[name].append(elapsed * 1000)
            if check is not None:
                check(name, result)
    return {name: Timing(values) for name, values in timings.items()}


# --- Results ----------------------------------------------------------------------------
def parse_target(target: str) -> tuple[str, float]:
    match = _TARGET.match(target.strip())
    if not match:
        raise ValueError(f"bad target {target!r}: want one of >=, <=, >, <, == and a number")
    return match.group(1), float(match.group(2))


def case(
    bench: str,
    *,
    target: str,
    ratio: float | None = None,
    value: float | None = None,
    detail: dict | None = None,
    digits: int = 3,
) -> dict:
    """One result: exactly one of ``ratio`` or ``value``, a target, and a ``detail`` dict."""
    if (ratio is None) == (value is None):
        raise ValueError(f"{bench}: give exactly one of ratio or value")
    parse_target(target)
    result: dict[str, Any] = {"bench": bench}
    if ratio is not None:
        result["ratio"] = round(float(ratio), digits)
    else:
        result["value"] = round(float(value), digits)
    result["target"] = target
    result["detail"] = detail or {}
    return result


def check_target(result: dict) -> dict:
    """Add ``"met": true/false`` comparing the ratio (or value) with the target."""
    op, bound = parse_target(result["target"])
    figure = result["ratio"] if "ratio" in result else result["value"]
    result["met"] = bool(_COMPARE[op](float(figure), bound))
    return result


def emit(result: dict, stream: TextIO | None = None) -> None:
    """Print one result as one JSON line (flushed, so a later crash keeps earlier lines)."""
    stream = stream or sys.stdout
    stream.write(json.dumps(result, sort_keys=False, default=str) + "\n")
    stream.flush()


# --- Contracts ---------------------------------------------------------------------------
FEE_BPS = 250  # the platform fee the benches' suites take


def deploy_bench_suite(w3, *, admin: str, platform: str, publisher: str):
    """The contract suite the chain benches run on: ``admin`` deploys, wires and splits."""
    from chain.plan import SuiteConfig
    from chain.testing import contracts

    config = SuiteConfig(
        admin=admin,
        platform=platform,
        platform_fee_bps=FEE_BPS,
        max_platform_fee_bps=1000,
        registrar=publisher,
        publisher=publisher,
        split_manager=admin,
    )
    return contracts.deploy_suite(w3, config)
