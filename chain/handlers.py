"""The registry through which other apps project our contracts' events.

``chain`` imports no other app: an app registers its projections here from its
``AppConfig.ready()``. Handlers run inside the sync's database transaction, so a failure rolls
back the batch and its cursor together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Event:
    """One decoded log as handlers see it: the fields of its ``IndexedEvent`` row, ``pk``
    included once written (a plain record: the sync makes thousands a second)."""

    network: Any  # chain.models.Network
    contract_name: str
    address: str
    name: str
    args: dict
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    final: bool = False
    pk: int | None = None
    block_time: datetime | None = None  # the block's timestamp (aware, UTC)

    @classmethod
    def from_row(cls, row, network=None) -> Event:
        """The record of a stored ``IndexedEvent`` (of ``network``, when the caller has it)."""
        return cls(
            network=network if network is not None else row.network,
            contract_name=row.contract_name,
            address=row.address,
            name=row.name,
            args=row.args,
            block_number=row.block_number,
            block_hash=row.block_hash,
            tx_hash=row.tx_hash,
            log_index=row.log_index,
            final=row.final,
            pk=row.pk,
            block_time=row.block_time,
        )


EventHandler = Callable[[Event], None]
RollbackHandler = Callable[..., None]

_event_handlers: dict[tuple[str, str], list[EventHandler]] = defaultdict(list)
_batch_handlers: list[Callable[[list], None]] = []
_rollback_handlers: list[RollbackHandler] = []


def on_batch(handler: Callable[[list], None]) -> Callable[[list], None]:
    """Register ``handler(events)``: called once per written batch with its new events
    (``Event`` records with their keys), in chain order, for projections that write in bulk."""
    if handler not in _batch_handlers:
        _batch_handlers.append(handler)
    return handler


def on_event(contract_name: str, *event_names: str):
    """Register ``handler(event)`` for these events of ``contract_name``."""

    def register(handler: EventHandler) -> EventHandler:
        for name in event_names:
            if handler not in _event_handlers[(contract_name, name)]:
                _event_handlers[(contract_name, name)].append(handler)
        return handler

    return register


def on_rollback(handler: RollbackHandler) -> RollbackHandler:
    """Register ``handler(network=, fork_block=, removed=)``: called after a reorg deleted the
    events from ``fork_block`` on (``removed`` lists them as ``Event`` records, as they were)."""
    if handler not in _rollback_handlers:
        _rollback_handlers.append(handler)
    return handler


def dispatch(event) -> None:
    for handler in _event_handlers.get((event.contract_name, event.name), ()):
        handler(event)


def dispatch_batch(events: list) -> None:
    for handler in _batch_handlers:
        handler(events)
    if _event_handlers:
        for event in events:
            dispatch(event)


def dispatch_rollback(*, network, fork_block: int, removed: list) -> None:
    for handler in _rollback_handlers:
        handler(network=network, fork_block=fork_block, removed=removed)
