"""The predict API's one seam for entitlement, credits and receipts.

The predict endpoints (``models_hub.predict_api``) check the rows first, then call ``gate``
once, and only then predict:

- ``gate(*, request, version, rows, idempotency_key) -> Metered``: who asks (an API key's
  organization or customer, or the signed-in user: ``licensing.entitlement.Caller``), whether
  they may use ``version`` now (``entitlement.check``; a refusal is its ``DomainError``, before
  anything is charged), and what the call costs: one unit per row or per call as the offer
  says (``UsageUnit``). A credits right reserves those units in the ledger
  (``credits_reserve``; ``insufficient_credits`` otherwise); a license or pass charges nothing.
- ``Metered.finish(result)``: after the estimator answered, in one transaction, the
  reservation is consumed and a usage receipt is written (who, which offer, units, when, the
  input's hash): settlement later burns consumed credits on chain under the receipts' Merkle
  root. A publisher's staff using their own model are neither charged nor receipted.
- ``Metered.release()``: the prediction failed: the reservation goes back.

``models_hub`` may import ``licensing`` here: inference is the layer above the licensing
rules (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.db import transaction

from licensing import entitlement
from licensing.choices import UsageUnit
from licensing.entitlement import CREDITS, PUBLISHER, Caller, Decision
from licensing.errors import EntitlementErrorCode
from licensing.services.credits import credits_consume, credits_release, credits_reserve
from licensing.services.receipts import receipt_record
from models_hub.models import ModelVersion
from portal.errors import DomainError
from portal.models import ApiKey


def caller_of(request) -> tuple[Caller, ApiKey | None, object | None]:
    """The caller, and the API key or user the receipt names."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, ApiKey):
        return Caller.of_api_key(auth), auth, auth.owner
    return Caller.of_user(request.user), None, request.user


@dataclass
class Metered:
    """An admitted call: what it costs, and what to do once the estimator has answered."""

    decision: Decision | None = None
    units: int = 0  # units of use (receipted)
    units_charged: int = 0  # of them, credits taken
    reservation: object | None = None
    input_hash: str = ""
    api_key: ApiKey | None = None
    user: object | None = None

    def finish(self, result) -> None:
        """Consume what was reserved and record the use, in one transaction."""
        right = self.decision.right if self.decision else None
        if right is None or right.kind == PUBLISHER:
            return
        with transaction.atomic():
            if self.reservation is not None:
                credits_consume(reservation=self.reservation, units=self.units_charged)
            receipt_record(
                holder=right.holder,
                network_id=right.network_id,
                token_id=right.token_id,
                units=self.units,
                input_hash=self.input_hash,
                user=self.user if getattr(self.user, "is_authenticated", False) else None,
                api_key=self.api_key,
            )

    def release(self) -> None:
        """Give back what was reserved: the prediction failed."""
        if self.reservation is not None:
            credits_release(reservation=self.reservation)


def gate(*, request, version: ModelVersion, rows: int, idempotency_key: str | None) -> Metered:
    """Admit (or refuse, by raising a DomainError) one predict call of ``rows`` rows."""
    caller, api_key, user = caller_of(request)
    decision = entitlement.check(caller=caller, version=version).raise_if_refused()
    right = decision.right
    if right.kind == PUBLISHER:
        return Metered(decision=decision)
    units = rows if right.unit == UsageUnit.ROW else 1
    left = entitlement.quota_left(right=right)
    if left is not None and left < units:
        daily = right.quota_period == "day"
        message = (
            f"The license's terms allow {right.usage_quota} units {'a day' if daily else 'a month'}"
            f"; {left} are left {'today' if daily else 'this month'} and this call needs {units}."
        )
        raise DomainError(EntitlementErrorCode.QUOTA_EXCEEDED, message)
    metered = Metered(
        decision=decision,
        units=units,
        input_hash="0x" + hashlib.sha256(request.body).hexdigest(),
        api_key=api_key,
        user=user,
    )
    if right.kind == CREDITS:
        metered.units_charged = units
        metered.reservation = credits_reserve(
            network_id=right.network_id, token_id=right.token_id, holder=right.holder, units=units
        )
    return metered
