from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal.api_errors import error_response, not_found_response
from portal.errors import PortalErrorCode
from portal.health import run_checks


def home(request):
    return render(request, "portal/home.html")


def permission_denied(request, exception=None):
    """The 403 page: the admin's look inside the admin, the site's elsewhere; a way back."""
    referer = request.META.get("HTTP_REFERER", "")
    safe = url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    context = {
        "reason": str(exception or "").strip(),
        "back_url": referer if safe and referer != request.build_absolute_uri() else "",
    }
    match = getattr(request, "resolver_match", None)
    in_admin = match is not None and admin.site.name in match.namespaces
    if in_admin and request.user.is_authenticated:
        context = {**admin.site.each_context(request), "title": "Not allowed", **context}
        return render(request, "admin/403.html", context, status=403)
    return render(request, "403.html", context, status=403)


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
