"""The production web process: collectstatic, check --deploy, gunicorn with WhiteNoise."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

ROOT = settings.BASE_DIR


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(port: int, path: str, **headers) -> tuple[int, dict, bytes]:
    """A GET as the TLS proxy forwards it (``X-Forwarded-Proto: https``)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers={"X-Forwarded-Proto": "https", **headers})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


@pytest.fixture
def production_env(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("y" * 64 + "-production-secret-from-a-file")
    environ = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "STATIC_ROOT"}}
    environ.update(
        DEBUG="false",
        SECRET_KEY_FILE=str(secret),
        ALLOWED_HOSTS="127.0.0.1",
        VAR_DIR=str(tmp_path / "var"),
        SECURE_PROXY_SSL_HEADER="true",  # behind a TLS proxy, as docs/OPERATIONS.md says
    )
    return environ


def _manage(environ, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_gunicorn_serves_collected_static_files_through_whitenoise(production_env, tmp_path):
    # given: the production steps of docs/OPERATIONS.md
    collected = _manage(production_env, "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr
    deploy = _manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert deploy.returncode == 0, deploy.stderr + deploy.stdout
    manifest = json.loads((tmp_path / "var" / "static" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/portal.css"]
    assert hashed != "css/portal.css"

    # when: the web process of the Procfile's production form serves them
    port = _free_port()
    command = [sys.executable, "-m", "gunicorn", "portal.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1"]
    server = subprocess.Popen(
        command, cwd=ROOT, env=production_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = _get(port, "/healthz?checks=database")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode(errors="replace")
                assert time.monotonic() < deadline, "gunicorn did not answer"
                time.sleep(0.3)
        status, headers, body = _get(port, f"/static/{hashed}", **{"Accept-Encoding": "gzip"})
        admin_css = _get(port, "/static/admin/css/base.css")
    finally:
        server.terminate()
        server.wait(timeout=20)

    # then: Django answers behind gunicorn, and WhiteNoise serves hashed, compressed files
    assert health[0] == 200
    assert status == 200
    assert "immutable" in headers["Cache-Control"]
    assert headers.get("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == (ROOT / "static" / "css" / "portal.css").read_bytes()
    assert admin_css[0] == 200  # Django's own apps' files are collected too
