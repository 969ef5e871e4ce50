"""What the endpoints share: the session a nonce is bound to, rate limits, and handing a
verified wallet to allauth (sign in, sign up on first use, or link to the signed-in account)."""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass

from allauth.core.exceptions import SignupClosedException
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.internal.flows.login import complete_login
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.http import url_has_allowed_host_and_scheme
from django_ratelimit.core import is_ratelimited

from portal.errors import DomainError
from portal.siwe import services
from portal.siwe.errors import SiweErrorCode
from portal.siwe.provider import SiweProvider

_CLAIMED = re.compile(r"^[^\n]*\n(0x[0-9a-fA-F]{40})\n")


BINDING = "siwe_binding"


def session_binding(request) -> str:
    """A secret of this session that its nonces are bound to (made on the first request). A
    secret kept in the session rather than the session's key: it needs no early save, and it
    survives the key's rotation at sign-in (the nonce it bound is used up by then anyway)."""
    binding = request.session.get(BINDING)
    if not binding:
        binding = request.session[BINDING] = secrets.token_urlsafe(32)
    return binding


def rate_limit(request, action: str, address: str | None) -> None:
    """``siwe_rate_limited`` past ``SIWE_RATE_PER_CLIENT`` per client address or
    ``SIWE_RATE_PER_WALLET`` per wallet (Django's cache: Redis in production)."""
    limited = is_ratelimited(
        request,
        group=f"siwe-{action}",
        key="ip",
        rate=settings.SIWE_RATE_PER_CLIENT,
        increment=True,
    )
    if address and not limited:
        limited = is_ratelimited(
            request,
            group=f"siwe-{action}-wallet",
            key=lambda group, request: address.lower(),
            rate=settings.SIWE_RATE_PER_WALLET,
            increment=True,
        )
    if limited:
        raise DomainError(SiweErrorCode.RATE_LIMITED)


def claimed_address(message: str) -> str | None:
    """The address a message claims (its second line), for the per-wallet limit; unchecked."""
    match = _CLAIMED.match(message or "")
    return match.group(1) if match else None


def challenge_for(request, *, chain_id: int, address: str | None) -> services.Challenge:
    return services.challenge_issue(
        binding=session_binding(request),
        site=services.Site.of(request),
        chain_id=chain_id,
        address=address or None,
    )


@dataclass(frozen=True)
class SignedIn:
    address: str
    username: str
    created: bool
    connected: bool
    redirect: str

    def as_dict(self) -> dict:
        return asdict(self)


def _next(request, next_url: str | None) -> str:
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return settings.SIWE_LOGIN_REDIRECT_URL


def wallet_sign_in(
    request, *, message: str, signature: str, process: str, next_url: str | None
) -> SignedIn:
    """Verify the message, then sign in with the wallet through allauth (creating the account
    on first use) or, for ``connect``, link it to the signed-in account."""
    if process == "connect" and not request.user.is_authenticated:
        raise DomainError(SiweErrorCode.CONNECT_NEEDS_SIGN_IN)
    verified = services.message_verify(
        binding=request.session.get(BINDING, ""),
        site=services.Site.of(request),
        message=message,
        signature=signature,
    )
    owner = (
        SocialAccount.objects.filter(provider=SiweProvider.id, uid=verified.address)
        .select_related("user")
        .first()
    )
    if process == "connect" and owner is not None and owner.user_id != request.user.pk:
        raise DomainError(SiweErrorCode.WALLET_TAKEN)
    if owner is not None and (owner.user.is_staff or owner.user.is_superuser):
        raise DomainError(SiweErrorCode.STAFF_WALLET)
    if process == "connect" and (request.user.is_staff or request.user.is_superuser):
        raise DomainError(SiweErrorCode.STAFF_WALLET)

    provider = get_adapter().get_provider(request, SiweProvider.id)
    sociallogin = provider.login_from(request, verified)
    redirect = _next(request, next_url)
    sociallogin.state = {"process": process, "next": redirect}
    try:
        complete_login(request, sociallogin, raises=True)
    except SignupClosedException:
        raise DomainError(SiweErrorCode.SIGNUP_CLOSED) from None
    except (ValidationError, PermissionDenied):
        raise DomainError(SiweErrorCode.WALLET_TAKEN) from None
    user = sociallogin.user
    return SignedIn(
        address=verified.address,
        username=user.get_username(),
        created=owner is None and process == "login",
        connected=owner is None and process == "connect",
        redirect=redirect,
    )
