"""Helpers of the browser tests (Playwright on Debian's chromium; fixtures in conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

PASSWORD = "correct-horse-battery-9"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where the tests leave their screenshots (SCREENSHOT_DIR to look at them elsewhere).
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "var" / "screenshots"
)


def sign_in(page, user, next_path: str) -> None:
    """Open an admin page signed out: the admin login sends us to allauth; sign in there."""
    page.goto(f"/admin/login/?next={next_path}")
    assert urlsplit(page.url).path == "/accounts/login/", page.url
    form = page.locator("form").filter(has=page.locator("input[name=password]"))
    form.locator("input[name=login]").fill(user.email)
    form.locator("input[name=password]").fill(PASSWORD)
    with page.expect_navigation():
        form.locator("button[type=submit], input[type=submit]").first.click()
    assert urlsplit(page.url).path == next_path, f"sign-in did not land on {next_path}: {page.url}"


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
