"""Index our contracts' events into the database, safely across restarts, limits and reorgs.

Rules (../shared/DESIGN.md, "Chain sync rules"):

- a cursor per (network, contract); each batch of logs is written in one transaction together
  with the cursor, so a crash loses and duplicates nothing, and rows are unique on
  (chain id, tx hash, log index) so a rerun of a range writes nothing twice;
- ``eth_getLogs`` ranges shrink when the provider refuses (a range or result-count limit; its
  hinted range is used only when it is a real, smaller range starting where we asked) and grow
  while results are sparse;
- blocks at least ``confirmation_depth`` behind the head are final; hashes of indexed blocks in
  the window above (those with logs, and each range's end) are kept, and one that no longer
  matches the node means a reorg. The fork can be any block above the highest kept block that
  still matches (a match proves every block under it; a block without our logs may have been
  replaced too), so every event from just above that block on is deleted, projections are told
  (``chain.handlers``), the cursors step back to it, and the pass indexes the canonical chain.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone
from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3

from chain import handlers
from chain.abi import load_artifact
from chain.client import web3_for
from chain.fastsql import adapter, insert_new
from chain.models import BlockRecord, Deployment, IndexedEvent, Network, Reorg, SyncCursor

logger = logging.getLogger(__name__)

LIMIT_WORDS = (
    "range",
    "more than",
    "limit",
    "exceed",
    "too many",
    "response size",
    "too large",
    "query timeout",
    "results",
)
HINT = re.compile(r"\[\s*(0x[0-9a-fA-F]+|\d+)\s*,\s*(0x[0-9a-fA-F]+|\d+)\s*\]")
# "query returned more than 10000 results"
RESULT_CAP = re.compile(r"more than\s+([\d,]+)\s+results", re.IGNORECASE)
# "exceed maximum block range: 500", "limited to a 10,000 range", "up to a 2000 block range"
MAX_SPAN = re.compile(r"(?:block range:?|limited to an? |up to an? )\s*([\d,]+)", re.IGNORECASE)


class RangeRefused(Exception):
    """The provider refused a log query for its size (range or result count)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ReorgDetected(Exception):
    def __init__(self, block: int):
        super().__init__(f"block {block} changed under the sync")
        self.block = block


@dataclass
class SyncStats:
    head: int = 0
    events: int = 0
    new_events: int = 0
    get_logs_calls: int = 0
    refused: int = 0
    reorgs: list[int] = field(default_factory=list)


# --- decoding ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EventDecoder:
    """Decodes one event's logs with eth_abi (one call for the data, one per indexed topic)."""

    name: str
    names: tuple[str, ...]  # in ABI order
    indexed: tuple[tuple[int, str], ...]  # (position, type) of indexed inputs
    data: tuple[tuple[int, str], ...]  # (position, type) of the others
    types: tuple[str, ...]  # every input's canonical type, in ABI order

    def decode(self, topics: list, data: bytes) -> dict:
        values: list[Any] = [None] * len(self.names)
        for (position, kind), topic in zip(self.indexed, topics[1:], strict=True):
            values[position] = _decode_topic(kind, bytes(HexBytes(topic)))
        if self.data:
            # addresses are read as uint160 and formatted here: eth_abi's address decoder
            # normalizes each one through several layers, which dominated the sync's time
            decoded = abi_decode([_fast_type(kind) for _, kind in self.data], data)
            for (position, kind), value in zip(self.data, decoded, strict=True):
                values[position] = _address_value(kind, value)
        return {name: _plain(value) for name, value in zip(self.names, values, strict=True)}


def _fast_type(kind: str) -> str:
    return kind.replace("address", "uint160")


def _address_value(kind: str, value: Any) -> Any:
    if kind == "address":
        return _checksum(f"0x{value:040x}")
    if kind.startswith("address["):
        return [_checksum(f"0x{item:040x}") for item in value]
    return value


def _decode_topic(kind: str, raw: bytes) -> Any:
    """One indexed value (a dynamic one is stored as its keccak: the hash is kept)."""
    if kind == "address":
        return _checksum("0x" + raw[-20:].hex())
    if kind.startswith("uint"):
        return int.from_bytes(raw, "big")
    if kind.startswith("int"):
        return int.from_bytes(raw, "big", signed=True)
    if kind == "bool":
        return raw != b"\x00" * 32
    if kind.startswith("bytes") and kind != "bytes":
        return raw[: int(kind[5:])]
    return raw


def _abi_type(item: dict) -> str:
    kind = item["type"]
    if kind.startswith("tuple"):
        return f"({','.join(_abi_type(c) for c in item['components'])}){kind[len('tuple') :]}"
    return kind


def _is_dynamic(kind: str) -> bool:
    return kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")


@lru_cache(maxsize=4096)
def _checksum(address: str) -> str:
    return to_checksum_address(address)


@lru_cache(maxsize=16)
def _event_index(contract_name: str) -> dict[bytes, _EventDecoder]:
    """topic0 -> decoder, for every event of the contract (inherited ones included)."""
    index = {}
    for item in load_artifact(contract_name).abi:
        if item.get("type") != "event" or item.get("anonymous"):
            continue
        inputs = item["inputs"]
        index[bytes(event_abi_to_log_topic(item))] = _EventDecoder(
            name=item["name"],
            names=tuple(arg["name"] for arg in inputs),
            indexed=tuple((i, _abi_type(a)) for i, a in enumerate(inputs) if a["indexed"]),
            data=tuple((i, _abi_type(a)) for i, a in enumerate(inputs) if not a["indexed"]),
            types=tuple(_abi_type(a) for a in inputs),
        )
    return index


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        return str(value)  # JSON numbers lose precision past 2**53 in most readers
    return value


def decode_log(contract_name: str, log: dict) -> tuple[str, dict] | None:
    """(event name, arguments as JSON values) of one raw log, or None for an unknown event."""
    topics = log.get("topics") or []
    if not topics:
        return None
    decoder = _event_index(contract_name).get(bytes(HexBytes(topics[0])))
    if decoder is None:
        return None
    return decoder.name, decoder.decode(topics, bytes(HexBytes(log["data"])))


def _int(value) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


# --- fetching with an adaptive range ---


class RangeSizer:
    """The block span of the next ``eth_getLogs``: shrinks on refusals, grows while sparse.

    What the provider says about its limits (a maximum range, a result cap) holds for every
    contract of the network; the density of logs is each contract's own (``next_contract``).
    """

    HISTORY_WEIGHT = 0.5  # each earlier served range counts half as much as the next one
    CAP_FILL = 0.7  # aim at this share of a learned result cap
    GROWTH = 8  # a span grows at most this many times over the last one

    def __init__(self, initial: int, maximum: int, sparse: int):
        self.span = initial
        self.maximum = maximum
        self.sparse = sparse
        self.result_cap: int | None = None  # learned from "more than N results"
        self._logs = 0.0  # decayed sums over the ranges served for this contract
        self._blocks = 0.0

    def next_contract(self) -> None:
        """Forget the density of the contract just indexed (keep the provider's limits)."""
        self._logs = self._blocks = 0.0
        self.span = min(self.span, self.maximum)

    def refused(self, asked_from: int, asked_to: int, message: str) -> None:
        asked = asked_to - asked_from + 1
        hinted = self._hint(asked_from, asked_to, message)
        if hinted is None:
            hinted = self._stated_maximum(message, asked)
        self.span = hinted if hinted is not None else max(1, asked // 2)
        lowered = message.lower()
        result_limit = "more than" in lowered or "results" in lowered
        if result_limit:
            cap = RESULT_CAP.search(message)
            if cap is not None:
                self.result_cap = int(cap.group(1).replace(",", ""))
        elif hinted is not None:
            self.maximum = min(self.maximum, hinted)  # a range limit holds for every query

    @staticmethod
    def _stated_maximum(message: str, asked: int) -> int | None:
        match = MAX_SPAN.search(message)
        if match is None:
            return None
        stated = int(match.group(1).replace(",", ""))
        return stated if 0 < stated < asked else None

    @staticmethod
    def _hint(asked_from: int, asked_to: int, message: str) -> int | None:
        match = HINT.search(message)
        if match is None:
            return None
        start, end = (_int(part) for part in match.groups())
        if start != asked_from or end < start or end >= asked_to:
            return None  # a hint that is wrong, reversed, or not smaller than what was asked
        return end - start + 1

    def served(self, asked: int, results: int) -> None:
        """Size the next span from the recent density of logs, aiming at ``CAP_FILL`` of a
        learned result cap (or at ``sparse`` results). Logs come in bursts, so one range's
        density is a poor guess: the ranges served are summed, older ones weighing less."""
        self._logs = self._logs * self.HISTORY_WEIGHT + results
        self._blocks = self._blocks * self.HISTORY_WEIGHT + asked
        target = self.result_cap * self.CAP_FILL if self.result_cap else self.sparse
        growth = asked * self.GROWTH
        desired = growth if self._logs == 0 else int(self._blocks * target / self._logs)
        self.span = max(1, min(self.maximum, desired, growth))


def get_logs(w3: Web3, address: str, start: int, end: int, stats: SyncStats) -> list[dict]:
    """``eth_getLogs`` for one range; RangeRefused when the provider says it is too big."""
    stats.get_logs_calls += 1
    params = {"address": address, "fromBlock": hex(start), "toBlock": hex(end)}
    response = w3.provider.make_request("eth_getLogs", [params])
    error = response.get("error")
    if error:
        message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
        if any(word in message.lower() for word in LIMIT_WORDS):
            stats.refused += 1
            raise RangeRefused(message)
        raise RuntimeError(f"eth_getLogs failed: {message}")
    return list(response["result"])


# --- the sync -------------------------------------------------------------------------------------


def _block_hash(w3: Web3, number: int) -> str | None:
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
        current = _block_hash(w3, record.number)  # None above the node's head
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
        elif _block_hash(w3, row[0]) == row[1]:
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


def _keep_hashes(network: Network, hashes: dict[int, str], head: int) -> None:
    """Keep the hashes of the unfinalized window's blocks; one kept differently is a reorg.
    (A record another worker writes meanwhile is left to the next pass's check.)"""
    window_start = head - network.confirmation_depth - 1
    wanted = {number: h for number, h in hashes.items() if number >= window_start}
    if not wanted:
        return
    kept = BlockRecord.objects.filter(network=network, number__in=wanted)
    stored = dict(kept.values_list("number", "hash"))
    for number, block_hash in stored.items():
        if wanted[number] != block_hash:
            raise ReorgDetected(number)
    new = [
        BlockRecord(network=network, number=number, hash=block_hash)
        for number, block_hash in wanted.items()
        if number not in stored
    ]
    BlockRecord.objects.bulk_create(new, ignore_conflicts=True)


# A test hook: called after each event is written (a failure injected here must lose nothing).
after_event_written: Callable[[handlers.Event], None] | None = None

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
    "indexed_at",
)


def _decode_batch(network, cursor, logs, head) -> list[handlers.Event]:
    final_below = head - network.confirmation_depth
    contract = cursor.contract_name
    events = []
    for log in logs:
        decoded = decode_log(contract, log)
        if decoded is None:
            continue
        number = _int(log["blockNumber"])
        events.append(
            handlers.Event(
                network,
                contract,
                _checksum(log["address"]),
                decoded[0],
                decoded[1],
                number,
                log["blockHash"],
                log["transactionHash"],
                _int(log["logIndex"]),
                number <= final_below,
            )
        )
    return events


def _write_batch(w3, network, cursor, logs, end, head, stats, end_hashes: dict) -> None:
    """Write one range's events, their projections and the cursor in one transaction.

    ``end_hashes`` caches, for one pass, the hashes of range ends in the unfinalized window
    (every contract's last range ends at the head); a hash the logs carry is used first."""
    hashes = {_int(log["blockNumber"]): log["blockHash"] for log in logs}
    if end not in hashes and end >= head - network.confirmation_depth - 1:
        if end not in end_hashes:
            end_hashes[end] = _block_hash(w3, end)
        if end_hashes[end]:
            hashes[end] = end_hashes[end]
    events = _decode_batch(network, cursor, logs, head)
    stats.events += len(events)
    with transaction.atomic():
        locked = SyncCursor.objects.select_for_update().get(pk=cursor.pk)
        if locked.last_block >= end:  # another worker wrote this range meanwhile
            cursor.last_block = locked.last_block
            return
        _keep_hashes(network, hashes, head)
        new = _insert_events(network, events)
        if after_event_written is not None:
            for event in new:
                after_event_written(event)
        handlers.dispatch_batch(new)
        stats.new_events += len(new)
        cursor.last_block = end
        cursor.head_seen = head
        cursor.last_error = ""
        cursor.save(update_fields=["last_block", "head_seen", "last_error", "updated_at"])


def _insert_events(network: Network, events: list[handlers.Event]) -> list[handlers.Event]:
    """Insert the events not stored yet (unique on chain id, tx hash, log index) and return
    those, with their keys; the ones already there are left as they are."""
    now = adapter(IndexedEvent, "indexed_at")(timezone.now())
    to_json = adapter(IndexedEvent, "args")
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


def _cursor_for(network: Network, deployment: Deployment) -> SyncCursor:
    cursor, created = SyncCursor.objects.get_or_create(
        network=network,
        contract_name=deployment.contract_name,
        defaults={"address": deployment.address, "last_block": deployment.deploy_block - 1},
    )
    if not created and cursor.address != deployment.address:  # redeployed: start afresh
        cursor.address = deployment.address
        cursor.last_block = deployment.deploy_block - 1
        cursor.save()
    return cursor


def sync_network(
    *,
    network: Network,
    to_block: int | None = None,
    from_block: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    w3: Web3 | None = None,
) -> SyncStats:
    """Index every deployed contract of ``network`` up to the head (or ``to_block``)."""
    w3 = w3 or web3_for(network.rpc_url)
    stats = SyncStats()
    try:
        for _attempt in range(5):  # a reorg noticed mid-run rolls back, then the pass restarts
            try:
                _sync_pass(w3, network, stats, to_block, from_block, progress)
                from_block = None
                break
            except ReorgDetected:
                check_reorg(w3, network, stats)
    except Exception as exc:  # shown on the cursors in the admin, then raised for the task
        SyncCursor.objects.filter(network=network).update(
            last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    _finalize(network, stats.head)
    return stats


def _sync_pass(w3, network, stats, to_block, from_block, progress) -> None:
    head = w3.eth.block_number if to_block is None else to_block
    stats.head = head
    check_reorg(w3, network, stats)
    sizer = RangeSizer(
        settings.CHAIN_SYNC_INITIAL_SPAN, settings.CHAIN_SYNC_MAX_SPAN, settings.CHAIN_SYNC_SPARSE
    )
    end_hashes: dict[int, str | None] = {}
    for deployment in Deployment.objects.filter(network=network).order_by("contract_name"):
        cursor = _cursor_for(network, deployment)
        sizer.next_contract()
        if from_block is not None and from_block - 1 < cursor.last_block:
            cursor.last_block = max(from_block, deployment.deploy_block) - 1
            cursor.save(update_fields=["last_block", "updated_at"])  # rows are idempotent
        start = cursor.last_block + 1
        while start <= head:
            end = min(start + sizer.span - 1, head)
            try:
                logs = get_logs(w3, deployment.address, start, end, stats)
            except RangeRefused as refused:
                if end == start:
                    raise RuntimeError(f"the provider refuses even one block: {refused}") from None
                sizer.refused(start, end, refused.message)
                continue
            sizer.served(end - start + 1, len(logs))
            _write_batch(w3, network, cursor, logs, end, head, stats, end_hashes)
            if progress is not None:
                progress(deployment.contract_name, end, head)
            start = end + 1


def _finalize(network: Network, head: int) -> None:
    SyncCursor.objects.filter(network=network).exclude(last_error="").update(last_error="")
    final_below = head - network.confirmation_depth
    IndexedEvent.objects.filter(network=network, final=False, block_number__lte=final_below).update(
        final=True
    )
    keep_from = final_below - network.confirmation_depth - 1
    BlockRecord.objects.filter(network=network, number__lt=keep_from).delete()
