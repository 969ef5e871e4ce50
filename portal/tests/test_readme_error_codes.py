"""The README's table of error codes and the registry of codes are the same list."""

from __future__ import annotations

import re

from django.conf import settings

from portal.errors import GENERIC_CODES, registry

ROW = re.compile(r"^\| `(?P<code>[a-z0-9_]+)`(?P<generic> \*)? \| (?P<status>\d{3}) \| .+ \|$")


def _readme_codes() -> dict[str, tuple[int, bool]]:
    text = (settings.BASE_DIR / "README.md").read_text()
    table = text.split("<!-- error-codes -->", 1)[1].split("<!-- /error-codes -->", 1)[0]
    rows = [line for line in table.strip().splitlines() if line.startswith("| `")]
    codes = {}
    for line in rows:
        match = ROW.match(line)
        assert match, f"README row not in the `| `code` [*] | status | when |` form: {line}"
        codes[match["code"]] = (int(match["status"]), bool(match["generic"]))
    assert len(codes) == len(rows), "a code is listed twice in the README"
    return codes


def test_the_readme_lists_every_registered_code_with_its_status():
    listed = {code: status for code, (status, _) in _readme_codes().items()}
    registered = {code: error.status for code, error in registry().items()}

    assert listed == registered


def test_the_readme_marks_exactly_the_generic_codes():
    marked = {code for code, (_, generic) in _readme_codes().items() if generic}

    assert marked == {error.code for error in GENERIC_CODES.values()}
