"""The marketplace's URLs (mounted at ``market/`` by portal/urls.py)."""

from django.urls import path

from licensing import views

app_name = "market"

urlpatterns = [
    path("", views.market_list, name="list"),
    path("offers/<int:pk>/buy/", views.offer_buy, name="buy"),
    path("<slug:org_slug>/<slug:model_slug>/", views.market_detail, name="detail"),
]
