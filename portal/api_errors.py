"""The API's one error shape, and the one place where errors become HTTP answers.

Every 4xx and 5xx under ``/api/`` answers ``{"code", "message", "details"}``: ``code`` is a
registered code (``portal.errors.registry()``), ``message`` is for people, ``details`` is a
list (often empty) of ``{"field", "code", "message"}``. The handlers below map a
``DomainError``, ninja's and Django's validation errors, Django's request errors (a body that
does not parse, one that is too large) and anything unexpected; ``ApiErrorMiddleware`` catches
what never reaches them (Django's 404, ninja's 405, a 500 raised outside an endpoint).
"""

from __future__ import annotations

import logging
from functools import cache

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse, JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from portal.errors import (
    DomainError,
    ErrorCode,
    ErrorDetail,
    PortalErrorCode,
    detail,
    generic_code,
    registry,
)

logger = logging.getLogger(__name__)

# Where ninja's validation errors say a value came from; ``field`` names the value itself.
PARAM_SOURCES = {"path", "query", "header", "cookie", "body", "form", "file"}


class ErrorDetailOut(Schema):
    field: str | None
    code: str
    message: str


class ErrorOut(Schema):
    code: str
    message: str
    details: list[ErrorDetailOut]


def errors(*statuses: int) -> dict[int, type[ErrorOut]]:
    """The error part of an endpoint's ``response=``: each status it can answer."""
    return dict.fromkeys(statuses, ErrorOut)


def error_body(
    error: ErrorCode, message: str | None = None, details: list[ErrorDetail] | None = None
) -> dict:
    return {"code": error.code, "message": message or error.message, "details": details or []}


def error_response(
    error: ErrorCode,
    message: str | None = None,
    details: list[ErrorDetail] | None = None,
    *,
    status: int | None = None,
) -> JsonResponse:
    """The error shape outside ninja (plain Django views, the middleware)."""
    return JsonResponse(error_body(error, message, details), status=status or error.status)


def from_django_validation(exc: DjangoValidationError) -> DomainError:
    """A service's ``ValidationError``: its first registered code decides code and status."""
    fields = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}
    items = [
        (None if field == NON_FIELD_ERRORS else field, error)
        for field, field_errors in fields.items()
        for error in field_errors
    ]
    details = [
        detail(field, error.code or "invalid", message)
        for field, error in items
        for message in error  # a ValidationError iterates over its formatted messages
    ]
    codes = registry()
    for _, error in items:
        if error.code in codes:
            return DomainError(codes[error.code], next(iter(error)), details=details)
    message = details[0]["message"] if details else None
    return DomainError(PortalErrorCode.VALIDATION_ERROR, message, details=details)


def from_ninja_validation(exc: ValidationError) -> DomainError:
    details = []
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in PARAM_SOURCES:
            loc = loc[1:]
        details.append(detail(".".join(loc) or None, error["type"], error["msg"]))
    return DomainError(PortalErrorCode.VALIDATION_ERROR, details=details)


def install_error_handlers(api: NinjaAPI) -> None:
    def respond(request, error: DomainError, status: int | None = None):
        body = error_body(error.error, error.message, error.details)
        return api.create_response(request, body, status=status or error.status)

    def handle(exc_type, error: ErrorCode, message: str | None = None):
        def handler(request, exc):
            return respond(request, DomainError(error, message))

        api.add_exception_handler(exc_type, handler)

    @api.exception_handler(DomainError)
    def domain_error(request, exc: DomainError):
        return respond(request, exc)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        # ninja's own (400 for a body that does not parse) and endpoints that only have a status
        error = DomainError(generic_code(exc.status_code), exc.message)
        return respond(request, error, exc.status_code)

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return respond(request, from_ninja_validation(exc))

    @api.exception_handler(DjangoValidationError)
    def model_validation_error(request, exc: DjangoValidationError):
        return respond(request, from_django_validation(exc))

    @api.exception_handler(MultiPartParserError)
    def malformed_multipart(request, exc: MultiPartParserError):
        message = f"The multipart body could not be parsed: {exc}"
        return respond(request, DomainError(PortalErrorCode.BAD_REQUEST, message))

    handle(AuthenticationError, PortalErrorCode.UNAUTHENTICATED)
    handle(Http404, PortalErrorCode.NOT_FOUND)
    handle(PermissionDenied, PortalErrorCode.FORBIDDEN)
    handle(RequestDataTooBig, PortalErrorCode.PAYLOAD_TOO_LARGE)
    handle(TooManyFieldsSent, PortalErrorCode.PAYLOAD_TOO_LARGE, "The request has too many fields.")
    handle(TooManyFilesSent, PortalErrorCode.PAYLOAD_TOO_LARGE, "The request has too many files.")
    handle(SuspiciousOperation, PortalErrorCode.BAD_REQUEST)
    handle(BadRequest, PortalErrorCode.BAD_REQUEST)
    handle(UnreadablePostError, PortalErrorCode.BAD_REQUEST, "The request body could not be read.")

    @api.exception_handler(Exception)
    def unexpected(request, exc):
        logger.exception("unhandled API error", exc_info=exc)
        return respond(request, DomainError(PortalErrorCode.INTERNAL_ERROR))


@cache
def _api_prefix() -> str:
    return reverse("api:api-root")


def not_found_response() -> JsonResponse:
    message = f"No such API endpoint: the API is described at {_api_prefix()}docs."
    return error_response(PortalErrorCode.NOT_FOUND, message)


def _reshaped(request, response) -> JsonResponse:
    status = response.status_code
    if status == 404:
        return not_found_response()
    message = None
    if status == 405:
        allowed = response.get("Allow", "")
        message = f"{request.method} is not allowed here; this endpoint answers {allowed}."
    reshaped = error_response(generic_code(status), message, status=status)
    if "Allow" in response:
        reshaped["Allow"] = response["Allow"]
    return reshaped


API_PAGE = "portal_api_page"


def api_page(response: HttpResponse) -> HttpResponse:
    """Mark an error page an endpoint renders for a browser on purpose (the x402 page, which
    carries its requirements in a header), so ``ApiErrorMiddleware`` leaves it alone."""
    setattr(response, API_PAGE, True)
    return response


class ApiErrorMiddleware:
    """Under ``/api/``, an error answered as HTML or text answers the JSON shape instead.

    Django's 404 (and ninja's root view), ninja's 405, a 400 or 500 from outside any endpoint
    (a debug page with a traceback included): the status stays, the body becomes an error. A
    page an endpoint renders on purpose for a browser (``api_page``) passes as it is.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and request.path.startswith(_api_prefix())
            and not response.get("Content-Type", "").startswith("application/json")
            and not getattr(response, API_PAGE, False)
        ):
            return _reshaped(request, response)
        return response
