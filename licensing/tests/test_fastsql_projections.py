"""``chain.fastsql``'s writers on the projections' tables, and ``BatchProjector`` through them,
against the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from chain.fastsql import add_to_rows, insert_rows, upsert_rows
from chain.handlers import Event
from chain.models import IndexedEvent, Network
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
BIG = 2**62 + 1  # past 2**53 (a float would lose it), within 63 bits


@pytest.fixture
def network():
    return Network.objects.create(name="testnet", chain_id=4242, confirmation_depth=3)


def tx(n: int) -> str:
    return f"0x{n:064x}"


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


# --- insert_rows and the column check ---


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


def test_a_column_not_in_the_table_raises(network):
    with pytest.raises(ValueError, match="colour"):
        insert_rows(Holding, [*HOLDING_COLUMNS, "colour"], [(network.pk, TOKEN, 1, ALICE, 1, 2)])
    assert not Holding.objects.exists()


def test_empty_rows_write_nothing(network, django_assert_num_queries):
    with django_assert_num_queries(0):
        upsert_rows(Holding, HOLDING_COLUMNS, [], unique=HOLDING_KEY, add=["balance"])
        changed = add_to_rows(Holding, "balance", HOLDING_KEY, [])

    assert changed == 0
    assert not Holding.objects.exists()


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
