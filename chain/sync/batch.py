"""Writing one range's batch: its events, their projections, the kept hashes and the cursor, in
one database transaction (a crash loses and duplicates nothing; rows are unique on chain id, tx
hash and log index, so a rerun of a range writes nothing twice).

Rows go to the driver as tuples (``chain.fastsql``): model instances and ``bulk_create``'s
value-by-value SQL cost most of a backfill's time.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from chain import handlers
from chain.fastsql import adapter, insert_new
from chain.models import IndexedEvent, Network, SyncCursor
from chain.sync.context import SyncPass
from chain.sync.decode import decode_events, hex_int
from chain.sync.reorg import block_hash, keep_hashes
from chain.sync.times import block_times

EVENT_COLUMNS = (
    "network_id",
    "chain_id",
    "contract_name",
    "address",
    "name",
    "args",
    "block_number",
    "block_hash",
    "tx_hash",
    "log_index",
    "final",
    "block_time",
    "indexed_at",
)


def write_batch(sync_pass: SyncPass, cursor: SyncCursor, logs: list[dict], end: int) -> None:
    """Write one range's events (up to block ``end``), their projections and the cursor in one
    transaction. The range end's hash is kept when it is in the unfinalized window: the logs'
    own hash first, else the pass's cached read of the node."""
    network, head, stats = sync_pass.network, sync_pass.head, sync_pass.stats
    hashes = {hex_int(log["blockNumber"]): log["blockHash"] for log in logs}
    if end not in hashes and end >= sync_pass.window_start:
        end_hashes = sync_pass.end_hashes
        if end not in end_hashes:
            end_hashes[end] = block_hash(sync_pass.w3, end)
        if end_hashes[end]:
            hashes[end] = end_hashes[end]
    times = block_times(sync_pass.w3, logs, sync_pass.block_times)  # may ask the node
    events = decode_events(network, cursor.contract_name, logs, head, times)
    stats.events += len(events)
    with transaction.atomic():
        locked = SyncCursor.objects.select_for_update().get(pk=cursor.pk)
        if locked.last_block >= end:  # another worker wrote this range meanwhile
            cursor.last_block = locked.last_block
            return
        keep_hashes(sync_pass, hashes)
        new = insert_events(network, events)
        handlers.dispatch_batch(new)
        stats.new_events += len(new)
        cursor.last_block = end
        cursor.head_seen = head
        cursor.last_error = ""
        cursor.save(update_fields=["last_block", "head_seen", "last_error", "updated_at"])


def insert_events(network: Network, events: list[handlers.Event]) -> list[handlers.Event]:
    """Insert the events not stored yet (unique on chain id, tx hash, log index) and return
    those, with their keys; the ones already there are left as they are."""
    now = adapter(IndexedEvent, "indexed_at")(timezone.now())
    to_json = adapter(IndexedEvent, "args")
    to_time = adapter(IndexedEvent, "block_time")
    times = {t: to_time(t) for t in {e.block_time for e in events}}  # once per block
    network_id, chain_id = network.pk, network.chain_id
    rows = [
        (
            network_id,
            chain_id,
            e.contract_name,
            e.address,
            e.name,
            to_json(e.args),
            e.block_number,
            e.block_hash,
            e.tx_hash,
            e.log_index,
            e.final,
            times[e.block_time],
            now,
        )
        for e in events
    ]
    inserted = insert_new(
        IndexedEvent,
        EVENT_COLUMNS,
        rows,
        unique=("chain_id", "tx_hash", "log_index"),
        returning=("id", "tx_hash", "log_index"),
    )
    keys = {(tx_hash, log_index): pk for pk, tx_hash, log_index in inserted}
    new = []
    for event in events:
        event.pk = keys.get((event.tx_hash, event.log_index))
        if event.pk is not None:
            new.append(event)
    return new
