"""Writes for organizations, members and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from portal.choices import ApiScope, OrganizationStatus, Role
from portal.errors import DomainError, PortalErrorCode
from portal.models import ApiKey, Membership, Organization
from portal.validators import normalize_eth_address

API_KEY_PREFIX = "mlp"


@transaction.atomic
def organization_create(
    *, name: str, slug: str = "", treasury_address: str = "", owner=None
) -> Organization:
    organization = Organization(
        name=name.strip(),
        slug=slug or slugify(name)[:60],
        treasury_address=normalize_eth_address(treasury_address),
        status=OrganizationStatus.ACTIVE,
    )
    organization.full_clean()
    organization.save()
    if owner is not None:
        membership_set(organization=organization, user=owner, role=Role.OWNER)
    return organization


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
def membership_invite(*, organization: Organization, email: str, role: Role | str) -> Membership:
    """Add a colleague by e-mail; a new account gets no password until they reset it."""
    user_model = get_user_model()
    email = user_model.objects.normalize_email(email.strip())
    user = user_model.objects.filter(email__iexact=email).first()
    if user is None:
        user = user_model(username=email[:150], email=email, is_staff=True)
        user.set_unusable_password()
        user.full_clean()
        user.save()
    return membership_set(organization=organization, user=user, role=role)


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
        scopes=_clean_scopes(scopes),
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
    if not api_key.organization.is_active or not api_key.owner.is_active:
        raise ApiKeyRejected(PortalErrorCode.API_KEY_INACTIVE)
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
