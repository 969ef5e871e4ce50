"""The customer side of licensing: the marketplace, a model's page, and the buy page."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from licensing import market
from licensing.forms import MarketFilterForm

DEFAULT_PAGE_SIZE = 12


@require_GET
def market_list(request):
    """``/market/``: the models for sale, searched and filtered by a GET form, paginated."""
    form = MarketFilterForm(request.GET or None, choices=market.filter_choices())
    models = market.models_for_sale(filters=form.filters())
    page_size = getattr(settings, "MARKET_PAGE_SIZE", DEFAULT_PAGE_SIZE)
    page = Paginator(models, page_size).get_page(request.GET.get("page"))
    cards = market.market_cards(models=list(page.object_list))
    links = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    context = {"form": form, "page": page, "cards": cards, "page_links": list(links)}
    return render(request, "market/list.html", context)


@require_GET
def market_detail(request, org_slug: str, model_slug: str):
    """``/market/<org>/<model>/``: a listed model's card, versions and offers (else 404)."""
    model = market.market_model(org_slug=org_slug, slug=model_slug)
    if model is None:
        raise Http404("No such model on the marketplace.")
    from licensing.models import GovernanceSettings

    governed = GovernanceSettings.objects.filter(model=model, enabled=True).exists()
    return render(
        request,
        "market/detail.html",
        {"view": market.model_page(model=model), "governed": governed},
    )
