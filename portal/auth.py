"""API authentication: ``Authorization: Bearer <key>`` with required scopes."""

from __future__ import annotations

from ninja.security import HttpBearer

from portal import services
from portal.choices import ORGANIZATION_SCOPES, ApiScope
from portal.errors import DomainError, PortalErrorCode, detail

ANONYMOUS = "anonymous"


class ApiKeyAuth(HttpBearer):
    """Accepts a usable API key that holds every scope in ``scopes``.

    A key that does not authenticate raises ``services.ApiKeyRejected`` (401). An endpoint that
    acts for an organization (``organization=True``, the default when a scope it needs is one
    of ``ORGANIZATION_SCOPES``) refuses a customer's key with ``organization_key_required``
    (403); a missing scope raises ``insufficient_scope`` (403) with one detail per scope.
    ``request.auth`` is the ``ApiKey``; its ``organization`` is ``None`` for a customer's key.
    """

    def __init__(self, *scopes: ApiScope, organization: bool | None = None) -> None:
        super().__init__()
        self.scopes = [str(scope) for scope in scopes]
        if organization is None:
            organization = any(scope in ORGANIZATION_SCOPES for scope in self.scopes)
        self.organization_required = organization

    def authenticate(self, request, token: str):
        if not token.strip():
            return None  # no key at all: ninja answers 401 "unauthenticated"
        api_key = services.api_key_authenticate(raw_key=token)
        if self.organization_required and api_key.organization_id is None:
            raise DomainError(PortalErrorCode.ORGANIZATION_KEY_REQUIRED)
        missing = [scope for scope in self.scopes if not api_key.has_scope(scope)]
        if missing:
            raise DomainError(
                PortalErrorCode.INSUFFICIENT_SCOPE,
                f"The API key lacks the scope(s): {', '.join(missing)}.",
                details=[
                    detail("scopes", "insufficient_scope", f"The API key lacks {scope}.")
                    for scope in missing
                ],
            )
        return api_key


class OptionalApiKey:
    """Public endpoints: anonymous without a bearer key; a key that is sent must be good.

    It is not a security scheme, so the OpenAPI document shows these endpoints without a lock.
    ``request.auth`` is the ``ApiKey`` or ``ANONYMOUS``.
    """

    def __init__(self) -> None:
        self.key_auth = ApiKeyAuth()

    def __call__(self, request):
        return self.key_auth(request) or ANONYMOUS
