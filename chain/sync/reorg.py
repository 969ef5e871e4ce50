"""Reorgs: the kept block hashes of the unfinalized window, and the rollback past a fork.

Hashes of indexed blocks in the window (those with logs, and each range's end) are kept; one
that no longer matches the node means a reorg. The fork can be any block above the highest kept
block that still matches (a match proves every block under it; a block without our logs may
have been replaced too), so every event from just above that block on is deleted, projections
are told (``chain.handlers``) and the cursors step back to it.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Max, Min
from web3 import Web3

from chain import handlers
from chain.models import BlockRecord, Deployment, IndexedEvent, Network, Reorg, SyncCursor
from chain.sync.context import SyncPass, SyncStats

logger = logging.getLogger(__name__)


class ReorgDetected(Exception):
    def __init__(self, block: int):
        super().__init__(f"block {block} changed under the sync")
        self.block = block


def block_hash(w3: Web3, number: int) -> str | None:
    """The node's hash of block ``number`` (None above its head)."""
    block = w3.provider.make_request("eth_getBlockByNumber", [hex(number), False]).get("result")
    return block["hash"] if block else None


def check_reorg(w3: Web3, network: Network, stats: SyncStats) -> None:
    """Walk the kept hashes down from the highest to the first the node still has; if any
    changed, roll back from just above that one (``_unchanged_below`` when none is left).

    Hashes are kept only for blocks with logs and range ends, so the fork can be an unkept block
    anywhere between the highest unchanged kept block and the lowest changed one: a block whose
    hash still matches proves every block under it, nothing else does."""
    changed = unchanged = None
    for record in BlockRecord.objects.filter(network=network).order_by("-number"):
        current = block_hash(w3, record.number)  # None above the node's head
        if current == record.hash:
            unchanged = record.number
            break
        changed = (record.number, record.hash, current or "")
    if changed is None:
        return
    number, old_hash, new_hash = changed
    if unchanged is None:
        unchanged = _unchanged_below(w3, network, number)
    fork = max(unchanged + 1, 0)
    rollback(
        network=network,
        fork_block=fork,
        changed_block=number,
        old_hash=old_hash,
        new_hash=new_hash,
    )
    stats.reorgs.append(fork)


def _unchanged_below(w3: Web3, network: Network, changed: int) -> int:
    """A block under ``changed`` (the lowest kept block, whose hash changed) that did not
    change: the last final one when ``changed`` is above it (a final block never changes, by
    the confirmation depth's assumption), else, the assumption broken, the highest block of an
    indexed event whose hash the node still has (or the one before the first deployment)."""
    final = _last_final_block(network)
    if changed > final:
        return final
    logger.error(
        "reorg on %s deeper than its confirmation depth: block %s changed, final up to %s",
        network,
        changed,
        final,
    )
    found = _highest_unchanged_event_block(w3, network, below=changed)
    if found is not None:
        return found
    first = Deployment.objects.filter(network=network).aggregate(first=Min("deploy_block"))
    return (first["first"] or 0) - 1


def _last_final_block(network: Network) -> int:
    """The highest block final under the highest head the index was written at."""
    seen = SyncCursor.objects.filter(network=network).aggregate(seen=Max("head_seen"))["seen"]
    return (seen or 0) - network.confirmation_depth


def _highest_unchanged_event_block(w3: Web3, network: Network, *, below: int) -> int | None:
    """The highest block under ``below`` holding an indexed event whose block hash the node
    still has, found by bisection (a block that matches proves every block under it)."""
    events = IndexedEvent.objects.filter(network=network).order_by("-block_number")
    found, low, high = None, 0, below - 1
    while low <= high:
        middle = (low + high) // 2
        in_range = events.filter(block_number__gte=low, block_number__lte=middle)
        row = in_range.values_list("block_number", "block_hash").first()
        if row is None:  # no event in [low, middle]
            low = middle + 1
        elif block_hash(w3, row[0]) == row[1]:
            found, low = row[0], middle + 1
        else:
            high = row[0] - 1
    return found


@transaction.atomic
def rollback(
    *,
    network: Network,
    fork_block: int,
    changed_block: int | None = None,
    old_hash: str = "",
    new_hash: str = "",
) -> Reorg:
    """Delete every event and projection from ``fork_block`` on, and step the cursors back.
    ``changed_block`` is the lowest kept block seen changed (``fork_block`` if not given)."""
    changed_block = fork_block if changed_block is None else changed_block
    removed_qs = IndexedEvent.objects.filter(network=network, block_number__gte=fork_block)
    removed = [
        handlers.Event.from_row(row, network)
        for row in removed_qs.order_by("block_number", "log_index")
    ]
    top = BlockRecord.objects.filter(network=network).order_by("-number").first()
    removed_qs.delete()
    handlers.dispatch_rollback(network=network, fork_block=fork_block, removed=removed)
    BlockRecord.objects.filter(network=network, number__gte=fork_block).delete()
    SyncCursor.objects.filter(network=network, last_block__gte=fork_block).update(
        last_block=fork_block - 1
    )
    depth = (top.number - fork_block + 1) if top else 0
    logger.warning(
        "reorg on %s from block %s (kept hashes changed from %s): %s events rolled back",
        network,
        fork_block,
        changed_block,
        len(removed),
    )
    return Reorg.objects.create(
        network=network,
        fork_block=fork_block,
        changed_block=changed_block,
        depth=depth,
        old_hash=old_hash,
        new_hash=new_hash,
        events_removed=len(removed),
    )


def keep_hashes(sync_pass: SyncPass, hashes: dict[int, str]) -> None:
    """Keep the hashes of the unfinalized window's blocks; one kept differently is a reorg.
    (A record another worker writes meanwhile is left to the next pass's check.)"""
    network = sync_pass.network
    window_start = sync_pass.window_start
    wanted = {number: h for number, h in hashes.items() if number >= window_start}
    if not wanted:
        return
    kept = BlockRecord.objects.filter(network=network, number__in=wanted)
    stored = dict(kept.values_list("number", "hash"))
    for number, stored_hash in stored.items():
        if wanted[number] != stored_hash:
            raise ReorgDetected(number)
    new = [
        BlockRecord(network=network, number=number, hash=wanted_hash)
        for number, wanted_hash in wanted.items()
        if number not in stored
    ]
    BlockRecord.objects.bulk_create(new, ignore_conflicts=True)
