from dataclasses import dataclass

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings


@dataclass(frozen=True)
class PortalSite:
    """What e-mails call the site: the portal's name and SITE_URL (not the Sites framework's
    example.com)."""

    name: str
    domain: str


def portal_site() -> PortalSite:
    return PortalSite(name=settings.PORTAL_NAME, domain=settings.SITE_URL)


class AccountAdapter(DefaultAccountAdapter):
    """Staff accounts are invited by an organization owner; nobody signs up with a password."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        super().send_mail(template_prefix, email, {**context, "current_site": portal_site()})


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Customers sign up by signing in with a wallet for the first time (``portal.siwe``)."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return sociallogin.account.provider == "siwe" and settings.SIWE_SIGNUP_OPEN

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return sociallogin.account.provider == "siwe"
