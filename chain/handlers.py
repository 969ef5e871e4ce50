"""The registry through which other apps project our contracts' events.

``chain`` imports no other app: an app registers its projections here from its
``AppConfig.ready()``. Handlers run inside the sync's database transaction, so a failure rolls
back the batch and its cursor together.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

EventHandler = Callable[["IndexedEvent"], None]  # noqa: F821 - a string annotation only
RollbackHandler = Callable[..., None]

_event_handlers: dict[tuple[str, str], list[EventHandler]] = defaultdict(list)
_batch_handlers: list[Callable[[list], None]] = []
_rollback_handlers: list[RollbackHandler] = []


def on_batch(handler: Callable[[list], None]) -> Callable[[list], None]:
    """Register ``handler(events)``: called once per written batch with its new events, in
    chain order (for projections that write in bulk)."""
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
    events from ``fork_block`` on (``removed`` lists them, as they were)."""
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
