"""Strict environment parsing for settings.

Every helper raises ``ImproperlyConfigured`` naming the variable when a value is malformed,
so a typo such as ``DEBUG=yes`` stops start-up instead of silently meaning ``False``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = "true"
_FALSE = "false"


def _raw(name: str, environ=None) -> str | None:
    environ = os.environ if environ is None else environ
    value = environ.get(name)
    if value is None:
        return None
    return value.strip()


def env_str(name: str, default: str | None = None, *, environ=None) -> str | None:
    value = _raw(name, environ)
    return default if value in (None, "") else value


def env_bool(name: str, default: bool, *, environ=None) -> bool:
    """Only the words ``true`` and ``false`` are accepted (any case)."""
    value = _raw(name, environ)
    if value in (None, ""):
        return default
    lowered = value.lower()
    if lowered == _TRUE:
        return True
    if lowered == _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be 'true' or 'false', got {value!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, environ=None) -> int:
    value = _raw(name, environ)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_list(name: str, default: list[str], *, environ=None) -> list[str]:
    value = _raw(name, environ)
    if value in (None, ""):
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name} must be a comma-separated list without empty items")
    return items


def env_url(
    name: str, default: str | None, *, schemes: tuple[str, ...], environ=None
) -> str | None:
    """A URL whose scheme is one of ``schemes`` (``filesystem://`` alone is a valid URL)."""
    value = _raw(name, environ)
    if value in (None, ""):
        return default
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name} must start with one of {allowed}, got {value!r}")
    return value


def env_secret(name: str, default: str | None = None, *, environ=None) -> str | None:
    """Read ``NAME`` or the file named by ``NAME_FILE`` (never both)."""
    direct = _raw(name, environ)
    file_name = _raw(f"{name}_FILE", environ)
    if direct and file_name:
        raise ImproperlyConfigured(f"set {name} or {name}_FILE, not both")
    if file_name:
        path = Path(file_name)
        try:
            content = path.read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE cannot be read: {exc}") from None
        if not content:
            raise ImproperlyConfigured(f"{name}_FILE points at an empty file: {path}")
        return content
    return direct or default


def env_choice(name: str, default: str, *, choices: tuple[str, ...], environ=None) -> str:
    value = _raw(name, environ)
    if value in (None, ""):
        return default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value
