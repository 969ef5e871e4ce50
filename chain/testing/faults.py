"""Failures injected into the sync, for the tests that prove a crash loses and doubles nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chain import handlers


class WorkerDied(RuntimeError):
    """The injected crash."""


@contextmanager
def crash_after_events(count: int, message: str = "the worker died") -> Iterator[list[int]]:
    """Within the block, a projection that raises ``WorkerDied(message)`` in the batch that
    brings the new events written to ``count``: inside the batch's transaction, after its events
    and the other projections were written, as a projection failing there would. Yields the
    keys of the events it saw."""
    written: list[int] = []

    def crash(events: list[handlers.Event]) -> None:
        for event in events:
            written.append(event.pk)
            if len(written) == count:
                raise WorkerDied(message)

    handlers.on_batch(crash)
    try:
        yield written
    finally:
        handlers._batch_handlers.remove(crash)  # the registry has no public way out
