"""The predict API's one seam for entitlement, credits and receipts (a pass-through for now).

The predict endpoints (``models_hub.predict_api``) check the rows first, then call ``gate``
once, and only then predict. The implementation here admits everything and charges nothing;
at merge it becomes: entitlement check (who may use ``version`` now) -> the ledger's reserve
of ``rows`` units (or one per call, as the offer says), keyed by ``idempotency_key`` ->
``finish(result)`` consumes the reservation and writes the usage receipt, ``release()``
gives the reservation back when the prediction failed.

The contract the endpoint relies on:

- ``gate(*, request, version, rows, idempotency_key) -> Metered``: refuse by raising a
  ``portal.errors.DomainError`` (its code and status go to the client as they are, before
  anything is charged). ``request.auth`` is the ``portal.ApiKey`` or the signed-in user;
  ``request.body`` is still readable (for an idempotency key's body hash).
- ``Metered.units_charged``: the units this call costs (the answer says it).
- ``Metered.finish(result)``: called once with the ``models_hub.predict.Prediction`` after the
  estimator answered; the response is sent after it returns.
- ``Metered.release()``: called once instead of ``finish`` when predicting raised.
"""

from __future__ import annotations

from dataclasses import dataclass

from models_hub.models import ModelVersion


@dataclass
class Metered:
    """An admitted call: what it costs, and what to do once the estimator has answered."""

    units_charged: int = 0

    def finish(self, result) -> None:
        """Consume what was reserved and record the use (nothing here)."""

    def release(self) -> None:
        """Give back what was reserved: the prediction failed (nothing here)."""


def gate(*, request, version: ModelVersion, rows: int, idempotency_key: str | None) -> Metered:
    """Admit (or refuse, by raising a DomainError) one predict call of ``rows`` rows."""
    return Metered(units_charged=0)
