"""License terms as a document: the canonical JSON whose keccak-256 goes on chain, the reading
in plain words, the difference between two versions, and the legal text rendered sanitized.

Pure functions over a ``LicenseTerms`` row or a mapping with the same keys; nothing here
writes (``licensing.services.terms`` does, and stores the normalized values, so what is shown
is what was hashed).

The canonical JSON of one version (schema ``mlp.license-terms/1``) is one object with the keys
``schema``, ``name``, ``version``, every right field and ``legal_text`` (not the organization,
ids, lineage or timestamps), written with the keys sorted, the separators ``,`` and ``:`` and
no other whitespace, in UTF-8 with non-ASCII characters as they are (not ``\\u`` escapes), and:

- no floats: basis points, seats, quota and version are integers; booleans are ``true`` and
  ``false``; ``expires_on`` is an ISO date (``"2027-06-30"``) or ``null``;
- ``territory`` is a list of upper-case ISO 3166-1 alpha-2 codes, sorted, each once (``[]`` is
  worldwide);
- ``name`` is NFC with surrounding whitespace removed;
- ``legal_text`` is normalized (``normalize_legal_text``): line ends CRLF and CR become LF,
  Unicode NFC, trailing whitespace stripped from every line, blank lines at the start and end
  dropped, and **no final newline** (the text ends with its last visible character; an empty
  text is ``""``). Markdown's two-space hard line break does not survive: use a blank line.
"""

from __future__ import annotations

import difflib
import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.utils.safestring import SafeString
from eth_utils import keccak

from licensing.choices import QuotaPeriod
from models_hub.cards import render_model_card

SCHEMA = "mlp.license-terms/1"

BOOL_FIELDS = (
    "commercial_use",
    "commercial_attribution",
    "derivatives_allowed",
    "derivatives_attribution",
    "derivatives_reciprocal",
    "transferable",
)
INT_FIELDS = ("commercial_revenue_share_bps", "seats", "usage_quota")
RIGHT_FIELDS = (
    "commercial_use",
    "commercial_attribution",
    "commercial_revenue_share_bps",
    "derivatives_allowed",
    "derivatives_attribution",
    "derivatives_reciprocal",
    "territory",
    "expires_on",
    "seats",
    "usage_quota",
    "usage_quota_period",
    "transferable",
)
# What staff edit (the version is the service's), in the order a diff lists them.
EDITABLE_FIELDS = ("name", *RIGHT_FIELDS, "legal_text")

LABELS = {
    "name": "Name",
    "commercial_use": "Commercial use",
    "commercial_attribution": "Credit the publisher in commercial use",
    "commercial_revenue_share_bps": "Revenue share from commercial use",
    "derivatives_allowed": "Derivatives",
    "derivatives_attribution": "Credit the publisher in derivatives",
    "derivatives_reciprocal": "Derivatives under these same terms",
    "territory": "Territory",
    "expires_on": "Terms end",
    "seats": "Wallets per license",
    "usage_quota": "Usage quota",
    "usage_quota_period": "Quota period",
    "transferable": "Transfers",
    "legal_text": "Legal text",
}


# --- normalization ---


def normalize_legal_text(text: str) -> str:
    """The legal text as it is hashed and stored (see the module doc)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in unicodedata.normalize("NFC", text).split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    start = 0
    while start < len(lines) and not lines[start]:
        start += 1
    return "\n".join(lines[start:])


def normalize_name(name: str) -> str:
    return unicodedata.normalize("NFC", name).strip()


def normalize_territory(codes) -> list[str]:
    """Upper-case codes, sorted, each once (whether they exist is the service's check)."""
    if not isinstance(codes, list | tuple):
        raise TypeError(f"territory must be a list of country codes, not {type(codes).__name__}")
    if not all(isinstance(code, str) for code in codes):
        raise TypeError("territory must be a list of strings")
    return sorted({code.strip().upper() for code in codes})


def _date(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = date.fromisoformat(value)
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"expires_on must be a date, not {type(value).__name__}")
    return value.isoformat()


def _read(terms, field: str):
    return terms[field] if isinstance(terms, Mapping) else getattr(terms, field)


def terms_values(terms) -> dict[str, Any]:
    """The normalized values of one version, as JSON types (what ``canonical_json`` writes)."""
    values: dict[str, Any] = {}
    for field in BOOL_FIELDS:
        value = _read(terms, field)
        if not isinstance(value, bool):
            raise TypeError(f"{field} must be a bool, not {type(value).__name__}")
        values[field] = value
    for field in (*INT_FIELDS, "version"):
        value = _read(terms, field)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{field} must be an int, not {type(value).__name__}")
        values[field] = value
    values["name"] = normalize_name(str(_read(terms, "name")))
    values["territory"] = normalize_territory(_read(terms, "territory"))
    values["expires_on"] = _date(_read(terms, "expires_on"))
    values["usage_quota_period"] = str(_read(terms, "usage_quota_period"))
    values["legal_text"] = normalize_legal_text(str(_read(terms, "legal_text")))
    return values


# --- the hash ---


def canonical_json(terms) -> bytes:
    """The canonical JSON document of one terms version, as UTF-8 bytes."""
    document = {"schema": SCHEMA, **terms_values(terms)}
    text = json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def terms_hash(terms) -> str:
    """``0x`` + the keccak-256 of ``canonical_json(terms)``, lower-case hex (as the sync stores
    a bytes32)."""
    return "0x" + keccak(canonical_json(terms)).hex()


# --- plain words ---


def percent(bps: int) -> str:
    """Basis points as a percentage with two decimals, without floats: 500 -> "5.00%"."""
    return f"{bps // 100}.{bps % 100:02d}%"


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number:,} {singular if number == 1 else plural}"


def _period(value: str) -> str:
    try:
        return QuotaPeriod(value).label
    except ValueError:
        return f"per {value}"


def _joined(base: str, clauses: list[str], final: str | None) -> str:
    """``base``, its participle clauses after commas, and a final verb phrase after "and"."""
    parts = [base, *clauses]
    if final is None:
        return ", ".join(parts) + "."
    if clauses:
        return ", ".join(parts) + f", and {final}."
    return f"{base} and {final}."


def _commercial_sentence(v: dict) -> str:
    if not v["commercial_use"]:
        return "You may not use the model commercially."
    clauses = ["crediting the publisher"] if v["commercial_attribution"] else []
    share = v["commercial_revenue_share_bps"]
    final = f"owe {percent(share)} of that revenue back" if share else None
    return _joined("You may use the model commercially", clauses, final)


def _derivatives_sentence(v: dict) -> str:
    if not v["derivatives_allowed"]:
        return "You may not make derivatives."
    clauses = ["crediting the publisher"] if v["derivatives_attribution"] else []
    final = "must license them under these same terms" if v["derivatives_reciprocal"] else None
    return _joined("You may make derivatives", clauses, final)


def plain_language(terms) -> list[str]:
    """What the terms let a licensee do, one sentence per topic, for someone who is not a
    lawyer: commercial use, derivatives, territory, seats, quota, transfers, end date."""
    v = terms_values(terms)
    territory = v["territory"]
    quota = v["usage_quota"]
    return [
        _commercial_sentence(v),
        _derivatives_sentence(v),
        f"Only in: {', '.join(territory)}." if territory else "Worldwide.",
        f"Each license covers {_count(v['seats'], 'wallet', 'wallets')}.",
        (
            f"Up to {_count(quota, 'unit', 'units')} of use {_period(v['usage_quota_period'])}."
            if quota
            else "Unlimited use."
        ),
        (
            "The license can be transferred to another wallet."
            if v["transferable"]
            else "The license cannot be transferred."
        ),
        f"These terms end on {v['expires_on']}." if v["expires_on"] else "These terms do not end.",
    ]


# --- the difference between two versions ---


@dataclass(frozen=True)
class Change:
    """One field that differs between two versions, before and after in plain words; the
    legal text also carries its unified diff (``diff``, lines without line ends)."""

    field: str
    label: str
    before: str
    after: str
    diff: tuple[str, ...] = ()


def _lines(text: str) -> str:
    if not text:
        return "Empty"
    return _count(len(text.split("\n")), "line", "lines")


def describe(field: str, value) -> str:
    """One normalized value (``terms_values``) in plain words."""
    if field in ("commercial_use", "derivatives_allowed"):
        return "Allowed" if value else "Not allowed"
    if field in ("commercial_attribution", "derivatives_attribution", "derivatives_reciprocal"):
        return "Required" if value else "Not required"
    if field == "transferable":
        return "Transferable" if value else "Not transferable"
    if field == "commercial_revenue_share_bps":
        return f"{percent(value)} of that revenue" if value else "None"
    if field == "territory":
        return f"Only in {', '.join(value)}" if value else "Worldwide"
    if field == "expires_on":
        return value or "Never"
    if field == "seats":
        return _count(value, "wallet", "wallets")
    if field == "usage_quota":
        return _count(value, "unit", "units") if value else "Unlimited"
    if field == "usage_quota_period":
        return _period(value)
    if field == "legal_text":
        return _lines(value)
    return str(value)


def terms_diff(old, new) -> list[Change]:
    """Every editable field that differs from ``old`` to ``new`` (the version number is not
    listed: it always differs), in the order of ``EDITABLE_FIELDS``."""
    before, after = terms_values(old), terms_values(new)
    changes = []
    for field in EDITABLE_FIELDS:
        if before[field] == after[field]:
            continue
        diff: tuple[str, ...] = ()
        if field == "legal_text":
            diff = tuple(
                difflib.unified_diff(
                    before[field].split("\n") if before[field] else [],
                    after[field].split("\n") if after[field] else [],
                    fromfile=f"{before['name']} v{before['version']}",
                    tofile=f"{after['name']} v{after['version']}",
                    lineterm="",
                )
            )
        changes.append(
            Change(
                field=field,
                label=LABELS[field],
                before=describe(field, before[field]),
                after=describe(field, after[field]),
                diff=diff,
            )
        )
    return changes


# --- the legal text on a page ---


def legal_text_html(text: str) -> SafeString:
    """The legal text's Markdown as sanitized HTML (the model cards' renderer: nh3)."""
    return render_model_card(text)
