from __future__ import annotations

from collections.abc import Callable

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.api_errors import error_response, not_found_response
from portal.errors import PortalErrorCode
from portal.health import run_checks


def home(request):
    return render(request, "portal/home.html")


def healthz_view(checks: dict[str, Callable[[], None]]):
    """``GET /healthz``: each check ok or not; 503 when a required one is down."""

    @never_cache
    @require_GET
    def healthz(request):
        only = request.GET.get("checks")
        selected = checks
        if only:
            names = [name.strip() for name in only.split(",")]
            unknown = [name for name in names if name not in checks]
            if unknown:
                message = f"Unknown checks: {', '.join(unknown)}."
                return error_response(PortalErrorCode.UNKNOWN_CHECK, message)
            selected = {name: checks[name] for name in names}
        results = run_checks(selected)
        healthy = all(r.ok for r in results if r.required)
        status = "ok" if all(r.ok for r in results) else ("degraded" if healthy else "down")
        body = {"status": status, "checks": {r.name: r.as_dict() for r in results}}
        return JsonResponse(body, status=200 if healthy else 503)

    return healthz


def api_not_found(request, rest: str = ""):
    return not_found_response()
