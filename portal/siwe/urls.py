"""The provider's page. allauth mounts every provider's ``urls`` under ``accounts/`` itself
(``/accounts/siwe/login/``); the headless nonce endpoints are in ``headless_urls``."""

from django.urls import path

from portal.siwe import views

urlpatterns = [path("siwe/login/", views.login_page, name="siwe_login")]
