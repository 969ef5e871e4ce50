"""Decoding our contracts' logs: the event and its arguments as JSON values, with eth_abi.

Addresses are read as ``uint160`` and checksummed through a cache, and each event's decoder is
built once per contract from its artifact's ABI: web3's ``get_event_data`` normalizers cost five
times as much, and decoding is most of a backfill's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import event_abi_to_log_topic, to_checksum_address
from hexbytes import HexBytes

from chain import handlers
from chain.abi import load_artifact
from chain.models import Network


@dataclass(frozen=True)
class _EventDecoder:
    """Decodes one event's logs with eth_abi (one call for the data, one per indexed topic)."""

    name: str
    names: tuple[str, ...]  # in ABI order
    indexed: tuple[tuple[int, str], ...]  # (position, type) of indexed inputs
    data: tuple[tuple[int, str], ...]  # (position, type) of the others

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
        return checksum(f"0x{value:040x}")
    if kind.startswith("address["):
        return [checksum(f"0x{item:040x}") for item in value]
    return value


def _decode_topic(kind: str, raw: bytes) -> Any:
    """One indexed value (a dynamic one is stored as its keccak: the hash is kept)."""
    if kind == "address":
        return checksum("0x" + raw[-20:].hex())
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


@lru_cache(maxsize=4096)
def checksum(address: str) -> str:
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


def hex_int(value) -> int:
    """A JSON-RPC quantity (0x-hex, or already a number) as an int."""
    return int(value, 16) if isinstance(value, str) else int(value)


def decode_events(
    network: Network,
    contract: str,
    logs: list[dict],
    head: int,
    times: dict[str, datetime] | None = None,
) -> list[handlers.Event]:
    """The events of one range's ``logs`` of ``contract`` (unknown events skipped), marked
    final when ``confirmation_depth`` blocks under ``head``, with their block's time from
    ``times`` (block hash -> time)."""
    final_below = head - network.confirmation_depth
    times = times or {}
    events = []
    for log in logs:
        decoded = decode_log(contract, log)
        if decoded is None:
            continue
        number = hex_int(log["blockNumber"])
        events.append(
            handlers.Event(
                network,
                contract,
                checksum(log["address"]),
                decoded[0],
                decoded[1],
                number,
                log["blockHash"],
                log["transactionHash"],
                hex_int(log["logIndex"]),
                number <= final_below,
                block_time=times.get(log["blockHash"]),
            )
        )
    return events
