"""The credit ledger: credits bought on chain, spent off chain, settled on chain again.

Per account (network, credits offer's token id, holder) the invariant is

    on-chain balance = available + reserved + unsettled - deficit

where the on-chain balance is the sum of the account's ``CreditEntry`` deltas (bought or
granted +, burned by the meter -). A purchase seen by the sync adds to ``available``; a request
*reserves* (available -> reserved), then *consumes* what it used (reserved -> unsettled, the rest
released back to available) or *releases* it all; a settlement's burn on chain, seen by the sync,
is a *settle* line that comes out of ``unsettled``, so consumed credits are not taken twice.
What the chain takes beyond that (a reorg that removed a purchase already spent, a burn beyond
what was consumed) comes out of ``available`` and, past it, is recorded as ``deficit``, which
later purchases repay first: the balance never goes negative and the equation always holds.
A reorg never deletes a line: each chain line whose ``CreditEntry`` went gets a *reversal*.

Concurrency (the balance never goes negative, whatever runs at once): every write locks the
account row first. PostgreSQL: ``select_for_update`` (several accounts in pk order, after
``get_or_create``); reservations are locked after their account, never before. SQLite: row
locks do not exist (``select_for_update`` is a no-op), but ``portal.settings`` opens every
transaction with ``BEGIN IMMEDIATE`` (``transaction_mode``), which takes the database's one
write lock at the start, so writers run one at a time and each reads the balance it updates.
The ``CheckConstraint``s (``available >= 0``, ...) hold on both, whatever a bug might try.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from eth_utils import is_address, is_checksum_address, to_checksum_address

from licensing.choices import CreditLedgerKind, CreditReservationStatus
from licensing.errors import CreditErrorCode
from licensing.models import (
    CreditAccount,
    CreditEntry,
    CreditLedgerEntry,
    CreditReservation,
)
from licensing.models.credits import CHAIN_KINDS
from portal.errors import DomainError

ACCOUNT_FIELDS = ["available", "reserved", "unsettled", "deficit", "updated_at"]
# The chain events whose batch may carry CreditEntry rows (credits bought, granted, burned).
CREDIT_EVENTS = frozenset({"Purchased", "Granted", "CreditsBurned"})


@dataclass(frozen=True)
class CreditBalance:
    """An account's buckets (all zero for a holder the ledger has never credited)."""

    available: int = 0
    reserved: int = 0
    unsettled: int = 0
    deficit: int = 0

    @property
    def on_chain(self) -> int:
        return self.available + self.reserved + self.unsettled - self.deficit


# --- inputs ---


def _units(value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise DomainError(CreditErrorCode.BAD_CREDIT_UNITS)
    return value


def _holder(value) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise DomainError(CreditErrorCode.BAD_CREDIT_HOLDER)
    body = value[2:]
    if body not in (body.lower(), body.upper()) and not is_checksum_address(value):
        raise DomainError(CreditErrorCode.BAD_CREDIT_HOLDER)
    return to_checksum_address(value)


def _token_id(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal) or value < 0:
        raise DomainError(CreditErrorCode.BAD_CREDIT_UNITS, "A token id is a whole number.")
    return Decimal(int(value))


# --- the ledger's one writer of lines ---


def _line(
    account: CreditAccount,
    *,
    kind: str,
    units: int,
    reference: str,
    chain_event_id: int | None = None,
    reservation: CreditReservation | None = None,
    reverses: CreditLedgerEntry | None = None,
) -> CreditLedgerEntry:
    entry = CreditLedgerEntry(
        account=account,
        kind=kind,
        units=units,
        reference=reference,
        chain_event_id=chain_event_id,
        reservation=reservation,
        reverses=reverses,
    )
    # Fields are validated here; the unique and check constraints by the database itself (one
    # statement, no read-then-write window): this runs on every metered request.
    entry.full_clean(exclude=["account", "reservation", "reverses"], validate_constraints=False)
    entry.save(force_insert=True)
    return entry


def _save(account: CreditAccount) -> None:
    account.full_clean(validate_unique=False, validate_constraints=False)
    account.save(update_fields=ACCOUNT_FIELDS)


# --- chain side: what the sync saw ---


def _chain_in(account: CreditAccount, units: int) -> None:
    """Credits the chain gave: repay a deficit first, the rest is available."""
    repaid = min(units, account.deficit)
    account.deficit -= repaid
    account.available += units - repaid


def _chain_out(account: CreditAccount, units: int, *, settles: bool) -> None:
    """Credits the chain took: a settlement out of ``unsettled`` first, then ``available``,
    and what neither covers is a deficit."""
    if settles:
        settled = min(units, account.unsettled)
        account.unsettled -= settled
        units -= settled
    taken = min(units, account.available)
    account.available -= taken
    account.deficit += units - taken


def _lock_accounts(network, keys: Iterable[tuple[Decimal, str]]) -> dict:
    """The accounts of ``keys`` ((token id, holder)), created when missing, locked in pk order."""
    pks = []
    for token_id, holder in sorted(set(keys)):
        account, _created = CreditAccount.objects.get_or_create(
            network=network, token_id=token_id, holder=holder
        )
        pks.append(account.pk)
    locked = CreditAccount.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    return {(account.token_id, account.holder): account for account in locked}


def _gone_lines(network) -> list[CreditLedgerEntry]:
    """Chain lines of ``network`` not yet reversed whose ``CreditEntry`` is gone (a reorg)."""
    still_there = CreditEntry.objects.filter(event_id=OuterRef("chain_event_id"))
    return list(
        CreditLedgerEntry.objects.filter(
            account__network=network, kind__in=CHAIN_KINDS, reversal__isnull=True
        )
        .filter(~Exists(still_there))
        .select_related("account")
        .order_by("pk")
    )


@transaction.atomic
def credits_sync_from_chain(*, network, event_ids: Iterable[int] | None = None) -> int:
    """Bring the ledger in line with ``network``'s ``CreditEntry`` rows; returns lines written.

    Each entry not yet in the ledger becomes a ``purchase`` (+) or ``settle`` (-) line, once
    (the line's ``chain_event_id`` is unique); each chain line whose entry a reorg removed gets
    one ``reversal``. ``event_ids`` narrows the run to those events' new entries (the sync's
    batch: nothing there can have been removed, so reversals are not looked for)."""
    credited = CreditLedgerEntry.objects.filter(
        kind__in=CHAIN_KINDS, chain_event_id=OuterRef("event_id")
    )
    new = CreditEntry.objects.filter(network=network).filter(~Exists(credited))
    if event_ids is not None:
        new = new.filter(event_id__in=list(event_ids))
    new = list(
        new.order_by("event__block_number", "event__log_index").values_list(
            "event_id", "token_id", "holder", "delta"
        )
    )
    gone = [] if event_ids is not None else _gone_lines(network)
    if not new and not gone:
        return 0
    keys = [(token_id, holder) for _pk, token_id, holder, _delta in new]
    keys += [(line.account.token_id, line.account.holder) for line in gone]
    accounts = _lock_accounts(network, keys)
    for line in gone:
        _reverse(accounts[(line.account.token_id, line.account.holder)], line)
    for event_id, token_id, holder, delta in new:
        _credit(accounts[(token_id, holder)], event_id, int(delta))
    for account in accounts.values():
        _save(account)
    return len(new) + len(gone)


def _credit(account: CreditAccount, event_id: int, delta: int) -> None:
    kind = CreditLedgerKind.PURCHASE if delta > 0 else CreditLedgerKind.SETTLE
    _line(account, kind=kind, units=delta, reference=f"event:{event_id}", chain_event_id=event_id)
    if delta > 0:
        _chain_in(account, delta)
    else:
        _chain_out(account, -delta, settles=True)


def _reverse(account: CreditAccount, line: CreditLedgerEntry) -> None:
    """Undo a chain line whose event a reorg removed: a purchase is taken back (out of
    ``available``, else a deficit); a burn that went is consumed-not-settled again (the
    settlement is sent again or re-mined)."""
    _line(
        account,
        kind=CreditLedgerKind.REVERSAL,
        units=-line.units,
        reference=f"reversal:{line.pk}",
        reverses=line,
    )
    if line.kind == CreditLedgerKind.PURCHASE:
        _chain_out(account, line.units, settles=False)
    else:
        account.unsettled += -line.units


def sync_batch_credits(events: list) -> None:
    """``chain.handlers.on_batch``: credit a written batch's credit lines in its transaction,
    so credits appear with the sync pass that saw them (registered by ``LicensingConfig``
    after the projections, which write the ``CreditEntry`` rows)."""
    ids = [event.pk for event in events if event.name in CREDIT_EVENTS]
    if ids:
        credits_sync_from_chain(network=events[0].network, event_ids=ids)


def sync_rollback_credits(*, network, fork_block: int, removed: list) -> None:
    """``chain.handlers.on_rollback``: reverse the lines whose events the reorg removed."""
    if any(event.name in CREDIT_EVENTS for event in removed):
        credits_sync_from_chain(network=network)


# --- off-chain side: requests ---


def credit_balance(*, network_id: int, token_id: int | Decimal, holder: str) -> CreditBalance:
    """The holder's credits of one offer as the ledger has them (zeros when never credited)."""
    account = CreditAccount.objects.filter(
        network_id=network_id, token_id=_token_id(token_id), holder=_holder(holder)
    ).first()
    if account is None:
        return CreditBalance()
    return CreditBalance(account.available, account.reserved, account.unsettled, account.deficit)


@transaction.atomic
def credits_reserve(
    *,
    network_id: int,
    token_id: int | Decimal,
    holder: str,
    units: int,
    ttl_seconds: int | None = None,
) -> CreditReservation:
    """Hold ``units`` credits for a request (``CREDIT_RESERVATION_TTL`` seconds at most, or
    ``ttl_seconds``: a batch job holds its credits while it runs); ``insufficient_credits``
    (402) when fewer are available."""
    units, holder, token_id = _units(units), _holder(holder), _token_id(token_id)
    account = (
        CreditAccount.objects.select_for_update()
        .filter(network_id=network_id, token_id=token_id, holder=holder)
        .first()
    )
    available = account.available if account is not None else 0
    if available < units:
        raise DomainError(
            CreditErrorCode.INSUFFICIENT_CREDITS,
            f"This needs {units} credit(s); {available} available"
            + (f" ({account.reserved} held by requests running now)." if account else "."),
        )
    account.available -= units
    account.reserved += units
    _save(account)
    now = timezone.now()
    reservation = CreditReservation(
        account=account,
        units=units,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds or settings.CREDIT_RESERVATION_TTL),
    )
    reservation.full_clean(exclude=["account"], validate_constraints=False)
    reservation.save(force_insert=True)
    _line(
        account,
        kind=CreditLedgerKind.RESERVE,
        units=-units,
        reference=reservation.reference,
        reservation=reservation,
    )
    return reservation


def _lock_open(reservation: CreditReservation) -> tuple[CreditAccount, CreditReservation | None]:
    """The reservation's account and the reservation, locked in that order (None once closed)."""
    account = CreditAccount.objects.select_for_update().get(pk=reservation.account_id)
    locked = CreditReservation.objects.select_for_update().get(pk=reservation.pk)
    return account, locked if locked.status == CreditReservationStatus.OPEN else None


def _close(reservation: CreditReservation, status: str, consumed: int = 0) -> None:
    reservation.status = status
    reservation.consumed = consumed
    reservation.closed_at = timezone.now()
    reservation.save(update_fields=["status", "consumed", "closed_at"])


@transaction.atomic
def credits_consume(*, reservation: CreditReservation, units: int) -> CreditLedgerEntry:
    """Charge ``units`` (at most the reservation's) and release the rest; returns the consume
    line. A reservation consumes once: ``reservation_not_open`` after that (or its release)."""
    units = _units(units)
    account, locked = _lock_open(reservation)
    if locked is None:
        raise DomainError(CreditErrorCode.RESERVATION_NOT_OPEN)
    if units > locked.units:
        raise DomainError(
            CreditErrorCode.CONSUME_EXCEEDS_RESERVATION,
            f"The reservation holds {locked.units} credit(s); {units} cannot be consumed.",
        )
    rest = locked.units - units
    account.reserved -= locked.units
    account.unsettled += units
    account.available += rest
    _save(account)
    _close(locked, CreditReservationStatus.CONSUMED, units)
    ref = locked.reference
    entry = _line(
        account, kind=CreditLedgerKind.CONSUME, units=-units, reference=ref, reservation=locked
    )
    if rest:
        _line(account, kind=CreditLedgerKind.RELEASE, units=rest, reference=ref, reservation=locked)
    _refresh(reservation, locked)
    return entry


@transaction.atomic
def credits_release(*, reservation: CreditReservation) -> CreditLedgerEntry | None:
    """Give all the reservation's credits back; None (nothing written) when it was closed
    already, so releasing twice, or after the sweep, is harmless."""
    account, locked = _lock_open(reservation)
    if locked is None:
        return None
    account.reserved -= locked.units
    account.available += locked.units
    _save(account)
    _close(locked, CreditReservationStatus.RELEASED)
    entry = _line(
        account,
        kind=CreditLedgerKind.RELEASE,
        units=locked.units,
        reference=locked.reference,
        reservation=locked,
    )
    _refresh(reservation, locked)
    return entry


def _refresh(reservation: CreditReservation, locked: CreditReservation) -> None:
    """The caller's instance says what happened (``status``, ``consumed``, ``closed_at``)."""
    reservation.status = locked.status
    reservation.consumed = locked.consumed
    reservation.closed_at = locked.closed_at


def credits_release_expired(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Release reservations left open past their expiry (a request that died); returns how many.
    Each is released in its own transaction (a consume racing the sweep wins or loses whole)."""
    now = now or timezone.now()
    expired = CreditReservation.objects.filter(
        status=CreditReservationStatus.OPEN, expires_at__lte=now
    ).order_by("pk")[:limit]
    released = 0
    for reservation in expired:
        if credits_release(reservation=reservation) is not None:
            released += 1
    return released
