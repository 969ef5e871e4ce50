"""Idempotency keys for requests that charge (an ``Idempotency-Key`` header).

    fingerprint = request_fingerprint(method=request.method, path=request.path, body=request.body)
    with idempotent(key=key, caller=caller_key(user_id=user.pk), fingerprint=fingerprint) as slot:
        if slot.replay is not None:
            return JsonResponse(slot.replay.body, status=slot.replay.status)  # ran before
        ... charge and work ...
        slot.store(status=200, body=answer)        # best in the charge's own transaction
        return JsonResponse(answer)

A first request claims the key (a row committed at once, so a concurrent duplicate sees it),
runs and stores its status and JSON body. A retry with the same key and fingerprint gets that
answer back and runs nothing; another fingerprint is ``idempotency_key_reused`` (409); a retry
while the first still runs is ``idempotency_in_progress`` (409). When the block raises (a
``DomainError`` such as ``insufficient_credits`` included) or stores nothing, the claim is
dropped: nothing was charged (the services are atomic), so a retry runs again. A claim still
running after ``IDEMPOTENCY_RUNNING_TIMEOUT`` (its process died) may be taken over; answers are
kept ``IDEMPOTENCY_KEY_TTL`` (``idempotency_purge`` deletes older rows).

Keys are scoped per caller (``caller_key``): two customers may use the same key. Claim outside
a transaction (a view's), or a concurrent duplicate waits for that transaction instead of
seeing the claim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from licensing.choices import IdempotentRequestStatus
from licensing.errors import CreditErrorCode
from licensing.models import IdempotentRequest
from portal.errors import DomainError

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Answer:
    """A stored answer: the HTTP status and the JSON body."""

    status: int
    body: object


@dataclass
class Slot:
    """A claimed key (``replay`` None: run, then ``store``) or a replayed one."""

    request: IdempotentRequest
    replay: Answer | None = None
    stored: Answer | None = field(default=None, init=False)

    def store(self, *, status: int, body: object) -> None:
        """Keep the answer for retries (within the caller's transaction when it has one)."""
        if self.replay is not None:
            raise RuntimeError("a replayed request has its answer already")
        IdempotentRequest.objects.filter(
            pk=self.request.pk, status=IdempotentRequestStatus.RUNNING
        ).update(
            status=IdempotentRequestStatus.DONE,
            response_status=status,
            response_body=body,
            answered_at=timezone.now(),
        )
        self.stored = Answer(status, body)


def request_fingerprint(*, method: str, path: str, body: bytes) -> str:
    """sha256 over the method, path and raw body (neither method nor path holds a newline)."""
    digest = hashlib.sha256(f"{method.upper()}\n{path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def caller_key(*, user_id: int | None = None, organization_id: int | None = None) -> str:
    """Whose keys: a user (a session, or a customer's API key's owner) or an organization (its
    API keys)."""
    if (user_id is None) == (organization_id is None):
        raise ValueError("name a user or an organization")
    return f"user:{user_id}" if user_id is not None else f"org:{organization_id}"


def check_key(key) -> str:
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise DomainError(CreditErrorCode.BAD_IDEMPOTENCY_KEY)
    return key


def _claim(*, key: str, caller: str, fingerprint: str) -> Slot:
    now = timezone.now()
    try:
        with transaction.atomic():
            row = IdempotentRequest.objects.create(
                caller=caller, key=key, fingerprint=fingerprint, created_at=now
            )
        return Slot(row)
    except IntegrityError:
        row = IdempotentRequest.objects.get(caller=caller, key=key)
    if row.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL):
        return _take_over(row, fingerprint, now)  # expired: the key is new again
    if row.fingerprint != fingerprint:
        raise DomainError(CreditErrorCode.IDEMPOTENCY_KEY_REUSED)
    if row.status == IdempotentRequestStatus.DONE:
        return Slot(row, replay=Answer(row.response_status, row.response_body))
    if row.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_RUNNING_TIMEOUT):
        return _take_over(row, fingerprint, now)
    raise DomainError(CreditErrorCode.IDEMPOTENCY_IN_PROGRESS)


def _take_over(row: IdempotentRequest, fingerprint: str, now: datetime) -> Slot:
    """Claim a stale row by a conditional update (another retry may be taking it too)."""
    taken = IdempotentRequest.objects.filter(pk=row.pk, created_at=row.created_at).update(
        fingerprint=fingerprint,
        status=IdempotentRequestStatus.RUNNING,
        response_status=None,
        response_body=None,
        answered_at=None,
        created_at=now,
    )
    if not taken:
        raise DomainError(CreditErrorCode.IDEMPOTENCY_IN_PROGRESS)
    row.refresh_from_db()
    return Slot(row)


def _drop(slot: Slot) -> None:
    IdempotentRequest.objects.filter(
        pk=slot.request.pk, status=IdempotentRequestStatus.RUNNING
    ).delete()


@contextmanager
def idempotent(*, key: str, caller: str, fingerprint: str) -> Iterator[Slot]:
    """Run a charging request at most once per (caller, key); see the module's docstring."""
    slot = _claim(key=check_key(key), caller=caller, fingerprint=fingerprint)
    if slot.replay is not None:
        yield slot
        return
    try:
        yield slot
    except BaseException:
        _drop(slot)
        raise
    if slot.stored is None:
        _drop(slot)


def idempotent_call(
    *, key: str, caller: str, fingerprint: str, run: Callable[[], tuple[int, object]]
) -> tuple[Answer, bool]:
    """The function form: ``run()`` returns (status, body); returns the answer and whether it
    was replayed (True: ``run`` was not called)."""
    with idempotent(key=key, caller=caller, fingerprint=fingerprint) as slot:
        if slot.replay is not None:
            return slot.replay, True
        status, body = run()
        slot.store(status=status, body=body)
        return Answer(status, body), False


def idempotency_purge(*, now: datetime | None = None) -> int:
    """Delete keys older than ``IDEMPOTENCY_KEY_TTL``; returns how many."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.IDEMPOTENCY_KEY_TTL)
    deleted, _ = IdempotentRequest.objects.filter(created_at__lte=cutoff).delete()
    return deleted
