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

The package, by concern:

- ``decode``: logs to events (eth_abi, cached checksums), ``decode_log``;
- ``ranges``: ``eth_getLogs`` and the span sizing (``RangeSizer``, ``RangeRefused``);
- ``reorg``: the kept hashes, ``check_reorg`` and ``rollback``;
- ``batch``: one range's events, projections, hashes and cursor in one transaction;
- ``run``: ``sync_network``, its passes and cursors;
- ``context``: what they hand on (``SyncStats``, ``SyncPass``).
"""

from chain.sync.batch import EVENT_COLUMNS, insert_events, write_batch
from chain.sync.context import SyncPass, SyncStats
from chain.sync.decode import decode_events, decode_log
from chain.sync.ranges import RangeRefused, RangeSizer, get_logs
from chain.sync.reorg import ReorgDetected, check_reorg, rollback
from chain.sync.run import SyncRun, sync_network

__all__ = [
    "EVENT_COLUMNS",
    "RangeRefused",
    "RangeSizer",
    "ReorgDetected",
    "SyncPass",
    "SyncRun",
    "SyncStats",
    "check_reorg",
    "decode_events",
    "decode_log",
    "get_logs",
    "insert_events",
    "rollback",
    "sync_network",
    "write_batch",
]
