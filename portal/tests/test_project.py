"""Project-wide guarantees: migrations match models, dependencies are consistent."""

import subprocess
import sys
from io import StringIO

from django.core.management import call_command


def test_no_missing_migrations(db):
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)  # exits 1 on changes


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")


def test_pip_check_is_clean():
    result = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_old_siwe_package_is_not_installed_beside_its_successor():
    from importlib.metadata import PackageNotFoundError, version

    assert version("signinwithethereum") == "5.0.2"
    try:
        version("siwe")
    except PackageNotFoundError:
        return
    raise AssertionError("the old `siwe` distribution shadows signinwithethereum's `siwe`")


def test_the_first_install_shows_progress(tmp_path):
    """A first `make run` installs for minutes: pip and npm show their progress, not silence."""
    from django.conf import settings

    result = subprocess.run(
        ["make", "-n", "-B", f"VENV={tmp_path / 'venv'}", "setup"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    installs = [line for line in result.stdout.splitlines() if " install " in line]

    assert any("-r requirements-dev.txt" in line for line in installs)
    assert installs
    assert not [line for line in installs if "--quiet" in line or " -q " in line]
    assert "==> Installing Python packages" in result.stdout
    assert "npm ci" in result.stdout
