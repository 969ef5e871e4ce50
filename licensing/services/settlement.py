"""Settling usage: closing a network's unsettled receipts into a period, whose Merkle root
(OpenZeppelin's ``StandardMerkleTree``, ``licensing.merkle``) the meter burns the period's
credits with, one ``burnCredits(holder, tokenId, units, root)`` per holder and credits offer,
through the outbox. See docs/ARCHITECTURE.md, "Usage receipts and settlement"."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from chain.choices import OfferKind, TxStatus
from chain.models import Network
from chain.services import enqueue_call
from licensing.choices import SettlementStatus
from licensing.merkle import StandardMerkleTree
from licensing.models import CreditEntry, Settlement, SettlementPeriod, UsageReceipt

# A receipt's leaf: (receipt id, holder, offer id, units, unix seconds, sha256 of the input).
LEAF = ("bytes32", "address", "uint256", "uint256", "uint64", "bytes32")
LEAF_NAMES = ("receiptId", "holder", "tokenId", "units", "timestamp", "inputHash")
TOKEN_CONTRACT = "LicenseToken"  # noqa: S105 - a contract name, not a secret


def receipts_tree(receipts: list[UsageReceipt]) -> StandardMerkleTree:
    """The tree of ``receipts``' leaves, in the order given (their ``leaf_index``)."""
    return StandardMerkleTree.of([receipt.leaf() for receipt in receipts], LEAF)


def _burns(receipts: list[UsageReceipt]) -> dict[tuple[str, int], int]:
    """Units to burn per (holder, credits offer): only receipts of credits offers burn."""
    totals: dict[tuple[str, int], int] = defaultdict(int)
    for receipt in receipts:
        if receipt.offer_kind == OfferKind.CREDITS:
            totals[(receipt.holder, int(receipt.token_id))] += receipt.units
    return dict(sorted(totals.items()))


@transaction.atomic
def period_close(*, network: Network, until: datetime | None = None) -> SettlementPeriod | None:
    """Close ``network``'s unsettled receipts made up to ``until`` (now) into one period: their
    tree, and one ``burnCredits`` per (holder, credits offer) queued in the outbox. ``None``
    when there is nothing to close. The receipts are locked and claimed in this transaction,
    so each receipt is in one period only and a retry closes nothing more."""
    until = until or timezone.now()
    receipts = list(
        UsageReceipt.objects.select_for_update()
        .filter(network=network, period__isnull=True, created_at__lte=until)
        .order_by("created_at", "id")
    )
    if not receipts:
        return None
    tree = receipts_tree(receipts)
    burns = _burns(receipts)
    period = SettlementPeriod(
        network=network,
        until=until,
        root=tree.root,
        tree=tree.dump(),
        receipts_count=len(receipts),
        status=SettlementStatus.QUEUED if burns else SettlementStatus.RECORDED,
    )
    period.full_clean()
    period.save()
    for index, receipt in enumerate(receipts):
        receipt.period, receipt.leaf_index = period, index
    UsageReceipt.objects.bulk_update(receipts, ["period", "leaf_index"])
    for (holder, token_id), units in burns.items():
        row = enqueue_call(
            network=network,
            contract_name=TOKEN_CONTRACT,
            function="burnCredits",
            args=[holder, token_id, units, bytes.fromhex(tree.root[2:])],
            idempotency_key=f"settle:{network.pk}:{tree.root}:{holder}:{token_id}",
        )
        settlement = Settlement(
            period=period, holder=holder, token_id=token_id, units=units, transaction=row
        )
        settlement.full_clean()
        settlement.save()
    return period


def burn_seen(*, network_id: int, settlement: Settlement, root: str) -> bool:
    """Whether the sync projected this settlement's burn: a CreditsBurned of its holder, offer
    and units with the period's root."""
    return CreditEntry.objects.filter(
        network_id=network_id,
        holder=settlement.holder,
        token_id=settlement.token_id,
        delta=-settlement.units,
        receipt_root=root.lower(),
    ).exists()


@transaction.atomic
def period_status_refresh(*, period: SettlementPeriod) -> str:
    """Move a queued period to settled (every burn confirmed and seen by the sync) or failed
    (a burn failed or reverted); back to queued when a failed burn is retried."""
    if period.status == SettlementStatus.RECORDED:
        return period.status
    settlements = list(period.settlements.select_related("transaction"))
    statuses = {settlement.transaction.status for settlement in settlements}
    if statuses & {TxStatus.FAILED, TxStatus.REVERTED}:
        status = SettlementStatus.FAILED
    elif statuses == {TxStatus.CONFIRMED} and all(
        burn_seen(network_id=period.network_id, settlement=s, root=period.root) for s in settlements
    ):
        status = SettlementStatus.SETTLED
    else:
        status = SettlementStatus.QUEUED
    if status != period.status:
        SettlementPeriod.objects.filter(pk=period.pk).update(status=status)
        period.status = status
    return status


def settle_network(*, network: Network, until: datetime | None = None) -> dict:
    """What beat and ``settle_usage`` run: refresh the open periods' statuses, then close a new
    period. Returns what it did (for the command to print)."""
    refreshed = {}
    open_periods = SettlementPeriod.objects.filter(
        network=network, status__in=[SettlementStatus.QUEUED, SettlementStatus.FAILED]
    )
    for period in open_periods:
        refreshed[period.pk] = period_status_refresh(period=period)
    period = period_close(network=network, until=until)
    return {"refreshed": refreshed, "period": period}
