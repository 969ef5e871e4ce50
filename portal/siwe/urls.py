from django.urls import path

from portal.siwe import views

urlpatterns = [
    path("accounts/siwe/login/", views.login_page, name="siwe_login"),
    path(
        "_allauth/app/v1/auth/siwe/nonce", views.headless_app_nonce, name="siwe_headless_app_nonce"
    ),
    path(
        "_allauth/browser/v1/auth/siwe/nonce",
        views.headless_browser_nonce,
        name="siwe_headless_browser_nonce",
    ),
]
