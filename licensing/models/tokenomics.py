"""What staff configure to sell a model: currencies, license terms, offers, splits, cap tables,
contributors, and the publishing steps and license operations that carry them to the chain.

These rows are the *desired* state; ``chain_state`` holds what the chain says. Writes go through
``licensing.services`` (rules that span rows live there; rules about one row are also
constraints here). Every table that staff edit keeps its history (django-simple-history).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.functions import NullIf
from django.db.models.lookups import Exact
from django.utils import timezone
from simple_history.models import HistoricalRecords

from chain.choices import OfferKind
from licensing.choices import (
    ContributorRole,
    LicenseOperationKind,
    PublishStepKind,
    QuotaPeriod,
    RevocationReason,
    UsageUnit,
)
from portal.validators import validate_eth_address

WEI = {"max_digits": 78, "decimal_places": 0}
UINT128 = 2**128
BPS = 10_000
USER = settings.AUTH_USER_MODEL
PAID_KINDS = [OfferKind.LICENSE, OfferKind.ACCESS_PASS, OfferKind.CREDITS]
ZERO_ADDRESS = "0x" + "0" * 40


class Currency(models.Model):
    """A currency offers on one network may be priced in: the native coin or an ERC-20."""

    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    symbol = models.CharField(max_length=12)
    address = models.CharField(
        max_length=42,
        blank=True,
        validators=[validate_eth_address],
        help_text="The ERC-20 contract; empty for the network's native coin.",
    )
    decimals = models.PositiveSmallIntegerField(default=18)
    active = models.BooleanField(default=True, help_text="Inactive: no new offers in it.")
    eip3009 = models.BooleanField(
        "EIP-3009",
        default=False,
        help_text="The token takes EIP-3009 transfers by signed authorization, so agents can "
        "pay per call with it (x402). Give its EIP-712 domain name and version.",
    )
    eip712_name = models.CharField(
        "EIP-712 name",
        max_length=64,
        blank=True,
        help_text="The token's EIP-712 domain name (USDC: 'USD Coin'), as its eip712Domain() "
        "or DOMAIN_SEPARATOR uses it.",
    )
    eip712_version = models.CharField(
        "EIP-712 version",
        max_length=16,
        blank=True,
        help_text="The token's EIP-712 domain version (USDC: '2').",
    )

    class Meta:
        verbose_name_plural = "currencies"
        ordering = ["network", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["network", "address"], name="currency_address_unique"),
            models.UniqueConstraint(fields=["network", "symbol"], name="currency_symbol_unique"),
            models.CheckConstraint(condition=Q(decimals__lte=36), name="currency_decimals_max"),
            models.CheckConstraint(
                condition=Q(eip3009=False)
                | (~Q(address="") & ~Q(eip712_name="") & ~Q(eip712_version="")),
                name="currency_eip3009_domain",
                violation_error_message="An EIP-3009 currency is an ERC-20 token with its "
                "EIP-712 domain name and version.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} on {self.network_id and self.network.name}"

    @property
    def is_native(self) -> bool:
        return not self.address

    @property
    def chain_address(self) -> str:
        """The address the contracts use: the zero address for the native coin."""
        return self.address or "0x" + "0" * 40


class LicenseTerms(models.Model):
    """One version of an organization's license terms; frozen once anyone holds a license
    under it (an edit then makes the next version)."""

    organization = models.ForeignKey(
        "portal.Organization", on_delete=models.PROTECT, related_name="license_terms"
    )
    lineage = models.UUIDField(
        default=uuid.uuid4, editable=False, help_text="Shared by every version of these terms."
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    name = models.CharField(max_length=120)
    commercial_use = models.BooleanField(default=False)
    commercial_attribution = models.BooleanField(
        default=False, help_text="Commercial use must credit the model's publisher."
    )
    commercial_revenue_share_bps = models.PositiveIntegerField(
        default=0, help_text="Share of revenue from commercial use owed back, in basis points."
    )
    derivatives_allowed = models.BooleanField(default=False)
    derivatives_attribution = models.BooleanField(default=False)
    derivatives_reciprocal = models.BooleanField(
        default=False, help_text="Derivatives must be licensed under these same terms."
    )
    territory = models.JSONField(
        default=list,
        blank=True,
        help_text="ISO 3166-1 alpha-2 country codes where use is allowed; empty = worldwide.",
    )
    expires_on = models.DateField(
        null=True, blank=True, help_text="Rights under these terms end on this date; empty = never."
    )
    seats = models.PositiveIntegerField(default=1, help_text="Wallets that may use one license.")
    usage_quota = models.PositiveBigIntegerField(
        default=0, help_text="Units of use allowed per period; 0 = unlimited."
    )
    usage_quota_period = models.CharField(
        max_length=8, choices=QuotaPeriod.choices, default=QuotaPeriod.MONTH
    )
    transferable = models.BooleanField(
        default=False, help_text="A holder may pass the license to another wallet."
    )
    legal_text = models.TextField(blank=True, help_text="Markdown. Rendered sanitized.")
    content_hash = models.CharField(
        max_length=66, editable=False, help_text="keccak-256 of the canonical JSON (on chain)."
    )
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "license terms"
        verbose_name_plural = "license terms"
        ordering = ["organization__name", "name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["lineage", "version"], name="terms_version_unique"),
            models.CheckConstraint(condition=Q(seats__gte=1), name="terms_seats_min"),
            models.CheckConstraint(
                condition=Q(commercial_revenue_share_bps__lte=BPS), name="terms_rev_share_max"
            ),
            models.CheckConstraint(
                condition=Q(commercial_use=True)
                | Q(commercial_attribution=False, commercial_revenue_share_bps=0),
                name="terms_commercial_needs_use",
            ),
            models.CheckConstraint(
                condition=Q(derivatives_allowed=True)
                | Q(derivatives_attribution=False, derivatives_reciprocal=False),
                name="terms_derivatives_need_allowed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class ModelTokenomics(models.Model):
    """A model's on-chain identity and split settings, shared by every network it is sold on."""

    model = models.OneToOneField(
        "models_hub.AIModel", on_delete=models.PROTECT, related_name="tokenomics"
    )
    chain_model_id = models.CharField(
        max_length=66, unique=True, editable=False, help_text="The model's bytes32 id on chain."
    )
    metadata_uri = models.CharField(max_length=500, blank=True)
    contributors_bps = models.PositiveIntegerField(
        default=0,
        help_text="Part of each payment shared by the contributors of the latest published "
        "version, in basis points.",
    )
    payees_bps = models.PositiveIntegerField(
        default=0, editable=False, help_text="Sum of the payees' basis points (kept by services)."
    )
    platform_fee_bps = models.PositiveIntegerField(
        default=0, editable=False, help_text="The most the platform may take, in basis points."
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "model tokenomics"
        verbose_name_plural = "model tokenomics"
        ordering = ["model__organization__name", "model__name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(platform_fee_bps__lte=BPS - F("payees_bps") - F("contributors_bps")),
                name="tokenomics_split_at_most_100pct",
            ),
        ]

    def __str__(self) -> str:
        return f"Tokenomics of {self.model}"


class Offer(models.Model):
    """How a model is sold on one network (configured here; ``ChainOffer`` is the chain's view)."""

    model = models.ForeignKey("models_hub.AIModel", on_delete=models.PROTECT, related_name="offers")
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    kind = models.PositiveSmallIntegerField(choices=OfferKind.choices)
    tier_name = models.CharField(max_length=80)
    token_id = models.DecimalField(editable=False, **WEI)
    price = models.DecimalField(
        default=0, help_text="In the currency's smallest unit (wei for ETH).", **WEI
    )
    currency = models.ForeignKey(
        Currency, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    duration = models.PositiveBigIntegerField(
        default=0, help_text="Seconds each unit bought lasts; 0 = perpetual."
    )
    max_supply = models.DecimalField(default=0, help_text="0 = unlimited.", **WEI)
    credits_per_unit = models.PositiveBigIntegerField(
        default=0, help_text="Credits in one pack (credits packs only)."
    )
    usage_unit = models.CharField(
        max_length=8, choices=UsageUnit.choices, blank=True, help_text="What one credit pays for."
    )
    terms = models.ForeignKey(
        LicenseTerms, null=True, blank=True, on_delete=models.PROTECT, related_name="offers"
    )
    transferable = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["model", "network", "kind", "tier_name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "token_id"], name="offer_token_unique"),
            models.UniqueConstraint(
                fields=["model", "network", "kind", "tier_name"], name="offer_tier_unique"
            ),
            models.UniqueConstraint(
                fields=["model", "network"],
                condition=Q(kind=OfferKind.SHARES),
                name="offer_one_share_class",
            ),
            models.CheckConstraint(condition=Q(kind__in=OfferKind.values), name="offer_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind=OfferKind.ACCESS_PASS) | Q(duration__gt=0),
                name="offer_pass_has_duration",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[OfferKind.CREDITS, OfferKind.SHARES]) | Q(duration=0),
                name="offer_untimed_kinds",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=PAID_KINDS)
                | Q(price__gt=0, currency__isnull=False, terms__isnull=False),
                name="offer_paid_has_price_currency_terms",
            ),
            models.CheckConstraint(
                condition=~Q(kind=OfferKind.SHARES) | Q(price=0, currency__isnull=True),
                name="offer_shares_unpriced",
            ),
            models.CheckConstraint(
                condition=~Q(kind=OfferKind.CREDITS)
                | (Q(credits_per_unit__gt=0, transferable=False) & ~Q(usage_unit="")),
                name="offer_credits_pack",
            ),
            models.CheckConstraint(
                condition=Q(kind=OfferKind.CREDITS) | Q(credits_per_unit=0, usage_unit=""),
                name="offer_credits_fields_only_on_packs",
            ),
            models.CheckConstraint(  # each credit is one token, sold at price / pack size
                condition=Q(credits_per_unit=0)
                | Q(Exact(F("price") % NullIf("credits_per_unit", Value(0)), Value(0))),
                name="offer_credits_price_divisible",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0, price__lt=UINT128), name="offer_price_uint128"
            ),
            models.CheckConstraint(
                condition=Q(max_supply__gte=0, max_supply__lt=UINT128),
                name="offer_max_supply_uint128",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} · {self.tier_name} ({self.get_kind_display()})"


class Payee(models.Model):
    """An account that receives a fixed share, in basis points, of every payment for a model."""

    model = models.ForeignKey("models_hub.AIModel", on_delete=models.PROTECT, related_name="payees")
    address = models.CharField(max_length=42, validators=[validate_eth_address])
    label = models.CharField(max_length=80)
    bps = models.PositiveIntegerField(help_text="Basis points: 100 = 1% of each payment.")
    history = HistoricalRecords()

    class Meta:
        ordering = ["model", "-bps", "address"]
        constraints = [
            models.UniqueConstraint(fields=["model", "address"], name="payee_unique"),
            models.CheckConstraint(condition=~Q(address=ZERO_ADDRESS), name="payee_not_zero"),
            models.CheckConstraint(condition=Q(bps__gte=1, bps__lte=BPS), name="payee_bps_range"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.bps / 100:g}%)"


class Contributor(models.Model):
    """A wallet credited on a model version: a role and a share of the contributors' part."""

    version = models.ForeignKey(
        "models_hub.ModelVersion", on_delete=models.PROTECT, related_name="contributors"
    )
    address = models.CharField(max_length=42, validators=[validate_eth_address])
    name = models.CharField(max_length=120, blank=True)
    role = models.CharField(max_length=12, choices=ContributorRole.choices)
    share_bps = models.PositiveIntegerField(
        help_text="Share of the contributors' part, in basis points (10000 = all of it)."
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["version", "-share_bps", "address"]
        constraints = [
            models.UniqueConstraint(fields=["version", "address"], name="contributor_unique"),
            models.CheckConstraint(condition=~Q(address=ZERO_ADDRESS), name="contributor_not_zero"),
            models.CheckConstraint(
                condition=Q(share_bps__gte=1, share_bps__lte=BPS), name="contributor_share_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.address} ({self.get_role_display()})"


class ShareAllocation(models.Model):
    """One line of a model's cap table: the ownership shares an address receives at the mint."""

    model = models.ForeignKey(
        "models_hub.AIModel", on_delete=models.PROTECT, related_name="share_allocations"
    )
    holder = models.CharField(max_length=42, validators=[validate_eth_address])
    label = models.CharField(max_length=80, blank=True)
    amount = models.DecimalField(**WEI)
    history = HistoricalRecords()

    class Meta:
        ordering = ["model", "-amount", "holder"]
        verbose_name = "cap table line"
        constraints = [
            models.UniqueConstraint(fields=["model", "holder"], name="share_allocation_unique"),
            models.CheckConstraint(
                condition=~Q(holder=ZERO_ADDRESS), name="share_allocation_not_zero"
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0, amount__lt=UINT128), name="share_allocation_amount"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or self.holder}: {self.amount} shares"


class PublishStep(models.Model):
    """One transaction of publishing a model to a network, followed until the sync sees it."""

    model = models.ForeignKey(
        "models_hub.AIModel", on_delete=models.PROTECT, related_name="publish_steps"
    )
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=PublishStepKind.choices)
    offer = models.ForeignKey(
        Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="publish_steps"
    )
    version = models.ForeignKey(
        "models_hub.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    payload = models.JSONField(default=dict, help_text="The state this step sets on chain.")
    transaction = models.ForeignKey(
        "chain.OutboundTransaction", on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["model", "network", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.model} on {self.network.name}"


class LicenseOperation(models.Model):
    """A grant, extension or revocation staff asked for, sent through the outbox."""

    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="operations")
    kind = models.CharField(max_length=8, choices=LicenseOperationKind.choices)
    holder = models.CharField(max_length=42, validators=[validate_eth_address])
    amount = models.PositiveBigIntegerField(default=1)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Grants and extensions of timed offers: until when."
    )
    reason = models.CharField(max_length=24, choices=RevocationReason.choices, blank=True)
    note = models.CharField(max_length=280, blank=True)
    transaction = models.ForeignKey(
        "chain.OutboundTransaction", null=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind=LicenseOperationKind.REVOKE) | ~Q(reason=""),
                name="license_operation_revoke_reason",
            ),
            models.CheckConstraint(condition=Q(amount__gte=1), name="license_operation_amount"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.offer} for {self.holder}"
