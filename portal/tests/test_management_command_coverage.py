"""Every management command of our apps is run by a test (as NetBox's core tests check).

A command counts as tested when a test module calls it by name, ``call_command("name", ...)``,
or runs ``manage.py name``. A new command without such a test fails here, naming it.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.core.management import get_commands

OUR_APPS = ("portal", "chain", "models_hub", "licensing")
# Commands of ours there must be, so the enumeration below cannot come back empty unnoticed.
KNOWN = {"chain_sync", "deploy_contracts", "outbox_send", "reconcile", "demo"}


def our_commands() -> dict[str, str]:
    """Command name -> app, for every command in our apps' ``management/commands``."""
    return {name: app for name, app in get_commands().items() if app in OUR_APPS}


def read_test_modules() -> str:
    """The text of every test module of our apps."""
    root = Path(settings.BASE_DIR)
    files = sorted(path for app in OUR_APPS for path in (root / app / "tests").rglob("*.py"))
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def runs(command: str, source: str) -> bool:
    name = re.escape(command)
    called = re.search(rf"call_command\(\s*[\"']{name}[\"']", source)
    return bool(called or re.search(rf"manage\.py\s+{name}\b", source))


def test_our_commands_are_found():
    assert set(our_commands()) >= KNOWN


def test_every_management_command_has_a_test():
    source = read_test_modules()

    untested = sorted(
        f"{app}: {name}" for name, app in our_commands().items() if not runs(name, source)
    )

    assert not untested, f"management commands no test runs: {', '.join(untested)}"
