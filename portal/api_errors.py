"""One error shape for the whole API: ``{"code", "message", "details"}`` with stable codes."""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

logger = logging.getLogger(__name__)

# Codes used when an error does not carry its own. Clients may rely on these.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


class ErrorOut(Schema):
    code: str
    message: str
    details: dict | list | None = None


class ApiError(HttpError):
    """Raise from endpoints and services' callers: a status, a stable code and a message."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(status, message)
        self.code = code
        self.details = details


def error_body(status: int, message: str, code: str | None = None, details=None) -> dict:
    return {
        "code": code
        or STATUS_CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_")),
        "message": message,
        "details": details,
    }


def install_error_handlers(api: NinjaAPI) -> None:
    def respond(request, status, message, code=None, details=None):
        return api.create_response(
            request, error_body(status, message, code, details), status=status
        )

    @api.exception_handler(ApiError)
    def api_error(request, exc: ApiError):
        return respond(request, exc.status_code, exc.message, exc.code, exc.details)

    @api.exception_handler(AuthenticationError)
    def unauthenticated(request, exc):
        return respond(
            request, 401, "Send an API key as 'Authorization: Bearer <key>'.", "unauthenticated"
        )

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        return respond(request, exc.status_code, exc.message)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return respond(request, 422, "The request did not validate.", details=exc.errors)

    @api.exception_handler(DjangoValidationError)
    def model_validation_error(request, exc: DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        return respond(request, 422, "The request did not validate.", details=details)

    @api.exception_handler(Http404)
    def not_found(request, exc):
        return respond(request, 404, "Not found.")

    @api.exception_handler(PermissionDenied)
    def permission_denied(request, exc):
        return respond(request, 403, str(exc) or "You may not do this.")

    @api.exception_handler(Exception)
    def unexpected(request, exc):
        logger.exception("unhandled API error", exc_info=exc)
        return respond(request, 500, "Something went wrong on our side.", "internal_error")
