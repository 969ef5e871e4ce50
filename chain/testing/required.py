"""Tests that need a service (anvil, chromium, PostgreSQL, Redis) skip locally, fail in CI."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true"}


def require_service(available: bool, reason: str) -> None:
    """Skip a test whose service is missing, or fail it when REQUIRE_SERVICES=1 (CI)."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (REQUIRE_SERVICES=1): {reason}", pytrace=False)
    pytest.skip(reason)
