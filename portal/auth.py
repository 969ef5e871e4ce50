"""API authentication: ``Authorization: Bearer <key>`` with required scopes."""

from __future__ import annotations

from ninja.security import HttpBearer

from portal import services
from portal.api_errors import ApiError
from portal.choices import ApiScope


class ApiKeyAuth(HttpBearer):
    """Accepts a usable API key that holds every scope in ``scopes``."""

    def __init__(self, *scopes: ApiScope) -> None:
        super().__init__()
        self.scopes = [str(scope) for scope in scopes]

    def authenticate(self, request, token: str):
        if not token.strip():
            return None  # no key at all: ninja answers 401 "unauthenticated"
        try:
            api_key = services.api_key_authenticate(raw_key=token)
        except services.ApiKeyRejected as exc:
            raise ApiError(401, exc.code, exc.message) from None
        missing = [scope for scope in self.scopes if not api_key.has_scope(scope)]
        if missing:
            raise ApiError(
                403,
                "insufficient_scope",
                f"The API key lacks the scope(s): {', '.join(missing)}.",
                details={"required": self.scopes, "granted": api_key.scopes},
            )
        return api_key
