"""Usage receipts (one per metered use) and the settlement periods that close them into a
Merkle tree whose root the meter burns credits with (``licensing.services.settlement``)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

from chain.models import WEI
from licensing.choices import ReceiptKind, SettlementStatus
from portal.validators import validate_eth_address

HASH = {"max_length": 66}


def new_receipt_id() -> str:
    """A random bytes32, as 0x and 64 lower-case hex digits."""
    return "0x" + secrets.token_hex(32)


class SettlementPeriod(models.Model):
    """One closing of a network's unsettled receipts: their tree's root and what it burned."""

    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(default=timezone.now, editable=False)
    until = models.DateTimeField(help_text="Receipts made up to this moment are in the period.")
    root = models.CharField(**HASH, help_text="The Merkle root of the period's receipts.")
    tree = models.JSONField(help_text="The tree's dump (OpenZeppelin's standard-v1 format).")
    receipts_count = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=SettlementStatus.choices, default=SettlementStatus.QUEUED
    )

    class Meta:
        ordering = ["-closed_at"]
        constraints = [
            models.UniqueConstraint(fields=["network", "root"], name="settlement_period_root"),
            models.CheckConstraint(
                condition=models.Q(receipts_count__gte=1), name="settlement_period_not_empty"
            ),
        ]
        indexes = [models.Index(fields=["network", "status"])]

    def __str__(self) -> str:
        return (
            f"{self.receipts_count} receipts on {self.network_id} up to {self.until:%Y-%m-%d %H:%M}"
        )


class Settlement(models.Model):
    """One burn of a period: a holder's credits of one offer, and the outbox call that burns
    them (``burnCredits(holder, tokenId, units, root)``)."""

    period = models.ForeignKey(
        SettlementPeriod, on_delete=models.CASCADE, related_name="settlements"
    )
    holder = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    units = models.DecimalField(**WEI)
    transaction = models.ForeignKey(
        "chain.OutboundTransaction", on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["period", "holder", "token_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["period", "holder", "token_id"], name="settlement_per_holder_offer"
            )
        ]

    def __str__(self) -> str:
        return f"burn {self.units} of {self.token_id} from {self.holder}"


class UsageReceipt(models.Model):
    """One metered use of a model: who (wallet and caller), which offer, how many units, when,
    and a hash of the input; its period and leaf once a settlement closed it."""

    receipt_id = models.CharField(**HASH, unique=True, default=new_receipt_id, editable=False)
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    holder = models.CharField(max_length=42, validators=[validate_eth_address])
    token_id = models.DecimalField(**WEI)
    offer_kind = models.PositiveSmallIntegerField(
        choices=ReceiptKind.choices,
        help_text="The offer's kind when used (only credits burn), or a call an agent paid for.",
    )
    units = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    input_hash = models.CharField(**HASH, help_text="sha256 of the canonical request body.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "portal.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    period = models.ForeignKey(
        SettlementPeriod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="receipts",
    )
    leaf_index = models.PositiveIntegerField(
        null=True, blank=True, help_text="The receipt's place among its period's tree values."
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(units__gte=1), name="usage_receipt_units"),
            models.CheckConstraint(
                condition=models.Q(period__isnull=True, leaf_index__isnull=True)
                | models.Q(period__isnull=False, leaf_index__isnull=False),
                name="usage_receipt_leaf_with_period",
            ),
        ]
        indexes = [
            # the unsettled receipts of a network, oldest first (``period_close``)
            models.Index(
                fields=["network", "created_at"],
                condition=models.Q(period__isnull=True),
                name="usage_receipt_unsettled",
            ),
            models.Index(fields=["user", "created_at"]),
            # a license's use in this period (``entitlement.quota_left``)
            models.Index(
                fields=["network", "token_id", "holder", "created_at"],
                name="usage_receipt_by_license",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.units} units of {self.token_id} by {self.holder}"

    @property
    def timestamp(self) -> int:
        """The leaf's time: whole seconds since the epoch."""
        return int(self.created_at.timestamp())

    def leaf(self) -> list:
        """The receipt as its Merkle leaf's values (``licensing.services.settlement.LEAF``)."""
        return [
            self.receipt_id,
            self.holder,
            int(self.token_id),
            int(self.units),
            self.timestamp,
            self.input_hash,
        ]
