"""The credit ledger: crediting from chain (idempotent, reversed after a reorg), reservations,
consumption and settlement, the sweep, the database's rules, and 20 requests at once against
10 credits (real threads; PostgreSQL with DATABASE_URL, else SQLite's serialized writers)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from licensing.choices import CreditLedgerKind, CreditReservationStatus
from licensing.errors import CreditErrorCode
from licensing.models import CreditAccount, CreditEntry, CreditLedgerEntry, CreditReservation
from licensing.services.credits import (
    credit_balance,
    credits_consume,
    credits_release,
    credits_release_expired,
    credits_reserve,
    credits_sync_from_chain,
)
from licensing.tests import factories
from portal.errors import DomainError

TOKEN_ID = 4
CHAIN_KINDS = [CreditLedgerKind.PURCHASE, CreditLedgerKind.SETTLE, CreditLedgerKind.REVERSAL]


@pytest.fixture
def network(db):
    return factories.matrix_network()


@pytest.fixture
def holder():
    return factories.checksum(factories.address())


def chain_line(network, holder: str, delta: int, *, block: int = 7) -> CreditEntry:
    """A CreditEntry as the sync projects it: bought (+) or burned by the meter (-)."""
    name = "Purchased" if delta > 0 else "CreditsBurned"
    return CreditEntry.objects.create(
        event=factories.event_row(network, name, block_number=block),
        network=network,
        token_id=TOKEN_ID,
        holder=holder,
        delta=delta,
    )


def funded(network, holder: str, units: int) -> CreditAccount:
    chain_line(network, holder, units)
    credits_sync_from_chain(network=network)
    return CreditAccount.objects.get(network=network, holder=holder)


def reserve(network, holder: str, units: int) -> CreditReservation:
    return credits_reserve(network_id=network.pk, token_id=TOKEN_ID, holder=holder, units=units)


def _sum(account, kinds) -> int:
    lines = CreditLedgerEntry.objects.filter(account=account, kind__in=kinds)
    return lines.aggregate(total=Sum("units"))["total"] or 0


def assert_balanced(account: CreditAccount) -> None:
    """on chain = available + reserved + unsettled - deficit; the chain lines add up to the
    chain's balance, and what was reserved less what was released is held or consumed."""
    account.refresh_from_db()
    key = {"network": account.network, "token_id": account.token_id, "holder": account.holder}
    on_chain = CreditEntry.objects.filter(**key).aggregate(total=Sum("delta"))["total"] or 0
    assert account.on_chain == on_chain
    assert _sum(account, CHAIN_KINDS) == on_chain
    consumed = -_sum(account, [CreditLedgerKind.CONSUME])
    held = -_sum(account, [CreditLedgerKind.RESERVE, CreditLedgerKind.RELEASE])
    assert held == account.reserved + consumed  # reserved, less released, is held or consumed


# --- crediting from chain ---


def test_the_sync_credits_each_purchase_once(network, holder):
    chain_line(network, holder, 100)
    chain_line(network, holder, 50)

    assert credits_sync_from_chain(network=network) == 2
    assert credits_sync_from_chain(network=network) == 0  # run again: nothing twice

    balance = credit_balance(network_id=network.pk, token_id=TOKEN_ID, holder=holder)
    assert (balance.available, balance.reserved, balance.on_chain) == (150, 0, 150)
    lines = CreditLedgerEntry.objects.filter(kind=CreditLedgerKind.PURCHASE)
    assert sorted(lines.values_list("units", flat=True)) == [50, 100]
    assert all(line.reference == f"event:{line.chain_event_id}" for line in lines)
    assert_balanced(CreditAccount.objects.get())


def test_a_burn_settles_consumed_credits_and_is_not_taken_twice(network, holder):
    account = funded(network, holder, 100)
    credits_consume(reservation=reserve(network, holder, 30), units=20)
    account.refresh_from_db()
    assert (account.available, account.reserved, account.unsettled) == (80, 0, 20)

    chain_line(network, holder, -20)  # the settlement's burn, seen by the sync
    credits_sync_from_chain(network=network)

    account.refresh_from_db()
    assert (account.available, account.reserved, account.unsettled, account.deficit) == (
        80,
        0,
        0,
        0,
    )
    settle = CreditLedgerEntry.objects.get(kind=CreditLedgerKind.SETTLE)
    assert settle.units == -20
    assert_balanced(account)


def test_a_reorg_that_removed_a_purchase_is_reversed_never_deleted(network, holder):
    account = funded(network, holder, 100)
    second = chain_line(network, holder, 40)
    credits_sync_from_chain(network=network)
    purchase = CreditLedgerEntry.objects.get(chain_event_id=second.event_id)

    second.event.delete()  # what a rollback does: the event goes, its CreditEntry with it
    assert credits_sync_from_chain(network=network) == 1
    assert credits_sync_from_chain(network=network) == 0

    reversal = CreditLedgerEntry.objects.get(kind=CreditLedgerKind.REVERSAL)
    assert (reversal.units, reversal.reverses_id) == (-40, purchase.pk)
    assert CreditLedgerEntry.objects.filter(pk=purchase.pk).exists()  # the line stays
    account.refresh_from_db()
    assert account.available == 100
    assert_balanced(account)


def test_a_reversal_beyond_what_is_available_is_a_deficit_a_purchase_repays(network, holder):
    entry = chain_line(network, holder, 10)
    credits_sync_from_chain(network=network)
    account = CreditAccount.objects.get()
    credits_consume(reservation=reserve(network, holder, 8), units=8)

    entry.event.delete()
    credits_sync_from_chain(network=network)
    account.refresh_from_db()
    # the 2 left are taken back; the 8 already used are owed
    assert (account.available, account.unsettled, account.deficit) == (0, 8, 8)
    assert_balanced(account)
    with pytest.raises(DomainError) as refused:
        reserve(network, holder, 1)
    assert refused.value.code == "insufficient_credits"

    chain_line(network, holder, 5)
    credits_sync_from_chain(network=network)
    account.refresh_from_db()
    assert (account.available, account.deficit) == (0, 3)
    chain_line(network, holder, 10)
    credits_sync_from_chain(network=network)
    account.refresh_from_db()
    assert (account.available, account.deficit) == (7, 0)
    assert_balanced(account)


def test_a_reorg_that_removed_a_burn_makes_the_credits_unsettled_again(network, holder):
    account = funded(network, holder, 50)
    credits_consume(reservation=reserve(network, holder, 10), units=10)
    burn = chain_line(network, holder, -10)
    credits_sync_from_chain(network=network)

    burn.event.delete()
    credits_sync_from_chain(network=network)

    account.refresh_from_db()
    assert (account.available, account.unsettled) == (40, 10)
    assert_balanced(account)


# --- reservations ---


def test_reserve_holds_credits_and_refuses_more_than_available(network, holder):
    account = funded(network, holder, 10)
    reservation = reserve(network, holder, 7)

    account.refresh_from_db()
    assert (account.available, account.reserved) == (3, 7)
    assert reservation.status == CreditReservationStatus.OPEN
    assert reservation.expires_at > timezone.now()
    with pytest.raises(DomainError) as refused:
        reserve(network, holder, 4)
    assert refused.value.code == "insufficient_credits"
    assert refused.value.status == 402
    assert "4 credit(s); 3 available (7 held" in refused.value.message
    assert_balanced(account)


def test_a_holder_never_credited_has_no_credits(network, holder):
    with pytest.raises(DomainError) as refused:
        reserve(network, holder, 1)
    assert refused.value.error is CreditErrorCode.INSUFFICIENT_CREDITS
    assert "0 available" in refused.value.message
    assert not CreditAccount.objects.exists()
    assert credit_balance(network_id=network.pk, token_id=TOKEN_ID, holder=holder).on_chain == 0


@pytest.mark.parametrize("units", [0, -1, 1.5, "3", True, None])
def test_units_are_whole_and_positive(network, holder, units):
    funded(network, holder, 10)
    with pytest.raises(DomainError) as refused:
        reserve(network, holder, units)
    assert refused.value.code == "bad_credit_units"


@pytest.mark.parametrize("bad", ["0x123", "not an address", "0x" + "aB" * 20, None])
def test_the_holder_is_an_address(network, bad):
    with pytest.raises(DomainError) as refused:
        credits_reserve(network_id=network.pk, token_id=TOKEN_ID, holder=bad, units=1)
    assert refused.value.code == "bad_credit_holder"


def test_a_lower_case_holder_is_the_same_account(network, holder):
    funded(network, holder, 5)
    reserve(network, holder.lower(), 5)
    assert CreditAccount.objects.get().available == 0


def test_consume_charges_what_was_used_and_releases_the_rest(network, holder):
    account = funded(network, holder, 10)
    reservation = reserve(network, holder, 6)

    entry = credits_consume(reservation=reservation, units=4)

    assert (entry.kind, entry.units, entry.reference) == ("consume", -4, reservation.reference)
    assert (reservation.status, reservation.consumed) == ("consumed", 4)
    account.refresh_from_db()
    assert (account.available, account.reserved, account.unsettled) == (6, 0, 4)
    release = CreditLedgerEntry.objects.get(kind=CreditLedgerKind.RELEASE)
    assert release.units == 2
    assert_balanced(account)


def test_consume_refuses_more_than_reserved_and_a_second_time(network, holder):
    funded(network, holder, 10)
    reservation = reserve(network, holder, 3)
    with pytest.raises(DomainError) as refused:
        credits_consume(reservation=reservation, units=4)
    assert refused.value.code == "consume_exceeds_reservation"

    credits_consume(reservation=reservation, units=3)
    with pytest.raises(DomainError) as again:
        credits_consume(reservation=reservation, units=1)
    assert again.value.code == "reservation_not_open"
    assert credits_release(reservation=reservation) is None  # consumed: nothing to give back
    assert CreditLedgerEntry.objects.filter(kind=CreditLedgerKind.CONSUME).count() == 1


def test_release_gives_everything_back_once(network, holder):
    account = funded(network, holder, 10)
    reservation = reserve(network, holder, 10)

    entry = credits_release(reservation=reservation)

    assert (entry.kind, entry.units) == ("release", 10)
    assert credits_release(reservation=reservation) is None
    account.refresh_from_db()
    assert (account.available, account.reserved) == (10, 0)
    with pytest.raises(DomainError) as refused:
        credits_consume(reservation=reservation, units=1)
    assert refused.value.code == "reservation_not_open"
    assert_balanced(account)


def test_the_sweep_releases_reservations_left_open_past_their_ttl(network, holder, settings):
    settings.CREDIT_RESERVATION_TTL = 60
    account = funded(network, holder, 10)
    stale, fresh = reserve(network, holder, 3), reserve(network, holder, 2)
    CreditReservation.objects.filter(pk=stale.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert credits_release_expired() == 1
    assert credits_release_expired() == 0

    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == ("released", "open")
    account.refresh_from_db()
    assert (account.available, account.reserved) == (8, 2)
    assert_balanced(account)


def test_the_sweep_command(network, holder, capsys):
    funded(network, holder, 10)
    reservation = reserve(network, holder, 4)
    CreditReservation.objects.filter(pk=reservation.pk).update(expires_at=timezone.now())

    call_command("credits_release_expired")

    assert "released 1 expired credit reservation(s)" in capsys.readouterr().out
    assert CreditAccount.objects.get().available == 10


def test_the_beat_schedule_runs_the_sweep(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"licensing.credits_release_expired", "licensing.idempotency_purge"} <= tasks


# --- what the database itself refuses ---


def test_the_database_refuses_a_negative_balance(network, holder):
    account = funded(network, holder, 1)
    for field in ("available", "reserved", "unsettled", "deficit"):
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditAccount.objects.filter(pk=account.pk).update(**{field: -1})


def test_the_database_refuses_a_line_twice_or_signed_against_its_kind(network, holder):
    account = funded(network, holder, 1)
    line = CreditLedgerEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditLedgerEntry.objects.create(
            account=account, kind=line.kind, units=1, reference=line.reference
        )
    with pytest.raises(IntegrityError), transaction.atomic():  # the same event, another key
        CreditLedgerEntry.objects.create(
            account=account,
            kind=CreditLedgerKind.SETTLE,
            units=-1,
            reference="other",
            chain_event_id=line.chain_event_id,
        )
    for kind, units in [("purchase", -1), ("reserve", 1), ("release", 0), ("reversal", 0)]:
        with pytest.raises(IntegrityError), transaction.atomic():
            CreditLedgerEntry.objects.create(account=account, kind=kind, units=units, reference="x")


# --- concurrency ---


@pytest.mark.django_db(transaction=True)
def test_twenty_requests_at_once_against_ten_credits(holder):
    """Real threads, each with its own database connection: exactly 10 reservations succeed,
    and the ledger balances. On PostgreSQL the account's row lock serializes them; on SQLite
    the IMMEDIATE transactions do."""
    network = factories.matrix_network()
    account = funded(network, holder, 10)
    start = threading.Barrier(20)
    results: list[str] = []
    lock = threading.Lock()

    def request() -> None:
        try:
            start.wait()
            try:
                reservation = reserve(network, holder, 1)
                credits_consume(reservation=reservation, units=1)
                outcome = "ok"
            except DomainError as refused:
                outcome = refused.code
            with lock:
                results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    close_old_connections()

    assert sorted(results) == ["insufficient_credits"] * 10 + ["ok"] * 10
    account.refresh_from_db()
    assert (account.available, account.reserved, account.unsettled) == (0, 0, 10)
    assert CreditLedgerEntry.objects.filter(kind=CreditLedgerKind.CONSUME).count() == 10
    assert_balanced(account)
    assert Decimal(account.token_id) == TOKEN_ID
