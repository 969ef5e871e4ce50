"""The off-chain credit ledger: accounts per (network, offer, holder), their append-only entries,
reservations held while a request runs, and the idempotency keys of requests that charge.

The invariant, per account (``licensing.services.credits`` keeps it; docs/ARCHITECTURE.md):
``on-chain balance = available + reserved + unsettled - deficit``.

Units are whole credits in a ``BigIntegerField`` (exact on SQLite and PostgreSQL up to 2^63 - 1
per account; the chain's uint256 is wider, a pack that large is refused by the sync's crediting).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from chain.models import WEI
from licensing.choices import CreditLedgerKind, CreditReservationStatus, IdempotentRequestStatus
from portal.validators import validate_eth_address

CHAIN_KINDS = [CreditLedgerKind.PURCHASE, CreditLedgerKind.SETTLE]


class CreditAccount(models.Model):
    """One holder's usage credits of one credits offer on one network, as the portal spends them."""

    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    token_id = models.DecimalField(**WEI)
    holder = models.CharField(max_length=42, validators=[validate_eth_address])  # EIP-55
    available = models.BigIntegerField(default=0, help_text="Credits free to reserve.")
    reserved = models.BigIntegerField(default=0, help_text="Held by open reservations.")
    unsettled = models.BigIntegerField(
        default=0, help_text="Consumed off chain, not yet burned on chain by a settlement."
    )
    deficit = models.BigIntegerField(
        default=0,
        help_text="Taken back by the chain (a reorg, a burn beyond what was consumed) past what "
        "was available; later purchases repay it first.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["network", "token_id", "holder"], name="credit_account_unique"
            ),
            models.CheckConstraint(
                condition=Q(available__gte=0), name="credit_account_available_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0), name="credit_account_reserved_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(unsettled__gte=0), name="credit_account_unsettled_gte_0"
            ),
            models.CheckConstraint(
                condition=Q(deficit__gte=0), name="credit_account_deficit_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.holder}: {self.available} credits of {self.token_id}"

    @property
    def on_chain(self) -> int:
        """What the chain's ledger says the holder has (the invariant's left side)."""
        return self.available + self.reserved + self.unsettled - self.deficit


class CreditReservation(models.Model):
    """Credits held for one request while it runs: consumed (the rest released) or released."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="+")
    units = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=CreditReservationStatus, default=CreditReservationStatus.OPEN
    )
    consumed = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="credit_reservation_units_gt_0"),
            models.CheckConstraint(
                condition=Q(consumed__gte=0, consumed__lte=models.F("units")),
                name="credit_reservation_consumed_within_units",
            ),
        ]
        indexes = [
            # the sweep: open reservations past their expiry
            models.Index(
                fields=["expires_at"],
                condition=Q(status=CreditReservationStatus.OPEN),
                name="credit_reservation_open",
            )
        ]

    def __str__(self) -> str:
        return f"reservation {self.pk}: {self.units} credits ({self.status})"

    @property
    def reference(self) -> str:
        return f"reservation:{self.pk}"


class CreditLedgerEntry(models.Model):
    """One append-only move of an account's credits (never updated, never deleted).

    ``units`` is signed as the kind moves credits: + into the holder's usable credits (purchase,
    release), - out of them (reserve, consume, settle); a reversal has the opposite sign of the
    line it reverses. ``reference`` says why: ``event:<pk>`` for lines from chain (their
    ``IndexedEvent``, also in ``chain_event_id``: no foreign key, since a reorg deletes events
    and this line must stay), ``reservation:<pk>`` for the rest, ``reversal:<pk>`` of the line
    a reversal undoes."""

    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=CreditLedgerKind)
    units = models.BigIntegerField()
    reference = models.CharField(max_length=100)
    chain_event_id = models.BigIntegerField(null=True, blank=True)
    reservation = models.ForeignKey(
        CreditReservation, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "credit ledger entries"
        constraints = [
            # a retry (a sync run again, a consume sent twice) must not write twice
            models.UniqueConstraint(
                fields=["account", "kind", "reference"], name="credit_ledger_entry_once"
            ),
            models.UniqueConstraint(
                fields=["chain_event_id"],
                condition=Q(kind__in=CHAIN_KINDS),
                name="credit_ledger_chain_event_once",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=[CreditLedgerKind.PURCHASE, CreditLedgerKind.RELEASE], units__gt=0)
                    | Q(
                        kind__in=[
                            CreditLedgerKind.RESERVE,
                            CreditLedgerKind.CONSUME,
                            CreditLedgerKind.SETTLE,
                        ],
                        units__lt=0,
                    )
                    | (Q(kind=CreditLedgerKind.REVERSAL) & ~Q(units=0))
                ),
                name="credit_ledger_entry_signed",
            ),
        ]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.units:+} ({self.reference})"


class IdempotentRequest(models.Model):
    """A request made with an ``Idempotency-Key``: its fingerprint and, once answered, the answer
    a retry gets back (``licensing.idempotency``)."""

    caller = models.CharField(max_length=100, help_text="Whose key: user:<pk> or org:<pk>.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and body.")
    status = models.CharField(
        max_length=10, choices=IdempotentRequestStatus, default=IdempotentRequestStatus.RUNNING
    )
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["caller", "key"], name="idempotent_request_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotent_request_age")]

    def __str__(self) -> str:
        return f"{self.caller} {self.key[:40]} ({self.status})"
