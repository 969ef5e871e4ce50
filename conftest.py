"""Shared fixtures: media and task queues of the test run, a Celery worker, chromium, staff users
and organizations; the chain's (a real anvil node, the deployed suite) come from
``chain.testing.fixtures``."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from chain.testing.required import require_service

# The chain fixtures (anvil, chain_node, deployed, chain, market), shared by every app's tests.
pytest_plugins = ["chain.testing.fixtures", "portal.tests.wallet"]

ROOT = Path(__file__).resolve().parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create many users; PBKDF2's deliberate slowness buys nothing here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _entitlement_cache_cleared():
    """Entitlement decisions are cached per process (``licensing.entitlement``): a test starts
    without the previous test's, whose rows (and ids, reused after a rollback) are gone."""
    from licensing import entitlement

    entitlement.invalidate()


@pytest.fixture(scope="session", autouse=True)
def media_root(tmp_path_factory):
    """Tests store files in a folder of their own, never in the portal's var/media."""
    from django.conf import settings
    from django.test import override_settings

    root = tmp_path_factory.mktemp("media")
    storages = {**settings.STORAGES}
    storages["default"] = {**storages["default"], "OPTIONS": {"location": str(root)}}
    with override_settings(STORAGES=storages, MEDIA_ROOT=root):
        yield root


@pytest.fixture(scope="session", autouse=True)
def task_queue():
    """Tasks sent by tests go to a queue of this test run, never to a running portal's queue."""
    from portal.celery import app

    queue = f"test-{os.getpid()}"
    app.conf.task_default_queue = queue
    yield queue
    _purge(queue)


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    host = db["HOST"] or "127.0.0.1"
    return f"postgresql://{db['USER'] or ''}{password}@{host}{port}/{db['NAME']}"


def _purge(queue: str) -> None:
    from portal.celery import app

    # nothing may have been sent, or the broker may be gone: either way there is nothing to do
    with app.connection_for_write() as connection, contextlib.suppress(Exception):
        connection.default_channel.queue_purge(queue)


@pytest.fixture(scope="module")
def celery_worker(task_queue, media_root, django_db_setup, django_db_blocker):
    """A real Celery worker process on the configured broker and the test database.

    It consumes this test run's queue; tests that use it need ``transactional_db`` so the
    rows they write are visible to the worker. It lives for one module: a worker left running
    would pick up the tasks later tests queue on commit (a publish from a browser test, say)
    and race them for the outbox lease. What earlier tests queued is purged before it starts.
    """
    import subprocess
    import sys

    from django.conf import settings

    _purge(task_queue)

    environ = {**os.environ, "DATABASE_URL": _test_database_url(), "DEBUG": "true"}
    # what the worker itself queues (a job's join after its last chunk) goes to this run's queue
    environ["CELERY_TASK_DEFAULT_QUEUE"] = task_queue
    environ["MEDIA_ROOT"] = str(media_root)
    command = [sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo"]
    command += ["--queues", task_queue, "--without-gossip", "--without-mingle"]
    command += ["--without-heartbeat", "--loglevel=WARNING"]
    # a file, not a pipe: a full pipe would stall the worker
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the fixture ends
    process = subprocess.Popen(
        command, cwd=settings.BASE_DIR, env=environ, stdout=log, stderr=subprocess.STDOUT
    )
    yield task_queue
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.seek(0)
    output = log.read().decode(errors="replace")
    if "Traceback" in output:
        print(output[-20000:])
    log.close()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    require_service(Path(CHROMIUM).exists(), "Debian's chromium is not installed")
    return CHROMIUM


def pytest_collection_modifyitems(config, items):
    """Browser tests run last, together: they share one chromium, whose event loop makes the
    session relax Django's async guard (an environment variable that subprocesses started by
    other tests, such as ``check --deploy``, must not inherit)."""
    items.sort(key=lambda item: item.get_closest_marker("requires_browser") is not None)


@pytest.fixture(scope="session")
def browser(chromium_path):
    """One headless chromium for the whole test session (the browser tests run last). Playwright's
    sync API runs an event loop in this thread from then on, so Django's "no ORM inside async"
    guard has to be relaxed for the rest of the session."""
    from playwright.sync_api import sync_playwright

    from portal.tests.browser import CHROMIUM_ARGS

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()


@pytest.fixture
def page(browser, transactional_db, live_server):
    """A fresh browser context (no cookies) on the live server, 1280x900. The test fails at its
    end when any page of it broke the Content-Security-Policy (``browser.CspWatch``)."""
    from portal.tests.browser import CspWatch

    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    csp = CspWatch(context)
    page = context.new_page()
    yield page
    context.close()
    csp.assert_clean()


@pytest.fixture(scope="module")
def module_rows(django_db_setup, django_db_blocker):
    """Rows built once for a whole module, as Django's ``TestCase.setUpTestData`` builds them once
    per class. A module-scoped fixture requests this and builds inside
    ``with module_rows.unblock():``; the rows live in a transaction open for the module, each test
    (``db``) runs in a savepoint of it and rolls back to it, and the module's rows are rolled back
    at its end. Only for tests on one connection: a live server or a worker would not see them."""
    from django.db import transaction

    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        yield django_db_blocker
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


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
