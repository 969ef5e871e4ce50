"""Block times of a range's logs, for projections that record when something happened.

The log's own ``blockTimestamp`` where the node gives it (anvil, and the clients that follow
the execution API's log object since 2024), else one ``eth_getBlockByHash`` per distinct
block, sent as JSON-RPC batches. By hash, not by number: the time is the one of the very block
that holds the log, so a reorg between ``eth_getLogs`` and this read cannot pair a log with
another branch's block. A block the node no longer has is a reorg (``ReorgDetected``): the
pass starts again and fetches the logs of the canonical chain.
"""

from __future__ import annotations

from datetime import UTC, datetime

from web3 import Web3

from chain.sync.decode import hex_int
from chain.sync.reorg import ReorgDetected

BATCH_SIZE = 100  # calls per JSON-RPC batch (hosted providers cap batches at 100 to 1,000)


def block_times(
    w3: Web3, logs: list[dict], read: dict[str, datetime] | None = None
) -> dict[str, datetime]:
    """Block hash -> the block's time (aware, UTC) for every block of ``logs``. Blocks read
    from the node are added to ``read`` (the pass's cache: a hash names one block forever)."""
    read = {} if read is None else read
    times: dict[str, datetime] = {}
    missing: dict[str, int] = {}  # block hash -> number, for the blocks read from the node
    for log in logs:
        block = log["blockHash"]
        if block in times or block in missing:
            continue
        stamp = log.get("blockTimestamp")
        if stamp is not None:
            times[block] = utc(hex_int(stamp))
        elif block in read:
            times[block] = read[block]
        else:
            missing[block] = hex_int(log["blockNumber"])
    if missing:
        fetched = _read_blocks(w3, missing)
        read.update(fetched)
        times.update(fetched)
    return times


def utc(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _read_blocks(w3: Web3, missing: dict[str, int]) -> dict[str, datetime]:
    hashes = list(missing)
    found: dict[str, datetime] = {}
    for start in range(0, len(hashes), BATCH_SIZE):
        part = hashes[start : start + BATCH_SIZE]
        answers = rpc_batch(w3, [("eth_getBlockByHash", [block, False]) for block in part])
        for block, answer in zip(part, answers, strict=True):
            header = answer.get("result")
            if header:
                found[block] = utc(hex_int(header["timestamp"]))
            elif answer.get("error"):
                raise RuntimeError(f"eth_getBlockByHash failed: {answer['error']}")
            else:
                raise ReorgDetected(missing[block])  # the block left the chain meanwhile
    return found


def rpc_batch(w3: Web3, calls: list[tuple[str, list]]) -> list[dict]:
    """The answers to ``calls`` (method, params), in order: one JSON-RPC batch where the
    provider sends batches, else (or when the batch as a whole is refused) one call each."""
    make_batch = getattr(w3.provider, "make_batch_request", None)
    if make_batch is not None and len(calls) > 1:
        answers = make_batch(calls)
        if isinstance(answers, list) and len(answers) == len(calls):
            return [dict(answer) for answer in answers]
    return [dict(w3.provider.make_request(method, params)) for method, params in calls]
