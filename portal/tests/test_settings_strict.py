"""Settings read the environment strictly: a bad value names its variable and stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from portal import env

ROOT = settings.BASE_DIR


@pytest.mark.parametrize(
    ("helper", "name", "value", "kwargs"),
    [
        (env.env_bool, "DEBUG", "yes", {"default": False}),
        (env.env_bool, "DEBUG", "1", {"default": False}),
        (env.env_int, "DATABASE_CONN_MAX_AGE", "sixty", {"default": 60}),
        (env.env_int, "DATABASE_CONN_MAX_AGE", "-1", {"default": 60, "minimum": 0}),
        (env.env_url, "DATABASE_URL", "mysql://x", {"default": None, "schemes": ("sqlite",)}),
        (
            env.env_url,
            "CHAIN_RPC_URL",
            "http://host:notaport",
            {"default": None, "schemes": ("http",)},
        ),
        (env.env_list, "ALLOWED_HOSTS", "a,,b", {"default": []}),
        (env.env_choice, "LOG_LEVEL", "LOUD", {"default": "INFO", "choices": ("INFO",)}),
    ],
)
def test_bad_values_name_the_variable(helper, name, value, kwargs):
    with pytest.raises(ImproperlyConfigured, match=name):
        helper(name, environ={name: value}, **kwargs)


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("FALSE", False), ("", True)])
def test_bool_accepts_only_true_and_false(value, expected):
    assert env.env_bool("DEBUG", True, environ={"DEBUG": value}) is expected


def test_secret_file_is_read_and_both_forms_conflict(tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret-value\n")

    assert env.env_secret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(secret)}) == "s3cret-value"
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY or SECRET_KEY_FILE"):
        env.env_secret("SECRET_KEY", environ={"SECRET_KEY": "a", "SECRET_KEY_FILE": str(secret)})
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE"):
        env.env_secret("SECRET_KEY", environ={"SECRET_KEY_FILE": str(tmp_path / "missing")})


def _manage(*args, **env_vars):
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL"}}
    environ.update(env_vars)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "yes"),
        ("DATABASE_URL", "mysql://root@localhost/portal"),
        ("CELERY_BROKER_URL", "kafka://localhost"),
        ("CHAIN_RPC_URL", "localhost:8545"),
        ("HEALTHZ_REQUIRED", "database,coffee"),
    ],
)
def test_start_up_stops_and_names_the_variable(variable, value):
    result = _manage("check", **{variable: value})

    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("x" * 64 + "-production-secret-from-a-file")
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY_FILE=str(secret),
        ALLOWED_HOSTS="portal.example.com",
        VAR_DIR=str(tmp_path / "var"),
    )

    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_warns_without_a_shared_secret_key(tmp_path):
    result = _manage(
        "check", "--deploy", DEBUG="false", SECRET_KEY="", VAR_DIR=str(tmp_path / "var")
    )
    assert "portal.W001" in result.stdout + result.stderr


def test_media_is_not_served_publicly(client, db):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    name = default_storage.save("private/probe.txt", ContentFile(b"secret artifact"))
    try:
        with pytest.raises(NotImplementedError):
            default_storage.url(name)
        assert client.get(f"{settings.MEDIA_URL}{name}").status_code == 404
    finally:
        default_storage.delete(name)
