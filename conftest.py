"""Shared fixtures: services (skip locally, fail in CI), a real anvil node, staff users."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES", "").strip() in {"1", "true"}


def require_service(available: bool, reason: str) -> None:
    """Skip a test whose service is missing, or fail it when REQUIRE_SERVICES=1 (CI)."""
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing (REQUIRE_SERVICES=1): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; PBKDF2's deliberate slowness buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def anvil():
    from chain.devnode import ANVIL, AnvilNode

    require_service(ANVIL.exists(), "anvil is not installed (npm ci installs @foundry-rs/anvil)")
    node = AnvilNode()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    require_service(Path(CHROMIUM).exists(), "Debian's chromium is not installed")
    return CHROMIUM


@pytest.fixture
def make_staff(db):
    """Create a staff user with a role in an organization (or a superuser with no org)."""
    from django.contrib.auth import get_user_model

    from portal.services import membership_set

    counter = iter(range(1, 10_000))

    def make(organization=None, role=None, *, superuser: bool = False, password: str = "pw"):
        number = next(counter)
        slug = organization.slug if organization else "platform"
        email = f"{role or 'super'}{number}@{slug}.example.com"
        user = get_user_model().objects.create_user(
            username=email, email=email, password=password, is_staff=True, is_superuser=superuser
        )
        if organization is not None:
            membership_set(organization=organization, user=user, role=role)
        return user

    return make


@pytest.fixture
def org_a(db):
    from portal.services import organization_create

    return organization_create(name="Alpha Models", slug="alpha")


@pytest.fixture
def org_b(db):
    """The other tenant. Its name is a marker that must never appear on org A's pages."""
    from portal.services import organization_create

    return organization_create(name="Beta-LEAK Analytics", slug="beta-leak")
