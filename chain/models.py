from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from chain.choices import TxStatus

validate_address = RegexValidator(r"^0x[0-9a-fA-F]{40}$", "Enter a 0x-prefixed 20-byte address.")
validate_hex = RegexValidator(r"^0x([0-9a-fA-F]{2})*$", "Enter 0x-prefixed hex bytes.")
WEI = {"max_digits": 78, "decimal_places": 0}  # uint256 fits in 78 decimal digits


class Network(models.Model):
    """An EVM chain the portal talks to; its RPC URL comes from settings, never the database."""

    name = models.SlugField(max_length=40, unique=True)
    chain_id = models.PositiveBigIntegerField(unique=True)
    confirmation_depth = models.PositiveIntegerField(
        default=12, help_text="Blocks behind the head before an event is final."
    )
    explorer_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.chain_id})"

    @property
    def rpc_url(self) -> str | None:
        return settings.CHAIN_RPC_URLS.get(self.name)


class Deployment(models.Model):
    """One of our contracts deployed on a network."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="deployments")
    contract_name = models.CharField(max_length=64)
    address = models.CharField(max_length=42, validators=[validate_address])
    deploy_block = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66, blank=True)
    code_hash = models.CharField(max_length=66, help_text="keccak256 of the runtime code.")
    sources_sha256 = models.CharField(max_length=64, blank=True)
    deployed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["network", "contract_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["network", "contract_name"], name="deployment_contract_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_name} on {self.network.name} at {self.address}"


class SenderState(models.Model):
    """Local nonce tracking and the lease that lets one sender per (network, address) run."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="senders")
    address = models.CharField(max_length=42, validators=[validate_address])
    next_nonce = models.PositiveBigIntegerField(null=True, blank=True)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "address"], name="sender_unique")]

    def __str__(self) -> str:
        return f"{self.address} on {self.network.name}"


class OutboundTransaction(models.Model):
    """A transaction the portal sends: queued once per idempotency key, tracked to its end."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="transactions")
    idempotency_key = models.CharField(max_length=200, unique=True)
    sender = models.CharField(max_length=42, validators=[validate_address])
    to = models.CharField(
        max_length=42, blank=True, validators=[validate_address], help_text="Empty: a deployment."
    )
    contract_name = models.CharField(max_length=64, blank=True)
    function = models.CharField(max_length=200, blank=True, help_text="Or the constructor.")
    args = models.JSONField(default=list, blank=True)
    data = models.TextField(validators=[validate_hex])
    value = models.DecimalField(default=0, validators=[MinValueValidator(0)], **WEI)
    status = models.CharField(max_length=12, choices=TxStatus.choices, default=TxStatus.PENDING)
    nonce = models.PositiveBigIntegerField(null=True, blank=True)
    tx_hash = models.CharField(max_length=66, blank=True, db_index=True)
    replaced_hashes = models.JSONField(default=list, blank=True)
    gas_limit = models.PositiveBigIntegerField(null=True, blank=True)
    max_fee_per_gas = models.DecimalField(null=True, blank=True, **WEI)
    max_priority_fee_per_gas = models.DecimalField(null=True, blank=True, **WEI)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    revert_reason = models.TextField(blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    contract_address = models.CharField(max_length=42, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["network", "sender", "status", "id"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TxStatus.values), name="outbound_status_valid"
            )
        ]

    def __str__(self) -> str:
        target = f"{self.contract_name}.{self.function}" if self.function else self.to
        return f"#{self.pk} {target} [{self.status}]"

    @property
    def all_hashes(self) -> list[str]:
        return [*self.replaced_hashes, self.tx_hash] if self.tx_hash else list(self.replaced_hashes)


class IndexedEvent(models.Model):
    """One decoded log of one of our contracts; unique on (chain id, tx hash, log index)."""

    # no index of its own: the (network, block number, log index) index leads with it
    network = models.ForeignKey(
        Network, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    chain_id = models.PositiveBigIntegerField()
    contract_name = models.CharField(max_length=64)
    address = models.CharField(max_length=42)
    name = models.CharField(max_length=64)
    args = models.JSONField()
    block_number = models.PositiveBigIntegerField()
    block_hash = models.CharField(max_length=66)
    tx_hash = models.CharField(max_length=66)
    log_index = models.PositiveIntegerField()
    final = models.BooleanField(default=False)
    block_time = models.DateTimeField(
        null=True, blank=True, help_text="The block's timestamp (empty for rows indexed before)."
    )
    indexed_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["block_number", "log_index"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "tx_hash", "log_index"], name="indexed_event_unique"
            )
        ]
        indexes = [
            models.Index(fields=["network", "block_number", "log_index"]),
            # only the unfinalized window: a backfill's final rows add nothing to it
            models.Index(
                fields=["network", "block_number"],
                condition=models.Q(final=False),
                name="indexed_event_unfinal",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_name}.{self.name} @{self.block_number}/{self.log_index}"


class SyncCursor(models.Model):
    """How far one contract's events on one network are indexed (moves with the rows)."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="cursors")
    contract_name = models.CharField(max_length=64)
    address = models.CharField(max_length=42)
    last_block = models.BigIntegerField(help_text="Every log up to this block is indexed.")
    head_seen = models.PositiveBigIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["network", "contract_name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "contract_name"], name="cursor_unique")
        ]

    def __str__(self) -> str:
        return f"{self.contract_name} on {self.network.name} at {self.last_block}"

    @property
    def lag(self) -> int:
        return max(self.head_seen - self.last_block, 0)


class BlockRecord(models.Model):
    """The hash of an indexed block inside the unfinalized window, to notice reorgs."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="blocks")
    number = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=66)

    class Meta:
        ordering = ["network", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["network", "number"], name="block_record_unique")
        ]

    def __str__(self) -> str:
        return f"{self.network.name} #{self.number} {self.hash[:10]}…"


class Reorg(models.Model):
    """A reorganization the sync noticed, and what it rolled back."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="reorgs")
    fork_block = models.PositiveBigIntegerField(
        help_text="The first block rolled back (the blocks under it did not change)."
    )
    changed_block = models.PositiveBigIntegerField(
        help_text="The lowest kept block whose hash changed: the fork is at or under it."
    )
    depth = models.PositiveIntegerField(help_text="Blocks from the fork block to the highest kept.")
    old_hash = models.CharField(max_length=66, blank=True, help_text="The changed block's, kept.")
    new_hash = models.CharField(max_length=66, blank=True, help_text="The changed block's, now.")
    events_removed = models.PositiveIntegerField(default=0)
    detected_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-detected_at"]

    def __str__(self) -> str:
        return f"reorg on {self.network.name} from #{self.fork_block} (depth {self.depth})"
