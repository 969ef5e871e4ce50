"""Licensing state as the chain has it, projected from indexed events (``chain.IndexedEvent``).

Rows that record one event point at it with ``on_delete=CASCADE``, so a reorg that deletes the
event deletes them; the current-state tables (offers, licenses, holdings) are recomputed from
the remaining events for every key a rollback touched (``licensing.projections``).
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from chain.choices import OfferKind
from licensing.choices import LedgerKind, LicenseChangeKind, MismatchKind

WEI = {"max_digits": 78, "decimal_places": 0}
EVENT = "chain.IndexedEvent"
NETWORK = "chain.Network"
# A ledger table's network needs no index of its own: its composite index leads with it.
LEDGER_NETWORK = {"on_delete": models.CASCADE, "related_name": "+", "db_index": False}


def _listing():
    """The configured model a row's ``model_id`` names (a join on the bytes32 id, no column):
    ``listing__model__organization`` is the organization that owns the row."""
    return models.ForeignObject(
        "licensing.ModelTokenomics",
        from_fields=["model_id"],
        to_fields=["chain_model_id"],
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
    )


def _offer(related_name: str = "+"):
    """The configured offer of a row's (network, token id) (a join, no column)."""
    return models.ForeignObject(
        "licensing.Offer",
        from_fields=["network", "token_id"],
        to_fields=["network", "token_id"],
        on_delete=models.DO_NOTHING,
        null=True,
        related_name=related_name,
    )


class ChainModel(models.Model):
    """A model registered in the on-chain ModelRegistry."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    model_id = models.CharField(max_length=66)
    publisher = models.CharField(max_length=42)
    metadata_uri = models.CharField(max_length=500, blank=True)
    listing = _listing()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "model_id"], name="chain_model_unique")
        ]

    def __str__(self) -> str:
        return f"{self.model_id[:12]}… by {self.publisher}"


class PublishedVersion(models.Model):
    """A version's artifact hash published on chain, matched to the registry's version."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    model_id = models.CharField(max_length=66)
    version = models.PositiveBigIntegerField()
    artifact_sha256 = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)
    listing = _listing()
    model_version = models.ForeignKey(
        "models_hub.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="publications",
    )

    def __str__(self) -> str:
        return f"{self.model_id[:12]}… v{self.version} ({self.artifact_sha256[:12]}…)"


class ChainOffer(models.Model):
    """An offer (one ERC-1155 token id) as its latest OfferConfigured event describes it."""

    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    model_id = models.CharField(max_length=66)
    kind = models.PositiveSmallIntegerField(choices=OfferKind.choices)
    price = models.DecimalField(**WEI)
    currency = models.CharField(max_length=42)
    duration = models.PositiveBigIntegerField()
    max_supply = models.DecimalField(**WEI)
    transferable = models.BooleanField()
    terms_hash = models.CharField(max_length=66)
    active = models.BooleanField()
    block_number = models.PositiveBigIntegerField()
    listing = _listing()
    offer = _offer(related_name="chain_offers")

    class Meta:
        ordering = ["network", "token_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "token_address", "token_id"], name="chain_offer_unique"
            )
        ]

    def __str__(self) -> str:
        return f"offer {self.token_id} ({self.get_kind_display()})"


class Holding(models.Model):
    """How many of one token id an address holds (from ERC-1155 transfers, mints and burns)."""

    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    holder = models.CharField(max_length=42)
    balance = models.DecimalField(**WEI)
    offer = _offer()

    class Meta:
        ordering = ["network", "token_id", "holder"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "token_address", "token_id", "holder"], name="holding_unique"
            ),
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="holding_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.holder} holds {self.balance} of {self.token_id}"


class HoldingChange(models.Model):
    """One address's side of one ERC-1155 transfer (a mint or burn has one side)."""

    event = models.ForeignKey(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    holder = models.CharField(max_length=42)
    delta = models.DecimalField(**WEI)
    offer = _offer()

    class Meta:
        indexes = [models.Index(fields=["network", "token_address", "token_id", "holder"])]

    def __str__(self) -> str:
        return f"{self.holder} {self.delta:+} of {self.token_id}"


class License(models.Model):
    """A holder's right under one timed or perpetual offer: its expiry as the chain has it."""

    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    holder = models.CharField(max_length=42)
    expires_at = models.PositiveBigIntegerField(help_text="Unix time; 0 = perpetual.")
    terms_hash = models.CharField(max_length=66, blank=True)
    revoked = models.BooleanField(default=False)
    block_number = models.PositiveBigIntegerField()
    offer = _offer()

    class Meta:
        ordering = ["network", "token_id", "holder"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "token_address", "token_id", "holder"], name="license_unique"
            )
        ]
        indexes = [
            # the dashboard's active licenses per offer (an offer is a network and token id)
            models.Index(
                fields=["network", "token_id", "expires_at"],
                condition=models.Q(revoked=False),
                name="license_unrevoked_by_offer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.holder} on offer {self.token_id}"

    def is_valid(self, now: int | None = None) -> bool:
        now = int(timezone.now().timestamp()) if now is None else now
        return not self.revoked and (self.expires_at == 0 or self.expires_at > now)


class LicenseChange(models.Model):
    """One event that set a holder's expiry (purchase, grant, extension, revocation, transfer)."""

    event = models.ForeignKey(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    holder = models.CharField(max_length=42)
    kind = models.CharField(max_length=10, choices=LicenseChangeKind.choices)
    expires_at = models.PositiveBigIntegerField()
    terms_hash = models.CharField(max_length=66, blank=True)
    amount = models.DecimalField(default=0, **WEI)
    paid = models.DecimalField(default=0, **WEI)
    currency = models.CharField(max_length=42, blank=True)
    reason = models.CharField(max_length=66, blank=True)
    offer = _offer()

    class Meta:
        indexes = [models.Index(fields=["network", "token_address", "token_id", "holder"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.token_id} for {self.holder}"


class CreditEntry(models.Model):
    """A usage-credit ledger line: bought or granted (+), burned by the meter (-)."""

    event = models.ForeignKey(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)
    token_id = models.DecimalField(**WEI)
    holder = models.CharField(max_length=42)
    delta = models.DecimalField(max_digits=79, decimal_places=0)
    receipt_root = models.CharField(max_length=66, blank=True)
    offer = _offer()

    class Meta:
        verbose_name_plural = "credit entries"
        indexes = [
            models.Index(fields=["network", "holder", "token_id"]),
            # an offer's credits (the dashboard's totals, recomputed after a rollback)
            models.Index(fields=["network", "token_id", "delta"], name="credit_entry_by_offer"),
        ]

    def __str__(self) -> str:
        return f"{self.holder} {self.delta:+} credits of {self.token_id}"


class Payment(models.Model):
    """One payment the vault split (PaymentSplit)."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)  # read with its model: no own index
    model_id = models.CharField(max_length=66)
    currency = models.CharField(max_length=42)
    amount = models.DecimalField(**WEI)
    fee = models.DecimalField(**WEI)
    to_payees = models.DecimalField(**WEI)
    to_holders = models.DecimalField(**WEI)
    residual_to = models.CharField(max_length=42, blank=True)
    to_residual = models.DecimalField(**WEI)
    paid_at = models.DateTimeField(null=True, blank=True, help_text="The block's time.")
    listing = _listing()

    class Meta:
        indexes = [models.Index(fields=["model_id", "currency", "paid_at"])]

    def __str__(self) -> str:
        return f"{self.amount} of {self.currency} for {self.model_id[:12]}…"


class Sale(models.Model):
    """One purchase as the token contract recorded it: who bought what, and what they paid."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)
    token_address = models.CharField(max_length=42)
    token_id = models.DecimalField(**WEI)
    model_id = models.CharField(max_length=66)
    buyer = models.CharField(max_length=42)
    amount = models.DecimalField(**WEI)
    paid = models.DecimalField(**WEI)
    currency = models.CharField(max_length=42)
    sold_at = models.DateTimeField(null=True, blank=True, help_text="The block's time.")
    listing = _listing()
    offer = _offer()

    class Meta:
        indexes = [
            models.Index(fields=["network", "model_id", "sold_at"]),
            models.Index(fields=["model_id", "buyer"]),
        ]

    def __str__(self) -> str:
        return f"{self.buyer} bought {self.amount} of {self.token_id}"


class AgentPayment(models.Model):
    """One call an agent paid for over HTTP 402 (x402), as PayPerCall's AgentPaid recorded it:
    settled from its EIP-3009 authorization, or recovered after somebody front-ran it."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)
    model_id = models.CharField(max_length=66)
    currency = models.CharField(max_length=42, help_text="The EIP-3009 token paid in.")
    payer = models.CharField(max_length=42, help_text="The agent's wallet (EOA or contract).")
    amount = models.DecimalField(**WEI)
    nonce = models.CharField(max_length=66, help_text="The authorization's EIP-3009 nonce.")
    receipt_id = models.CharField(max_length=66, help_text="The paid call's usage receipt.")
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    block_number = models.PositiveBigIntegerField()
    paid_at = models.DateTimeField(null=True, blank=True, help_text="The block's time.")
    listing = _listing()

    class Meta:
        constraints = [
            # the contract pays each authorization out once: so does the projection
            models.UniqueConstraint(
                fields=["network", "currency", "payer", "nonce"], name="agent_payment_once"
            )
        ]
        indexes = [
            models.Index(fields=["network", "receipt_id"], name="agent_payment_by_receipt"),
            models.Index(fields=["model_id", "currency", "paid_at"], name="agent_payment_by_model"),
        ]

    def __str__(self) -> str:
        return f"{self.payer} paid {self.amount} of {self.currency} for {self.model_id[:12]}…"


class VaultEntry(models.Model):
    """A move of an account's withdrawable vault balance (credited, claimed, withdrawn)."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, **LEDGER_NETWORK)
    account = models.CharField(max_length=42)
    currency = models.CharField(max_length=42)
    model_id = models.CharField(max_length=66, blank=True)
    kind = models.CharField(max_length=10, choices=LedgerKind.choices)
    amount = models.DecimalField(**WEI)
    listing = _listing()

    class Meta:
        verbose_name_plural = "vault entries"
        indexes = [models.Index(fields=["network", "account", "currency"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} for {self.account}"


class Mismatch(models.Model):
    """A projection that disagrees with the chain's own view (found by reconciliation)."""

    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=MismatchKind.choices)
    key = models.CharField(max_length=200)
    projected = models.CharField(max_length=80)
    on_chain = models.CharField(max_length=80)
    block_number = models.PositiveBigIntegerField()
    detected_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-detected_at"]
        verbose_name_plural = "mismatches"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key}: {self.projected} != {self.on_chain}"


class ChainPayees(models.Model):
    """A model's payee list as one PayeesConfigured event set it in the vault (the latest row
    per network and model is the current list; a reorg deletes rows with their events)."""

    event = models.OneToOneField(EVENT, on_delete=models.CASCADE, related_name="+")
    network = models.ForeignKey(NETWORK, on_delete=models.CASCADE, related_name="+")
    model_id = models.CharField(max_length=66)
    accounts = models.JSONField(default=list)
    bps = models.JSONField(default=list)
    block_number = models.PositiveBigIntegerField()
    log_index = models.PositiveIntegerField()
    listing = _listing()

    class Meta:
        verbose_name_plural = "chain payees"
        indexes = [models.Index(fields=["network", "model_id", "block_number", "log_index"])]

    def __str__(self) -> str:
        return f"{len(self.accounts)} payee(s) of {self.model_id[:12]}…"

    def pairs(self) -> list[tuple[str, int]]:
        """``(account, bps)`` sorted by account, as ``onchain_payees`` lists them."""
        return sorted(zip(self.accounts, (int(b) for b in self.bps), strict=True))
