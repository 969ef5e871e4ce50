"""The headless API's nonce endpoints, mounted at ``_allauth/`` beside allauth's own."""

from django.urls import path

from portal.siwe import views

urlpatterns = [
    path("app/v1/auth/siwe/nonce", views.headless_app_nonce, name="siwe_headless_app_nonce"),
    path(
        "browser/v1/auth/siwe/nonce",
        views.headless_browser_nonce,
        name="siwe_headless_browser_nonce",
    ),
]
