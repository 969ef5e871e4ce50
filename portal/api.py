"""The API root: one NinjaAPI, every app's router, one error shape.

This module and ``portal.urls`` are the only places in ``portal`` that import other apps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import NinjaAPI, Router, Schema

from chain.api import router as chain_router
from licensing.api import router as licensing_router
from licensing.governance_api import router as governance_router
from models_hub.api import router as models_router
from models_hub.jobs.api import router as jobs_router
from models_hub.predict_api import router as predict_router
from portal.api_errors import errors, install_error_handlers
from portal.auth import ApiKeyAuth
from portal.choices import ApiScope
from portal.siwe.api import router as siwe_router

api = NinjaAPI(
    title="Model Licensing Portal API",
    version="1",
    description=(
        "Authenticate with `Authorization: Bearer <key>` (API keys are created in the admin); "
        "endpoints without a lock are public and take a key optionally. Every 4xx and 5xx "
        "answers `{code, message, details}`: `code` is stable (the README lists every code), "
        "`details` is a list, often empty, of `{field, code, message}`."
    ),
    urls_namespace="api",
    docs_url="/docs",
)
install_error_handlers(api)

router = Router(tags=["account"])


class ApiKeyOut(Schema):
    name: str
    prefix: str
    kind: Literal["organization", "customer"]
    organization: str | None  # the slug; null for a customer's own key
    scopes: list[str]
    expires_at: datetime | None


class OrganizationOut(Schema):
    name: str
    slug: str
    treasury_address: str
    status: str
    member_count: int


@router.get("/key", response={200: ApiKeyOut, **errors(401)}, auth=ApiKeyAuth())
def current_key(request):
    """The API key this request is made with: an organization's key (`kind` "organization",
    with its slug) or a customer's own key (`kind` "customer", `organization` null)."""
    key = request.auth
    return ApiKeyOut(
        name=key.name,
        prefix=key.prefix,
        kind="customer" if key.is_customer_key else "organization",
        organization=None if key.is_customer_key else key.organization.slug,
        scopes=key.scopes,
        expires_at=key.expires_at,
    )


@router.get(
    "/organization",
    response={200: OrganizationOut, **errors(401, 403)},
    auth=ApiKeyAuth(ApiScope.ORG_READ),
)
def current_organization(request):
    """The organization the API key acts for (scope `org:read`)."""
    org = request.auth.organization
    return OrganizationOut(
        name=org.name,
        slug=org.slug,
        treasury_address=org.treasury_address,
        status=org.status,
        member_count=org.memberships.count(),
    )


api.add_router("/", router)
api.add_router("/auth/siwe", siwe_router)
api.add_router("/chain", chain_router)
api.add_router("/models", models_router)
api.add_router("/models", predict_router)
api.add_router("/", jobs_router)
api.add_router("/licensing", licensing_router)
api.add_router("/governance", governance_router)
