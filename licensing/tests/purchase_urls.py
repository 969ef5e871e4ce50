"""``market:buy*`` for the purchase tests while the market's ``licensing/urls.py`` does not
include ``purchase_urlpatterns`` yet: the fixture ``purchase_urls`` mounts them under
``/market/`` on top of the portal's URLs, and does nothing once they resolve already."""

from __future__ import annotations

import types

import pytest
from django.urls import NoReverseMatch, include, path, reverse

from licensing.purchase_views import purchase_urlpatterns


@pytest.fixture
def purchase_urls(settings):
    try:
        reverse("market:buy-prepare", args=[1])
    except NoReverseMatch:
        from portal import urls

        module = types.ModuleType("purchase_test_urls")
        market = include((purchase_urlpatterns, "market"))
        module.urlpatterns = [path("market/", market), *urls.urlpatterns]
        module.handler403 = urls.handler403
        settings.ROOT_URLCONF = module
    return settings
