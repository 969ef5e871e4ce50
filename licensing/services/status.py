"""Where a transaction staff queued stands, as the admin shows it (publishing steps and license
operations share it): queued, sent, mined, confirmed by the sync, or failed with a reason a
person can read."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from chain.choices import TxStatus
from chain.models import IndexedEvent, Network, OutboundTransaction
from licensing.choices import PublishStepStatus
from licensing.reasons import CurrencyLike, explain_reason

INDEXED = "tx_indexed"  # the annotation ``with_indexed`` adds

_OPEN = {TxStatus.PENDING: PublishStepStatus.QUEUED, TxStatus.SUBMITTED: PublishStepStatus.SENT}


def indexed(transaction: OutboundTransaction, network: Network) -> bool:
    """Whether the sync indexed an event of the transaction's (mined) hash on ``network``."""
    if not transaction.tx_hash:
        return False
    events = IndexedEvent.objects.filter(chain_id=network.chain_id, tx_hash=transaction.tx_hash)
    return events.exists()


def with_indexed(queryset: QuerySet, transaction_field: str = "transaction") -> QuerySet:
    """``queryset`` annotated with ``tx_indexed`` (for ``tx_status`` over a list, one query)."""
    events = IndexedEvent.objects.filter(
        chain_id=OuterRef(f"{transaction_field}__network__chain_id"),
        tx_hash=OuterRef(f"{transaction_field}__tx_hash"),
    )
    return queryset.annotate(**{INDEXED: Exists(events)})


def tx_status(
    transaction: OutboundTransaction | None,
    network: Network,
    *,
    is_indexed: bool | None = None,
    currency: CurrencyLike | None = None,
) -> tuple[str, str]:
    """``(PublishStepStatus, reason)``: the reason is empty unless the transaction failed.

    ``is_indexed`` saves the query when the caller annotated it (``with_indexed``);
    ``currency`` shows amounts in a failure's reason in whole units.
    """
    if transaction is None:
        return PublishStepStatus.QUEUED, ""
    if transaction.status in _OPEN:
        return _OPEN[transaction.status], ""
    if transaction.status == TxStatus.CONFIRMED:
        if is_indexed is None:
            is_indexed = indexed(transaction, network)
        return (PublishStepStatus.CONFIRMED if is_indexed else PublishStepStatus.MINED), ""
    reason = explain_reason(transaction.revert_reason, currency=currency)
    if not reason:
        reason = transaction.last_error or "The transaction failed."
        if transaction.status == TxStatus.FAILED:
            reason = f"It could not be sent: {reason}"
    return PublishStepStatus.FAILED, reason
