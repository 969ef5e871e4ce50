from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Cast, Lower, Replace
from django.db.models.lookups import Exact
from django.utils import timezone

from portal.choices import CUSTOMER_SCOPES, ApiScope, OrganizationStatus, Role
from portal.validators import validate_eth_address


class Organization(models.Model):
    """An enterprise that publishes models and sells licenses to them."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    treasury_address = models.CharField(
        max_length=42,
        blank=True,
        validators=[validate_eth_address],
        help_text="Where this organization's revenue is paid (an EVM address, EIP-55).",
    )
    status = models.CharField(
        max_length=16, choices=OrganizationStatus.choices, default=OrganizationStatus.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organization_name_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=OrganizationStatus.values),
                name="organization_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == OrganizationStatus.ACTIVE


class Membership(models.Model):
    """One user's role in one organization."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["organization__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.email or self.user.get_username()} ({self.role}) in {self.organization}"


def _scopes_beyond_customer_ones() -> models.Func:
    """The scopes' JSON text with every customer scope, comma and space taken out: ``[]`` when
    the key carries customer scopes only. Text functions, so SQLite and PostgreSQL agree (their
    JSON containment lookups differ)."""

    def text(value: str) -> models.Value:
        return models.Value(value, output_field=models.TextField())

    remainder = Cast("scopes", models.TextField())
    for scope in CUSTOMER_SCOPES:
        remainder = Replace(remainder, text(f'"{scope}"'), text(""))
    for separator in (",", " "):
        remainder = Replace(remainder, text(separator), text(""))
    return remainder


class ApiKeyQuerySet(models.QuerySet):
    def of_customer(self, user) -> ApiKeyQuerySet:
        """The customer's own keys (those without an organization)."""
        return self.filter(owner=user, organization__isnull=True)

    def live(self, now=None) -> ApiKeyQuerySet:
        """Keys that still authenticate: not revoked, not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiKey(models.Model):
    """A bearer key with a set of scopes; only its hash is kept.

    An organization's key (made by its staff) acts for that organization; a customer's key has
    no organization, belongs to the customer who made it and carries only customer scopes.
    """

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="api_keys",
        null=True,
        blank=True,
        help_text="The organization the key acts for; empty for a customer's own key.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(organization__isnull=False)
                | models.Q(
                    Exact(_scopes_beyond_customer_ones(), models.Value("[]", models.TextField()))
                ),
                name="api_key_customer_scopes_only",
                violation_error_code="customer_scopes_only",
                violation_error_message=(
                    "A key without an organization carries only customer scopes: "
                    + ", ".join(CUSTOMER_SCOPES)
                    + "."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)

    @property
    def status(self) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.is_usable() else "expired"

    def has_scope(self, scope: ApiScope | str) -> bool:
        return str(scope) in self.scopes

    @property
    def is_customer_key(self) -> bool:
        return self.organization_id is None
