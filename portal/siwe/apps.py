from django.apps import AppConfig


class SiweConfig(AppConfig):
    """Sign-In with Ethereum: a django-allauth provider (``siwe``) whose accounts are wallets."""

    name = "portal.siwe"
    label = "siwe"
    verbose_name = "Wallet sign-in"
