"""The bulk writers of ``chain.fastsql`` against the configured database (SQLite or PostgreSQL),
on the chain's own table (``IndexedEvent``); ``licensing/tests/test_fastsql_projections.py``
writes the projections' tables (decimals past 2**53, upserts, additions) with them."""

from __future__ import annotations

import datetime
import math

import pytest

from chain.fastsql import MAX_ROWS_PER_STATEMENT, adapter, insert_new, insert_rows
from chain.models import IndexedEvent, Network
from chain.sync import EVENT_COLUMNS

pytestmark = pytest.mark.django_db

TOKEN = "0x" + "11" * 20
EVENT_KEY = ("chain_id", "tx_hash", "log_index")
RETURNING = ("id", "tx_hash", "log_index")


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
        adapter(IndexedEvent, "block_time")(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)),
        adapter(IndexedEvent, "indexed_at")(datetime.datetime.now(datetime.UTC)),
    )


# --- insert_rows ---


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

    assert none == []
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
