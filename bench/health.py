"""``/healthz``: what the chain check costs on top of the local checks.

Starts its own anvil node and a throwaway SQLite database, then times ``GET /healthz`` (every
check, chain included) against ``GET /healthz?checks=database,broker`` (the baseline) through
Django's test client, interleaved in one process.
"""

from __future__ import annotations

from typing import Any

from bench._common import case, measure, migrate, setup_django

FULL_URL = "/healthz"
BASELINE_CHECKS = "database,broker"
BASELINE_URL = f"/healthz?checks={BASELINE_CHECKS}"
OVERHEAD_TARGET = "<=5"
FULL_MS_TARGET = "<50"

QUICK = {"warmup": 10, "samples": 200, "budget_s": 20.0}
FULL = {"warmup": 50, "samples": 3000, "budget_s": 120.0}


def run(quick: bool) -> list[dict]:
    setup_django()
    migrate()

    from django.test import Client, override_settings

    from chain.testing.devnode import AnvilNode

    params = QUICK if quick else FULL
    node = AnvilNode()
    try:
        with override_settings(CHAIN_RPC_URL=node.url):
            client = Client(HTTP_HOST="localhost")  # in the default ALLOWED_HOSTS
            expected = {
                "full": {"database", "broker", "chain"},
                "baseline": set(BASELINE_CHECKS.split(",")),
            }

            def check(name: str, response: Any) -> None:
                body = response.json()
                if response.status_code != 200 or body.get("status") != "ok":
                    raise RuntimeError(f"GET /healthz ({name}): {response.status_code} {body}")
                if set(body["checks"]) != expected[name]:
                    raise RuntimeError(f"GET /healthz ({name}) ran {sorted(body['checks'])}")

            timings = measure(
                {
                    "full": lambda: client.get(FULL_URL),
                    "baseline": lambda: client.get(BASELINE_URL),
                },
                samples=params["samples"],
                warmup=params["warmup"],
                budget_s=params["budget_s"],
                check=check,
            )
    finally:
        node.stop()

    full, baseline = timings["full"], timings["baseline"]
    common = {
        "mode": "quick" if quick else "full",
        "warmup": params["warmup"],
        "samples": full.count,
        "full_url": FULL_URL,
        "baseline_url": BASELINE_URL,
        "full": full.summary(),
        "baseline": baseline.summary(),
        "chain": "anvil (chain.testing.devnode.AnvilNode)",
        "database": "sqlite (throwaway)",
        "broker": "filesystem (throwaway)",
    }
    return [
        case(
            "health.chain_overhead",
            ratio=full.median_ms / baseline.median_ms,
            target=OVERHEAD_TARGET,
            detail={"meaning": "median GET /healthz / median baseline (database,broker)", **common},
        ),
        case(
            "health.full_ms",
            value=full.median_ms,
            target=FULL_MS_TARGET,
            detail={"meaning": "median ms of GET /healthz with every check", **common},
        ),
    ]
