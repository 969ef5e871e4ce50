"""The customer's "My account" page and its withdraw endpoints (thin: parse, call, render).

``account_urlpatterns`` (also ``urlpatterns``) is mounted at ``account/`` by ``portal/urls.py``
(``include("licensing.account_views")``), without a namespace:
``customer_account`` (the page, ``/account/``), ``customer_withdraw_prepare`` (POST JSON
``{account, currency}`` -> ``{transaction, summary}``) and ``customer_withdraw_status`` (GET
``?currency=<pk>&tx=0x…[&account=0x…]``). The page needs a signed-in user (the wallet sign-in
page otherwise, with ``?next=``); the endpoints answer 401 in the API's error shape.
"""

from __future__ import annotations

import json
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from licensing import account
from licensing.services import purchase, withdraw
from portal.api_errors import error_response
from portal.errors import DomainError, PortalErrorCode

SIGN_IN_FIRST = "Sign in with your wallet first."


def _signed_in_json(view):
    """A JSON endpoint of a signed-in user: 401 in the API's error shape otherwise."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return error_response(PortalErrorCode.UNAUTHENTICATED, SIGN_IN_FIRST)
        return view(request, *args, **kwargs)

    return wrapper


def _error(exc: DomainError) -> JsonResponse:
    return error_response(exc.error, exc.message, exc.details)


def _keys_url() -> str:
    """The customer API keys page, when that part of the portal is installed."""
    try:
        return reverse("customer_api_keys")
    except NoReverseMatch:
        return ""


@require_GET
@login_required(login_url="siwe_login")
@ensure_csrf_cookie
@never_cache
def account_home(request: HttpRequest) -> HttpResponse:
    page = account.account_page(user=request.user, page_number=request.GET.get("page"))
    purchases = page.purchases
    links = purchases.paginator.get_elided_page_range(purchases.number, on_each_side=2, on_ends=1)
    networks = {line.network.pk: line.network for line in page.revenue.lines}
    context = {
        "view": page,
        "wallets": [(a, account.short_address(a)) for a in page.wallets],
        "page_links": list(links),
        "chains": {str(pk): purchase.chain_params(net) for pk, net in networks.items()},
        "keys_url": _keys_url(),
    }
    return render(request, "customer/account.html", context)


@require_POST
@_signed_in_json
def withdraw_prepare(request: HttpRequest) -> JsonResponse:
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return error_response(PortalErrorCode.BAD_REQUEST, "The body is not JSON.")
    if not isinstance(body, dict):
        return error_response(PortalErrorCode.BAD_REQUEST, "The body is a JSON object.")
    try:
        prepared = withdraw.withdraw_prepare(
            user=request.user, account=body.get("account"), currency=body.get("currency")
        )
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(prepared.as_json())


@require_GET
@never_cache
@_signed_in_json
def withdraw_status(request: HttpRequest) -> JsonResponse:
    try:
        progress = withdraw.withdraw_status(
            user=request.user,
            currency=request.GET.get("currency"),
            tx_hash=request.GET.get("tx"),
            account=request.GET.get("account"),
        )
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(progress.as_json())


account_urlpatterns = [
    path("", account_home, name="customer_account"),
    path("withdraw/prepare", withdraw_prepare, name="customer_withdraw_prepare"),
    path("withdraw/status", withdraw_status, name="customer_withdraw_status"),
]
urlpatterns = account_urlpatterns  # so portal/urls.py includes this module by name
