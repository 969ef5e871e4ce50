"""The buy page and its JSON endpoints (thin: parse, call ``licensing.services.purchase``).

``purchase_urlpatterns`` is included by the market's ``licensing/urls.py`` (namespace
``market``): ``market:buy`` (the page), ``market:buy-prepare`` (POST ``{buyer, amount}`` ->
``{transactions, summary}``), ``market:buy-status`` (GET ``?tx=0x…`` -> the transaction's
status) and ``market:buy-explain`` (GET ``?data=0x…`` -> a revert a wallet reported at
estimation, in words). Errors answer the API's one shape ``{code, message, details}``.
Anyone may buy: the wallet's connected account is the buyer (a signed-in user is not needed).
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from chain.choices import OfferKind
from licensing import market
from licensing.amounts import format_amount, format_duration
from licensing.models import Offer
from licensing.services import purchase
from licensing.terms import plain_language
from portal.api_errors import error_response
from portal.errors import DomainError, PortalErrorCode


def _offer(pk: int) -> Offer:
    """An offer of a listed model of an active organization (404 otherwise)."""
    offers = Offer.objects.select_related("model__organization", "network", "currency", "terms")
    return get_object_or_404(offers.filter(model__in=market.listed_models()), pk=pk)


def _error(exc: DomainError) -> JsonResponse:
    return error_response(exc.error, exc.message, exc.details)


@require_GET
@ensure_csrf_cookie
def offer_buy(request: HttpRequest, pk: int) -> HttpResponse:
    offer = _offer(pk)
    chain_offer = purchase.chain_offer_of(offer)
    on_sale = (
        chain_offer is not None
        and chain_offer.active
        and offer.active
        and offer.kind != OfferKind.SHARES
    )
    price = int(chain_offer.price) if chain_offer else int(offer.price)
    if offer.kind == OfferKind.CREDITS and chain_offer:
        price *= offer.credits_per_unit  # the chain prices one credit; a pack is shown
    context = {
        "offer": offer,
        "model": offer.model,
        "on_sale": on_sale,
        "is_shares": offer.kind == OfferKind.SHARES,
        "is_credits": offer.kind == OfferKind.CREDITS,
        "price": format_amount(price, offer.currency),
        "duration": format_duration(int(chain_offer.duration if chain_offer else offer.duration)),
        "terms_lines": plain_language(offer.terms) if offer.terms else [],
        "terms_hash": chain_offer.terms_hash if chain_offer else "",
        "chain": purchase.chain_params(offer.network),
        "explorer_url": offer.network.explorer_url,
    }
    return render(request, "market/buy.html", context)


@require_POST
def offer_buy_prepare(request: HttpRequest, pk: int) -> JsonResponse:
    offer = _offer(pk)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return error_response(PortalErrorCode.BAD_REQUEST, "The body is not JSON.")
    if not isinstance(body, dict):
        return error_response(PortalErrorCode.BAD_REQUEST, "The body is a JSON object.")
    try:
        prepared = purchase.purchase_prepare(
            offer=offer, buyer=body.get("buyer"), amount=body.get("amount", 1)
        )
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(prepared.as_json())


@require_GET
@never_cache
def offer_buy_status(request: HttpRequest, pk: int) -> JsonResponse:
    offer = _offer(pk)
    try:
        progress = purchase.purchase_status(
            network=offer.network, tx_hash=request.GET.get("tx"), currency=offer.currency
        )
    except DomainError as exc:
        return _error(exc)
    return JsonResponse(progress.as_json())


@require_GET
def offer_buy_explain(request: HttpRequest, pk: int) -> JsonResponse:
    offer = _offer(pk)
    data = request.GET.get("data")
    try:
        reason = purchase.explain_revert_data(data=data, currency=offer.currency)
    except DomainError as exc:
        return _error(exc)
    return JsonResponse({"reason": reason})


purchase_urlpatterns = [
    path("offers/<int:pk>/buy/", offer_buy, name="buy"),
    path("offers/<int:pk>/buy/prepare", offer_buy_prepare, name="buy-prepare"),
    path("offers/<int:pk>/buy/status", offer_buy_status, name="buy-status"),
    path("offers/<int:pk>/buy/explain", offer_buy_explain, name="buy-explain"),
]
