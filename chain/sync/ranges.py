"""Range sizing: ``eth_getLogs`` spans that shrink on a provider's refusals and grow while sparse.

A refusal (a range or result-count limit, in any of the hosted providers' wordings) shrinks the
span to the provider's hinted range only when the hint is a real, smaller range starting where
we asked, else to a stated maximum, else by half; a range limit caps every later span and a
result cap is learned. After each answer the next span is sized from the recent density of logs.
"""

from __future__ import annotations

import re

from web3 import Web3

from chain.sync.context import SyncStats
from chain.sync.decode import hex_int

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
        start, end = (hex_int(part) for part in match.groups())
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
