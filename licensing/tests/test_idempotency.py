"""Idempotency keys: a retry gets the first answer and charges nothing more; another body is a
409; a duplicate while the first runs is a 409; keys per caller, bounded, expiring."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from licensing.choices import CreditLedgerKind
from licensing.errors import CreditErrorCode
from licensing.idempotency import (
    caller_key,
    idempotency_purge,
    idempotent,
    idempotent_call,
    request_fingerprint,
)
from licensing.models import CreditAccount, CreditLedgerEntry, IdempotentRequest
from licensing.services.credits import credits_consume, credits_reserve, credits_sync_from_chain
from licensing.tests import factories
from licensing.tests.test_credit_ledger import TOKEN_ID, assert_balanced, chain_line
from portal.errors import DomainError

ALICE = caller_key(user_id=1)
PATH = "/api/models/acme/wine/versions/1.0.0/predict"


def fingerprint(body: bytes = b'{"rows": [[1, 2]]}', method: str = "POST", path: str = PATH):
    return request_fingerprint(method=method, path=path, body=body)


class Counter:
    """A request body's work: counts its runs, answers 200 with the run number."""

    def __init__(self):
        self.runs = 0

    def __call__(self):
        self.runs += 1
        return 200, {"run": self.runs}


def test_a_retry_gets_the_first_answer_and_runs_nothing(db):
    work = Counter()

    first, replayed = idempotent_call(key="k1", caller=ALICE, fingerprint=fingerprint(), run=work)
    again, replayed_again = idempotent_call(
        key="k1", caller=ALICE, fingerprint=fingerprint(), run=work
    )

    assert (first.status, first.body, replayed) == (200, {"run": 1}, False)
    assert (again.status, again.body, replayed_again) == (200, {"run": 1}, True)
    assert work.runs == 1


def test_the_same_key_with_another_body_is_refused(db):
    idempotent_call(key="k1", caller=ALICE, fingerprint=fingerprint(), run=Counter())
    work = Counter()
    for other in (fingerprint(b'{"rows": [[9, 9]]}'), fingerprint(path="/api/other")):
        with pytest.raises(DomainError) as refused:
            idempotent_call(key="k1", caller=ALICE, fingerprint=other, run=work)
        assert (refused.value.code, refused.value.status) == ("idempotency_key_reused", 409)
    assert work.runs == 0


def test_a_duplicate_while_the_first_runs_is_refused(db):
    with idempotent(key="k1", caller=ALICE, fingerprint=fingerprint()) as slot:
        with pytest.raises(DomainError) as refused:
            idempotent_call(key="k1", caller=ALICE, fingerprint=fingerprint(), run=Counter())
        assert (refused.value.code, refused.value.status) == ("idempotency_in_progress", 409)
        slot.store(status=201, body={"ok": True})
    answer, replayed = idempotent_call(
        key="k1", caller=ALICE, fingerprint=fingerprint(), run=Counter()
    )
    assert (answer.status, answer.body, replayed) == (201, {"ok": True}, True)


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_in_another_connection_is_refused():
    started, finish = threading.Event(), threading.Event()
    outcome = {}

    def first() -> None:
        try:
            with idempotent(key="k1", caller=ALICE, fingerprint=fingerprint()) as slot:
                started.set()
                finish.wait(timeout=30)
                slot.store(status=200, body={"first": True})
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(timeout=30)
    try:
        idempotent_call(key="k1", caller=ALICE, fingerprint=fingerprint(), run=Counter())
    except DomainError as refused:
        outcome["code"] = refused.code
    finish.set()
    thread.join()

    assert outcome == {"code": "idempotency_in_progress"}
    assert IdempotentRequest.objects.get().response_body == {"first": True}


@pytest.mark.parametrize("key", ["", "x" * 256, None, 12])
def test_a_key_is_one_to_255_characters(db, key):
    with pytest.raises(DomainError) as refused:
        idempotent_call(key=key, caller=ALICE, fingerprint=fingerprint(), run=Counter())
    assert (refused.value.code, refused.value.status) == ("bad_idempotency_key", 400)
    assert not IdempotentRequest.objects.exists()


def test_a_key_of_255_characters_is_fine(db):
    answer, _ = idempotent_call(
        key="x" * 255, caller=ALICE, fingerprint=fingerprint(), run=Counter()
    )
    assert answer.status == 200


def test_keys_are_scoped_per_caller(db):
    work = Counter()
    for caller in (ALICE, caller_key(user_id=2), caller_key(organization_id=1)):
        idempotent_call(key="same", caller=caller, fingerprint=fingerprint(), run=work)
    assert work.runs == 3
    with pytest.raises(ValueError, match="user or an organization"):
        caller_key(user_id=1, organization_id=1)


def test_a_request_that_failed_leaves_no_answer_and_runs_again(db):
    def refuse():
        raise DomainError(CreditErrorCode.INSUFFICIENT_CREDITS)

    with pytest.raises(DomainError):
        idempotent_call(key="k1", caller=ALICE, fingerprint=fingerprint(), run=refuse)
    assert not IdempotentRequest.objects.exists()
    answer, replayed = idempotent_call(
        key="k1", caller=ALICE, fingerprint=fingerprint(), run=Counter()
    )
    assert (answer.body, replayed) == ({"run": 1}, False)


def test_a_block_that_stores_nothing_leaves_no_claim(db):
    with idempotent(key="k1", caller=ALICE, fingerprint=fingerprint()):
        pass
    assert not IdempotentRequest.objects.exists()


def test_a_claim_whose_process_died_is_taken_over_after_the_timeout(db, settings):
    settings.IDEMPOTENCY_RUNNING_TIMEOUT = 300
    with idempotent(key="k1", caller=ALICE, fingerprint=fingerprint()) as slot:
        slot_pk = slot.request.pk
        IdempotentRequest.objects.filter(pk=slot_pk).update(
            created_at=timezone.now() - timedelta(seconds=301)
        )
        # the first "died" without answering: a retry may run now
        answer, replayed = idempotent_call(
            key="k1", caller=ALICE, fingerprint=fingerprint(), run=Counter()
        )
        assert (answer.body, replayed) == ({"run": 1}, False)
        slot.store(status=500, body={"late": True})  # the old claim is gone: changes nothing
    assert IdempotentRequest.objects.get().response_body == {"run": 1}


def test_an_expired_answer_runs_again_and_is_purged(db, settings, capsys):
    settings.IDEMPOTENCY_KEY_TTL = 3600
    idempotent_call(key="old", caller=ALICE, fingerprint=fingerprint(), run=Counter())
    idempotent_call(key="new", caller=ALICE, fingerprint=fingerprint(), run=Counter())
    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(seconds=3601)
    )

    answer, replayed = idempotent_call(
        key="old", caller=ALICE, fingerprint=fingerprint(b"another body"), run=Counter()
    )
    assert (answer.body, replayed) == ({"run": 1}, False)  # expired: a new key again

    IdempotentRequest.objects.filter(key="old").update(
        created_at=timezone.now() - timedelta(seconds=3601)
    )
    assert idempotency_purge() == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(days=2))
    call_command("idempotency_purge")
    assert "purged 1 idempotency key(s)" in capsys.readouterr().out


def test_the_fingerprint_covers_method_path_and_body():
    base = fingerprint()
    assert len(base) == 64
    assert base == fingerprint()
    assert base != fingerprint(method="PUT")
    assert base != fingerprint(path=PATH + "x")
    assert base != fingerprint(b'{"rows": [[1, 3]]}')


def test_a_charging_request_retried_charges_once(db):
    network = factories.matrix_network()
    holder = factories.checksum(factories.address())
    chain_line(network, holder, 10)
    credits_sync_from_chain(network=network)

    def charge():
        reservation = credits_reserve(
            network_id=network.pk, token_id=TOKEN_ID, holder=holder, units=3
        )
        credits_consume(reservation=reservation, units=3)
        return 200, {"units_charged": 3}

    for _ in range(3):
        answer, _ = idempotent_call(
            key="pay-1", caller=ALICE, fingerprint=fingerprint(), run=charge
        )
        assert answer.body == {"units_charged": 3}
    with pytest.raises(DomainError) as refused:
        idempotent_call(key="pay-1", caller=ALICE, fingerprint=fingerprint(b"{}"), run=charge)
    assert refused.value.code == "idempotency_key_reused"

    account = CreditAccount.objects.get()
    assert (account.available, account.unsettled) == (7, 3)
    assert CreditLedgerEntry.objects.filter(kind=CreditLedgerKind.CONSUME).count() == 1
    assert_balanced(account)
