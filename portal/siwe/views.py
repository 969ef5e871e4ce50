"""The sign-in page and the headless API's nonce endpoint."""

from __future__ import annotations

import json

from allauth.headless.internal.decorators import app_view, browser_view
from allauth.headless.internal.sessionkit import expose_session_token
from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.module_loading import import_string
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from portal.api_errors import error_body
from portal.errors import DomainError, PortalErrorCode
from portal.siwe import flows


@ensure_csrf_cookie
def login_page(request):
    """Sign in with a wallet (the page's script does the work; without it, it says so)."""
    chains = import_string(settings.SIWE_CHAINS)()
    process = "connect" if request.GET.get("process") == "connect" else "login"
    return render(
        request,
        "siwe/login.html",
        {"chains": chains, "process": process, "next": request.GET.get("next", "")},
    )


def _headless_nonce(request):
    """``POST {"chain_id": 1, "address": "0x..."}``: a challenge bound to this session (for the
    app client, the session its token names; a new session's token is in ``meta``)."""
    try:
        body = json.loads(request.body or b"{}")
        if not isinstance(body, dict):
            raise ValueError
        chain_id = body.get("chain_id")
        address = body.get("address")
        if not isinstance(chain_id, int) or isinstance(chain_id, bool) or chain_id < 1:
            raise ValueError
        if address is not None and not isinstance(address, str):
            raise ValueError
        flows.rate_limit(request, "nonce", address)
        challenge = flows.challenge_for(request, chain_id=chain_id, address=address)
    except ValueError:
        error = PortalErrorCode.BAD_REQUEST
        body = error_body(error, 'Send {"chain_id": <int>, "address": "0x..." (optional)}.')
        return JsonResponse({"status": error.status, **body}, status=error.status)
    except DomainError as exc:
        body = error_body(exc.error, exc.message, exc.details)
        return JsonResponse({"status": exc.status, **body}, status=exc.status)
    meta = {}
    token = expose_session_token(request)
    if token:
        meta["session_token"] = token
    return JsonResponse({"status": 200, "data": challenge.as_dict(), "meta": meta})


headless_app_nonce = app_view(require_POST(_headless_nonce))
headless_browser_nonce = browser_view(require_POST(_headless_nonce))
