"""The marketplace's URLs (mounted at ``market/`` by portal/urls.py)."""

from django.urls import path

from licensing import views
from licensing.governance_views import governance_page
from licensing.purchase_views import purchase_urlpatterns

app_name = "market"

urlpatterns = [
    path("", views.market_list, name="list"),
    *purchase_urlpatterns,  # the buy page and its endpoints
    path("<slug:org_slug>/<slug:model_slug>/", views.market_detail, name="detail"),
    path("<slug:org_slug>/<slug:model_slug>/governance/", governance_page, name="governance"),
]
