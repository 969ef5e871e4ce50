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


# --- Content-Security-Policy: every browser test fails on a violation (the `page` fixture) ---

CSP_MARKER = "Content Security Policy"


class CspWatch:
    """Collects the console messages chromium writes for Content-Security-Policy violations
    ("Refused to execute inline script because it violates the following Content Security
    Policy directive: ...") on every page of a browser context."""

    def __init__(self, context):
        self.violations: list[str] = []
        context.on("console", self._seen)
        context.on("weberror", lambda error: self._text(str(error.error)))

    def _seen(self, message) -> None:
        self._text(f"{message.text} (at {message.location.get('url', '?')})")

    def _text(self, text: str) -> None:
        if CSP_MARKER in text:
            self.violations.append(text)

    def assert_clean(self) -> None:
        assert not self.violations, "Content-Security-Policy violations:\n" + "\n".join(
            self.violations
        )


# --- axe-core: no serious or critical accessibility violation on a customer page ---

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
AXE_BLOCKING = ("serious", "critical")


def axe_violations(page, *, impacts=AXE_BLOCKING) -> list[dict]:
    """Run axe-core (the vendored copy) on the page as it is; its violations of ``impacts``.

    The script goes in through ``page.evaluate`` (DevTools' Runtime.evaluate, which the page's
    Content-Security-Policy does not govern): ``page.add_script_tag`` adds an inline <script>
    element, which the policy (script-src 'self') refuses and reports as a violation.
    """
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                targets: v.nodes.map((node) => node.target.join(" ")),
            }));
        }"""
    )
    return [violation for violation in result if violation["impact"] in impacts]


def assert_accessible(page) -> None:
    """Fail, listing each, on any axe-core violation of impact serious or critical."""
    violations = axe_violations(page)
    lines = [
        f"- {v['id']} ({v['impact']}): {v['help']} [{', '.join(v['targets'])}]" for v in violations
    ]
    assert not violations, f"axe-core on {page.url}:\n" + "\n".join(lines)
