"""Writes for organizations, members and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.forms import default_token_generator as password_reset_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from portal.choices import CUSTOMER_SCOPES, ApiScope, OrganizationStatus, Role
from portal.errors import DomainError, PortalErrorCode
from portal.models import ApiKey, Membership, Organization
from portal.validators import normalize_eth_address, validate_eth_address

API_KEY_PREFIX = "mlp"


@transaction.atomic
def organization_create(
    *,
    name: str,
    slug: str = "",
    treasury_address: str = "",
    status: OrganizationStatus | str = OrganizationStatus.ACTIVE,
    owner=None,
) -> Organization:
    organization = Organization(
        name=name.strip(),
        slug=slug or slugify(name)[:60],
        treasury_address=_clean_treasury(treasury_address),
        status=status,
    )
    _check_name_free(organization)
    organization.full_clean()
    organization.save()
    if owner is not None:
        membership_set(organization=organization, user=owner, role=Role.OWNER)
    return organization


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    name: str,
    treasury_address: str,
    slug: str | None = None,
    status: OrganizationStatus | str | None = None,
) -> Organization:
    """Change an organization; ``slug`` and ``status`` (the platform's to set) when given."""
    organization.name = name.strip()
    organization.treasury_address = _clean_treasury(treasury_address)
    if slug is not None:
        organization.slug = slug
    if status is not None:
        organization.status = status
    _check_name_free(organization)
    organization.full_clean()
    organization.save()
    return organization


def _clean_treasury(address: str) -> str:
    """A valid EVM address in its EIP-55 form, or "" for none."""
    address = address.strip()
    if not address:
        return ""
    try:
        validate_eth_address(address)
    except ValidationError as exc:
        raise ValidationError({"treasury_address": exc.error_list}) from None
    return normalize_eth_address(address)


def _check_name_free(organization: Organization) -> None:
    """Names are unique regardless of case (a constraint too); say so on the name."""
    taken = Organization.objects.filter(name__iexact=organization.name.strip())
    if taken.exclude(pk=organization.pk).exists():
        message = f"An organization named {organization.name!r} exists already."
        raise ValidationError({"name": ValidationError(message, code="name_taken")})


def is_last_owner(*, membership: Membership) -> bool:
    """True when this membership is the organization's only owner (it must stay)."""
    if membership.pk is None or membership.role != Role.OWNER:
        return False
    owners = Membership.objects.filter(organization_id=membership.organization_id, role=Role.OWNER)
    return not owners.exclude(pk=membership.pk).exists()


@transaction.atomic
def membership_set(*, organization: Organization, user, role: Role | str) -> Membership:
    """Give ``user`` the ``role`` in ``organization`` (creating or changing the membership)."""
    membership, _ = Membership.objects.select_for_update().get_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    if role != Role.OWNER and is_last_owner(membership=membership):
        raise ValidationError({"role": "An organization keeps at least one owner."})
    membership.role = role
    membership.full_clean()
    membership.save()
    if not user.is_staff:
        user.is_staff = True  # members work in the admin; roles decide what they may touch
        user.save(update_fields=["is_staff"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    """Take a member out of an organization; its last owner stays."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if is_last_owner(membership=membership):
        raise ValidationError("An organization keeps at least one owner.")
    membership.delete()


@transaction.atomic
def membership_invite(
    *, organization: Organization, email: str, role: Role | str, invited_by=None
) -> Membership:
    """Add a colleague by e-mail and send them an invitation (after the transaction commits).

    A new account gets no password: the invitation carries a link to set one. Someone who is
    a member already is refused (their role is changed on their membership instead).
    """
    user_model = get_user_model()
    email = user_model.objects.normalize_email(email.strip())
    user = user_model.objects.filter(email__iexact=email).first()
    if user is not None:
        existing = Membership.objects.filter(organization=organization, user=user).first()
        if existing is not None:
            role_now = existing.get_role_display().lower()
            message = (
                f"{user.email} is a member of {organization} already ({role_now}); "
                "change their role on their membership instead."
            )
            raise ValidationError({"email": ValidationError(message, code="already_member")})
    else:
        user = user_model(username=email[:150], email=email, is_staff=True)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    membership = membership_set(organization=organization, user=user, role=role)
    invited_by_id = invited_by.pk if invited_by is not None else None
    transaction.on_commit(lambda: _send_invitation(membership.pk, invited_by_id))
    return membership


def _send_invitation(membership_id: int, invited_by_id: int | None) -> None:
    from portal.tasks import membership_invitation_send_task  # the task module imports this one

    membership_invitation_send_task.delay(membership_id, invited_by_id)


def invitation_send(*, membership: Membership, invited_by=None) -> None:
    """E-mail a new member: a link to set their password (new accounts) or to sign in."""
    user = membership.user
    context = {
        "organization": membership.organization,
        "role": membership.get_role_display(),
        "invited_by": invited_by.email if invited_by is not None else "",
        "sign_in_url": _site_url(reverse("account_login")),
        "set_password_url": "" if user.has_usable_password() else _set_password_url(user),
        "link_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    get_account_adapter().send_mail("account/email/staff_invitation", user.email, context)


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _set_password_url(user) -> str:
    """allauth's password-reset link (its token machinery): the same page sets a first one."""
    key = password_reset_token_generator.make_token(user)
    uidb36 = user_pk_to_url_str(user)
    path = reverse("account_reset_password_from_key", kwargs={"uidb36": uidb36, "key": key})
    return _site_url(path)


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    raw_key: str  # shown once, never stored


def _hash_key(raw_key: str) -> str:
    # The key carries 256 bits of randomness, so a fast hash is enough (as for session ids).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def _clean_scopes(scopes) -> list[str]:
    unknown = sorted(set(scopes) - set(ApiScope.values))
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}"})
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope."})
    return sorted(set(scopes))


@transaction.atomic
def api_key_create(
    *,
    organization: Organization,
    owner,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> IssuedApiKey:
    """An organization's key (staff, in the admin): it acts for ``organization``."""
    if organization is None:
        raise ValidationError({"organization": "Choose the organization the key acts for."})
    return _issue_key(
        organization=organization,
        owner=owner,
        name=name,
        scopes=_clean_scopes(scopes),
        expires_at=expires_at,
    )


@transaction.atomic
def customer_api_key_create(
    *, owner, name: str, expires_at: datetime | None = None
) -> IssuedApiKey:
    """A customer's own key: no organization, the customer scopes, at most
    ``CUSTOMER_API_KEYS_MAX`` live (neither revoked nor expired) at a time."""
    if owner.is_staff or owner.is_superuser or not owner.is_active:
        raise ValidationError(
            "Staff make keys for their organization in the admin.", code="staff_owner"
        )
    # Lock the customer's row so two requests at once cannot both pass the cap (PostgreSQL).
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    cap = settings.CUSTOMER_API_KEYS_MAX
    if ApiKey.objects.of_customer(owner).live().count() >= cap:
        raise ValidationError(
            f"You have {cap} live keys, the most you may hold. Revoke one you no longer use "
            "to make another.",
            code="too_many_keys",
        )
    return _issue_key(
        organization=None,
        owner=owner,
        name=name,
        scopes=list(CUSTOMER_SCOPES),
        expires_at=expires_at,
    )


def _issue_key(
    *, organization, owner, name: str, scopes: list[str], expires_at: datetime | None
) -> IssuedApiKey:
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    prefix = secrets.token_hex(4)
    raw_key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey(
        organization=organization,
        owner=owner,
        name=name.strip(),
        prefix=prefix,
        key_hash=_hash_key(raw_key),
        scopes=scopes,
        expires_at=expires_at,
    )
    api_key.full_clean()
    api_key.save()
    return IssuedApiKey(api_key=api_key, raw_key=raw_key)


def api_key_revoke(*, api_key: ApiKey) -> bool:
    """Revoke the key; False when it was already revoked."""
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key.refresh_from_db(fields=["revoked_at"])
    return bool(updated)


def customer_api_key_revoke(*, owner, api_key: ApiKey) -> bool:
    """A customer revokes one of their own keys (anyone else's: ``PermissionDenied``)."""
    if api_key.owner_id != owner.pk or api_key.organization_id is not None:
        raise PermissionDenied("This key is not yours.")
    return api_key_revoke(api_key=api_key)


class ApiKeyRejected(DomainError):
    """A key that does not authenticate (401): malformed, unknown, revoked, expired, inactive."""


def api_key_authenticate(*, raw_key: str) -> ApiKey:
    """The usable key for ``raw_key``; raises ``ApiKeyRejected`` with a stable code otherwise."""
    parts = raw_key.split("_", 2)  # the secret part may itself contain "_"
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        raise ApiKeyRejected(PortalErrorCode.INVALID_API_KEY, "The API key is malformed.")
    api_key = ApiKey.objects.select_related("organization", "owner").filter(prefix=parts[1]).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, _hash_key(raw_key)):
        raise ApiKeyRejected(PortalErrorCode.INVALID_API_KEY)
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise ApiKeyRejected(PortalErrorCode.API_KEY_REVOKED)
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise ApiKeyRejected(PortalErrorCode.API_KEY_EXPIRED)
    if not api_key.owner.is_active:
        raise ApiKeyRejected(PortalErrorCode.API_KEY_INACTIVE)
    if api_key.organization is not None and not api_key.organization.is_active:
        raise ApiKeyRejected(PortalErrorCode.API_KEY_INACTIVE)  # a customer's key has none
    _touch_last_used(api_key=api_key, now=now)
    return api_key


def _touch_last_used(*, api_key: ApiKey, now: datetime) -> None:
    """Record use at most once per resolution window: a conditional update, no read-then-write."""
    resolution = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION)
    stale = now - resolution
    if api_key.last_used_at is None or api_key.last_used_at <= stale:
        ApiKey.objects.filter(pk=api_key.pk).exclude(last_used_at__gt=stale).update(
            last_used_at=now
        )
        api_key.last_used_at = now
