"""The error vocabulary: stable codes with their HTTP status and message, one exception type.

Each app lists its codes in its own ``errors.py`` as an ``ErrorCode`` enum (portal's are
below); services and endpoints raise ``DomainError(code, message, details=...)``, and
``portal.api_errors`` turns it into the API's one error shape. ``registry()`` collects every
app's codes: the README's list of codes is checked against it.
"""

from __future__ import annotations

from enum import Enum
from functools import cache
from typing import TypedDict

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules


class ErrorCode(Enum):
    """A stable code, the HTTP status it answers with, and its default human message."""

    def __init__(self, code: str, status: int, message: str) -> None:
        self.code = code
        self.status = status
        self.message = message


class ErrorDetail(TypedDict):
    """One item of ``details``: which field (or ``None`` for the request as a whole), why."""

    field: str | None
    code: str
    message: str


def detail(field: str | None, code: str, message: str) -> ErrorDetail:
    return {"field": field, "code": code, "message": message}


class DomainError(Exception):
    """An error with a registered code; the API answers it as ``{code, message, details}``."""

    def __init__(
        self,
        error: ErrorCode,
        message: str | None = None,
        *,
        details: list[ErrorDetail] | None = None,
    ) -> None:
        self.error = error
        self.message = message or error.message
        self.details = list(details or [])
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def status(self) -> int:
        return self.error.status


class PortalErrorCode(ErrorCode):
    """Accounts, API keys and health; and the generic codes every endpoint may answer."""

    BAD_REQUEST = ("bad_request", 400, "The request could not be read.")
    UNKNOWN_CHECK = ("unknown_check", 400, "No such health check.")
    UNAUTHENTICATED = ("unauthenticated", 401, "Send an API key as 'Authorization: Bearer <key>'.")
    INVALID_API_KEY = ("invalid_api_key", 401, "The API key is not known.")
    API_KEY_REVOKED = ("api_key_revoked", 401, "The API key has been revoked.")
    API_KEY_EXPIRED = ("api_key_expired", 401, "The API key has expired.")
    API_KEY_INACTIVE = ("api_key_inactive", 401, "The API key's organization or owner is inactive.")
    FORBIDDEN = ("forbidden", 403, "You may not do this.")
    INSUFFICIENT_SCOPE = ("insufficient_scope", 403, "The API key lacks a scope this needs.")
    ORGANIZATION_KEY_REQUIRED = (
        "organization_key_required",
        403,
        "This needs an organization's API key; a customer's key acts for no organization.",
    )
    NOT_FOUND = ("not_found", 404, "Not found.")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "This endpoint does not answer that method.")
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413, "The request is too large.")
    VALIDATION_ERROR = ("validation_error", 422, "The request did not validate.")
    INTERNAL_ERROR = ("internal_error", 500, "Something went wrong on our side.")
    SERVICE_UNAVAILABLE = ("service_unavailable", 503, "A service this needs is unavailable.")


# What an error answered only with a status (Django's own 404 or 405, ninja's HttpError, an
# unexpected exception) is called. Every status the API can answer has one.
GENERIC_CODES: dict[int, ErrorCode] = {
    error.status: error
    for error in (
        PortalErrorCode.BAD_REQUEST,
        PortalErrorCode.UNAUTHENTICATED,
        PortalErrorCode.FORBIDDEN,
        PortalErrorCode.NOT_FOUND,
        PortalErrorCode.METHOD_NOT_ALLOWED,
        PortalErrorCode.PAYLOAD_TOO_LARGE,
        PortalErrorCode.VALIDATION_ERROR,
        PortalErrorCode.INTERNAL_ERROR,
        PortalErrorCode.SERVICE_UNAVAILABLE,
    )
}


def generic_code(status: int) -> ErrorCode:
    """The generic code of a status; a status without one counts as a 400 or a 500."""
    return GENERIC_CODES.get(status) or GENERIC_CODES[500 if status >= 500 else 400]


@cache
def registry() -> dict[str, ErrorCode]:
    """Every code of every installed app, by code (each app's ``errors`` module is loaded)."""
    autodiscover_modules("errors")
    codes: dict[str, ErrorCode] = {}
    pending = list(ErrorCode.__subclasses__())
    while pending:
        enum = pending.pop()
        pending.extend(enum.__subclasses__())
        for error in enum:
            known = codes.setdefault(error.code, error)
            if known is not error:
                raise ImproperlyConfigured(f"error code {error.code!r} is defined twice")
    return codes
