"""What a sync hands from step to step: its counters and the pass it is in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from web3 import Web3

from chain.models import Network


@dataclass
class SyncStats:
    """What one ``sync_network`` call did (for the command's report, logs and tests)."""

    head: int = 0
    events: int = 0
    new_events: int = 0
    get_logs_calls: int = 0
    refused: int = 0
    reorgs: list[int] = field(default_factory=list)


@dataclass
class SyncPass:
    """One pass over a network's contracts, up to ``head``: the node it reads, what it counts,
    the hashes of range ends it read (every contract's last range ends at the head, so the
    pass reads that block's hash once) and the block times it read (by block hash)."""

    w3: Web3
    network: Network
    stats: SyncStats
    head: int
    end_hashes: dict[int, str | None] = field(default_factory=dict)
    # block hash -> its time, read once per pass (a block can hold several contracts' logs)
    block_times: dict[str, datetime] = field(default_factory=dict)

    @property
    def window_start(self) -> int:
        """The lowest block whose hash is kept: the unfinalized window and the block under it."""
        return self.head - self.network.confirmation_depth - 1
