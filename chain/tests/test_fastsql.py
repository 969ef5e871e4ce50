"""The bulk writers of ``chain.fastsql`` against the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import pytest
from django.db import connection

from chain.fastsql import (
    MAX_ROWS_PER_STATEMENT,
    adapter,
    add_to_rows,
    insert_new,
    insert_rows,
    upsert_rows,
)
from chain.handlers import Event
from chain.models import IndexedEvent, Network
from chain.sync import EVENT_COLUMNS
from licensing.models import Holding, HoldingChange, License
from licensing.projections import (
    HOLDING_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_FIELDS,
    BatchProjector,
    ProjectionError,
)

pytestmark = pytest.mark.django_db

TOKEN = "0x" + "11" * 20
ALICE, BOB, CAROL = "0x" + "a1" * 20, "0x" + "b0" * 20, "0x" + "ca" * 20
HOLDING_KEY = HOLDING_COLUMNS[:4]
LICENSE_KEY = LICENSE_COLUMNS[:4]
EVENT_KEY = ("chain_id", "tx_hash", "log_index")
RETURNING = ("id", "tx_hash", "log_index")
BIG = 2**62 + 1  # past 2**53 (a float would lose it), within 63 bits


@pytest.fixture
def network():
    return Network.objects.create(name="testnet", chain_id=4242, confirmation_depth=3)


def tx(n: int) -> str:
    return f"0x{n:064x}"


def event_row(network, n: int, log_index: int = 0, args: dict | None = None) -> tuple:
    """An IndexedEvent row in EVENT_COLUMNS order, DB-ready."""
    return (
        network.pk,
        network.chain_id,
        "LicenseToken",
        TOKEN,
        "TransferSingle",
        adapter(IndexedEvent, "args")(args or {"n": n}),
        n,
        "0x" + "bb" * 32,
        tx(n),
        log_index,
        True,
        adapter(IndexedEvent, "indexed_at")(datetime.datetime.now(datetime.UTC)),
    )


def stored_numbers(model, column: str) -> list[Decimal]:
    """A numeric column as the database holds it, read without the ORM: Django's SQLite
    converter rounds decimals to 15 significant digits on the way out."""
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} ORDER BY id")  # noqa: S608
        return [Decimal(value) for (value,) in cursor.fetchall()]


def license_row(network, holder, token_id=1, expires_at=100, terms="0xt", revoked=False):
    return (network.pk, TOKEN, Decimal(token_id), holder, expires_at, terms, revoked, 7)


def holding(network, holder, balance, token_id=1) -> Holding:
    return Holding.objects.create(
        network=network, token_address=TOKEN, token_id=token_id, holder=holder, balance=balance
    )


def balances(network, token_id=1) -> dict[str, Decimal]:
    holdings = Holding.objects.filter(network=network, token_id=token_id)
    return dict(holdings.values_list("holder", "balance"))


# --- insert_rows ---


def test_insert_rows_writes_every_row_with_its_values(network):
    rows = [
        license_row(network, ALICE, token_id=BIG, expires_at=2**40, revoked=True),
        license_row(network, BOB, token_id=2**53 + 1, terms="0xterms"),
    ]

    insert_rows(License, LICENSE_COLUMNS, rows)

    assert stored_numbers(License, "token_id") == [BIG, 2**53 + 1]
    alice, bob = License.objects.order_by("id")
    assert (alice.holder, alice.expires_at, alice.revoked) == (ALICE, 2**40, True)
    assert (bob.holder, bob.terms_hash, bob.revoked, bob.block_number) == (BOB, "0xterms", False, 7)


def test_insert_rows_adapted_json_and_datetime_read_back_through_the_orm(network):
    args = {"id": str(2**200), "values": [1, 2], "nested": {"ok": True, "none": None}}
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC)
    row = list(event_row(network, 1))
    row[EVENT_COLUMNS.index("args")] = adapter(IndexedEvent, "args")(args)
    row[EVENT_COLUMNS.index("indexed_at")] = adapter(IndexedEvent, "indexed_at")(when)

    insert_rows(IndexedEvent, EVENT_COLUMNS, [tuple(row), event_row(network, 2)])

    first, second = IndexedEvent.objects.order_by("block_number")
    assert first.args == args
    assert first.indexed_at == when
    assert second.args == {"n": 2}
    assert IndexedEvent.objects.filter(args__nested__ok=True).get() == first


# --- the column check ---


def test_a_column_not_given_raises_naming_it_and_inserts_nothing(network):
    columns = [c for c in EVENT_COLUMNS if c != "indexed_at"]
    rows = [event_row(network, 1)[:-1]]

    with pytest.raises(ValueError, match="indexed_at"):
        insert_rows(IndexedEvent, columns, rows)
    with pytest.raises(ValueError, match="indexed_at"):
        insert_new(IndexedEvent, columns, rows, unique=EVENT_KEY, returning=RETURNING)

    assert not IndexedEvent.objects.exists()


def test_a_column_not_in_the_table_raises(network):
    with pytest.raises(ValueError, match="colour"):
        insert_rows(Holding, [*HOLDING_COLUMNS, "colour"], [(network.pk, TOKEN, 1, ALICE, 1, 2)])
    assert not Holding.objects.exists()


def test_a_dict_for_a_json_column_raises_type_error(network):
    row = list(event_row(network, 1))
    row[EVENT_COLUMNS.index("args")] = {"raw": "dict"}

    with pytest.raises(TypeError, match=r"IndexedEvent\.args"):
        insert_rows(IndexedEvent, EVENT_COLUMNS, [tuple(row)])
    assert not IndexedEvent.objects.exists()


def test_empty_rows_write_nothing(network, django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_rows(IndexedEvent, EVENT_COLUMNS, [])
        none = insert_new(IndexedEvent, EVENT_COLUMNS, [], unique=EVENT_KEY, returning=RETURNING)
        upsert_rows(Holding, HOLDING_COLUMNS, [], unique=HOLDING_KEY, add=["balance"])
        changed = add_to_rows(Holding, "balance", HOLDING_KEY, [])

    assert (none, changed) == ([], 0)
    assert not IndexedEvent.objects.exists()


# --- insert_new ---


def test_insert_new_returns_the_keys_of_the_rows_it_inserted(network):
    rows = [event_row(network, 1, log_index=0), event_row(network, 1, log_index=3)]

    inserted = insert_new(IndexedEvent, EVENT_COLUMNS, rows, unique=EVENT_KEY, returning=RETURNING)

    stored = IndexedEvent.objects.values_list("id", "tx_hash", "log_index")
    assert sorted(inserted) == sorted(stored)
    assert sorted(key for _, *key in inserted) == [[tx(1), 0], [tx(1), 3]]


def test_insert_new_skips_rows_already_stored(network):
    rows = [event_row(network, n) for n in range(3)]
    insert_new(IndexedEvent, EVENT_COLUMNS, rows, unique=EVENT_KEY, returning=RETURNING)
    first_args = dict(IndexedEvent.objects.values_list("tx_hash", "args"))

    again = [event_row(network, n, args={"changed": True}) for n in range(3)]
    inserted = insert_new(IndexedEvent, EVENT_COLUMNS, again, unique=EVENT_KEY, returning=RETURNING)

    assert inserted == []
    assert IndexedEvent.objects.count() == 3
    assert dict(IndexedEvent.objects.values_list("tx_hash", "args")) == first_args  # not updated


def test_insert_new_of_old_and_new_rows_returns_only_the_new(network):
    old = [event_row(network, n) for n in (1, 3)]
    insert_new(IndexedEvent, EVENT_COLUMNS, old, unique=EVENT_KEY, returning=RETURNING)

    mixed = [event_row(network, n) for n in (1, 2, 3, 4)]
    inserted = insert_new(IndexedEvent, EVENT_COLUMNS, mixed, unique=EVENT_KEY, returning=RETURNING)

    assert sorted(tx_hash for _, tx_hash, _ in inserted) == [tx(2), tx(4)]
    for pk, tx_hash, log_index in inserted:
        assert IndexedEvent.objects.get(tx_hash=tx_hash, log_index=log_index).pk == pk
    assert IndexedEvent.objects.count() == 4


def test_insert_new_splits_a_large_batch_and_returns_every_id(network, django_assert_num_queries):
    count = 1_200  # 14,400 parameters: past SQLite's old 999 and three statements' worth
    rows = [event_row(network, n) for n in range(count)]

    with django_assert_num_queries(math.ceil(count / MAX_ROWS_PER_STATEMENT)):
        inserted = insert_new(
            IndexedEvent, EVENT_COLUMNS, rows, unique=EVENT_KEY, returning=RETURNING
        )

    assert len(inserted) == count
    assert {tx_hash: pk for pk, tx_hash, _ in inserted} == dict(
        IndexedEvent.objects.values_list("tx_hash", "id")
    )


# --- upsert_rows and add_to_rows ---


def test_upsert_rows_adds_to_stored_keys_and_inserts_new_ones(network):
    holding(network, ALICE, 10)
    holding(network, ALICE, 1, token_id=2)  # another key of the same holder
    rows = [(network.pk, TOKEN, Decimal(1), ALICE, Decimal(5)), (network.pk, TOKEN, 1, BOB, 7)]

    upsert_rows(Holding, HOLDING_COLUMNS, rows, unique=HOLDING_KEY, add=["balance"])

    assert balances(network) == {ALICE: 15, BOB: 7}
    assert balances(network, token_id=2) == {ALICE: 1}
    assert Holding.objects.count() == 3


def test_upsert_rows_replaces_only_the_named_columns(network):
    insert_rows(License, LICENSE_COLUMNS, [license_row(network, ALICE), license_row(network, BOB)])
    rows = [
        license_row(network, ALICE, expires_at=999, terms="0xnew", revoked=True),
        license_row(network, CAROL, expires_at=5, terms="0xcarol"),
    ]

    upsert_rows(
        License, LICENSE_COLUMNS, rows, unique=LICENSE_KEY, replace=["expires_at", "revoked"]
    )

    alice, bob, carol = (License.objects.get(holder=h) for h in (ALICE, BOB, CAROL))
    assert (alice.expires_at, alice.revoked, alice.terms_hash) == (999, True, "0xt")
    assert (bob.expires_at, bob.revoked, bob.terms_hash) == (100, False, "0xt")
    assert (carol.expires_at, carol.terms_hash) == (5, "0xcarol")


def test_upsert_rows_replacing_every_license_field(network):
    insert_rows(License, LICENSE_COLUMNS, [license_row(network, ALICE)])

    new = license_row(network, ALICE, expires_at=0, terms="0xnew", revoked=True)
    upsert_rows(License, LICENSE_COLUMNS, [new], unique=LICENSE_KEY, replace=LICENSE_FIELDS)

    alice = License.objects.get()
    assert (alice.expires_at, alice.terms_hash, alice.revoked) == (0, "0xnew", True)


def test_upsert_rows_without_replace_or_add_raises(network):
    rows = [(network.pk, TOKEN, 1, ALICE, 5)]

    with pytest.raises(ValueError, match="replace or add"):
        upsert_rows(Holding, HOLDING_COLUMNS, rows, unique=HOLDING_KEY)
    assert not Holding.objects.exists()


def test_add_to_rows_subtracts_and_counts_the_rows_changed(network):
    holding(network, ALICE, 10)
    holding(network, BOB, 4)
    losses = [(Decimal(-3), network.pk, TOKEN, 1, ALICE), (Decimal(-4), network.pk, TOKEN, 1, BOB)]

    assert add_to_rows(Holding, "balance", HOLDING_KEY, losses) == 2
    assert balances(network) == {ALICE: 7, BOB: 0}


def test_add_to_rows_changes_nothing_for_a_key_not_stored(network):
    holding(network, ALICE, 10)
    losses = [(-1, network.pk, TOKEN, 1, ALICE), (-1, network.pk, TOKEN, 1, CAROL)]

    assert add_to_rows(Holding, "balance", HOLDING_KEY, losses) == 1
    assert balances(network) == {ALICE: 9}


# --- through the projector ---


def transfer(network, n: int, sender: str, receiver: str, value: int) -> Event:
    """A TransferSingle of token 1, stored as an IndexedEvent and seen as the sync hands it on."""
    args = {"operator": sender, "from": sender, "to": receiver, "id": 1, "value": value}
    row = IndexedEvent.objects.create(
        network=network,
        chain_id=network.chain_id,
        contract_name="LicenseToken",
        address=TOKEN,
        name="TransferSingle",
        args=args,
        block_number=n,
        block_hash="0x" + "bb" * 32,
        tx_hash=tx(n),
        log_index=0,
    )
    return Event.from_row(row, network)


def test_projector_moves_a_stored_holding(network):
    holding(network, ALICE, 10)
    projector = BatchProjector(network)
    projector.feed(transfer(network, 1, ALICE, BOB, 4))
    projector.feed(transfer(network, 2, ALICE, CAROL, 1))

    projector.flush()

    assert balances(network) == {ALICE: 5, BOB: 4, CAROL: 1}
    assert HoldingChange.objects.filter(holder=ALICE).count() == 2


def test_projector_raises_on_a_transfer_out_of_a_holding_never_received(network):
    holding(network, ALICE, 10)
    projector = BatchProjector(network)
    projector.feed(transfer(network, 1, ALICE, BOB, 4))
    projector.feed(transfer(network, 2, CAROL, BOB, 1))  # carol holds nothing

    with pytest.raises(ProjectionError, match="1 transfers out"):
        projector.flush()
    assert not Holding.objects.filter(holder=CAROL).exists()
