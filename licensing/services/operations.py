"""License operations staff start from the admin: grant (a comp license, minted), extend (more
time, nothing minted) and revoke (with a reason code), each sent through the outbox.

Each service checks what the chain would refuse, as far as the projections know it (the offer
is published on its network, its kind allows the operation, the holder holds it, the expiry
moves forward), writes a ``LicenseOperation`` and queues the transaction in the same database
transaction; the sync then projects its event into ``License`` and ``LicenseChange``.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from eth_utils import to_checksum_address

from chain import abi
from chain.choices import OfferKind
from chain.models import Deployment
from chain.services import enqueue_call
from licensing.choices import LicenseOperationKind, RevocationReason
from licensing.models import ChainOffer, Holding, License, LicenseOperation, Offer
from licensing.reasons import format_time
from licensing.services.status import tx_status
from portal.validators import validate_eth_address

ZERO_ADDRESS = "0x" + "0" * 40
LICENSED_KINDS = (OfferKind.LICENSE, OfferKind.ACCESS_PASS)


def _error(field: str | None, message: str, code: str) -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: ValidationError(message, code=code)})


def _published(offer: Offer) -> ChainOffer:
    """The chain's view of ``offer`` on the network's current LicenseToken, or an error."""
    deployment = Deployment.objects.filter(
        network_id=offer.network_id, contract_name=abi.LICENSE_TOKEN
    ).first()
    chain_offer = None
    if deployment is not None:
        chain_offer = ChainOffer.objects.filter(
            network_id=offer.network_id,
            token_address=deployment.address,
            token_id=offer.token_id,
        ).first()
    if chain_offer is None:
        raise _error(
            "offer",
            f"{offer} is not published on {offer.network.name} yet (or the sync has not seen it "
            "there): publish it first.",
            "offer_not_published",
        )
    return chain_offer


def _holder(value: str) -> str:
    """The holder's address, EIP-55 checksummed; a malformed or zero address is an error."""
    value = (value or "").strip()
    try:
        validate_eth_address(value)
    except ValidationError as exc:
        raise _error("holder", " ".join(exc.messages), "invalid_address") from None
    if value.lower() == ZERO_ADDRESS:
        raise _error("holder", "The zero address cannot hold a license.", "zero_address")
    return to_checksum_address(value)


def _is_timed(chain_offer: ChainOffer) -> bool:
    return chain_offer.kind in LICENSED_KINDS and chain_offer.duration > 0


def _future(expires_at: datetime | None, what: str) -> int:
    """``expires_at`` as unix time; it must be given and in the future."""
    if expires_at is None:
        raise _error("expires_at", f"{what} needs an expiry date and time.", "expiry_required")
    if expires_at <= timezone.now():
        raise _error("expires_at", "The expiry must be in the future.", "expiry_in_past")
    return int(expires_at.timestamp())


def _balance(chain_offer: ChainOffer, holder: str) -> int:
    holding = Holding.objects.filter(
        network_id=chain_offer.network_id,
        token_address=chain_offer.token_address,
        token_id=chain_offer.token_id,
        holder=holder,
    ).first()
    return int(holding.balance) if holding else 0


def _license(chain_offer: ChainOffer, holder: str) -> License | None:
    return License.objects.filter(
        network_id=chain_offer.network_id,
        token_address=chain_offer.token_address,
        token_id=chain_offer.token_id,
        holder=holder,
    ).first()


def reason_code_bytes(reason: str) -> bytes:
    """A revocation reason as it goes on chain: the code's ASCII, zero-padded to 32 bytes."""
    raw = reason.encode("ascii")
    if len(raw) > 32:
        raise _error("reason", "A reason code fits in 32 bytes.", "reason_too_long")
    return raw.ljust(32, b"\x00")


def _record(operation: LicenseOperation, function: str, args: list, by) -> LicenseOperation:
    """Queue the call and save the operation with it (one history row: its creation)."""
    operation.transaction = enqueue_call(
        network=operation.offer.network,
        contract_name=abi.LICENSE_TOKEN,
        function=function,
        args=args,
        idempotency_key=f"license-operation:{operation.kind}:{uuid.uuid4()}",
    )
    if by is not None and getattr(by, "is_authenticated", False):
        operation.requested_by = by
        operation._history_user = by
    operation.full_clean()
    operation.save()
    return operation


# --- grant ---


def _check_supply(chain_offer: ChainOffer, amount: int) -> None:
    if not chain_offer.max_supply:
        return
    issued = Holding.objects.filter(
        network_id=chain_offer.network_id,
        token_address=chain_offer.token_address,
        token_id=chain_offer.token_id,
    ).aggregate(total=Sum("balance"))["total"]
    issued = int(issued or 0)
    if issued + amount > chain_offer.max_supply:
        raise _error(
            "amount",
            f"The offer is capped at {chain_offer.max_supply} units and {issued} are issued: "
            f"at most {int(chain_offer.max_supply) - issued} more can be granted.",
            "max_supply_exceeded",
        )


def _grant_expiry(chain_offer: ChainOffer, expires_at: datetime | None) -> int:
    if chain_offer.kind == OfferKind.SHARES:
        raise _error(
            "offer",
            "Ownership shares are minted to the cap table when the model is published; they "
            "cannot be granted.",
            "shares_not_grantable",
        )
    if _is_timed(chain_offer):
        return _future(expires_at, "A grant of a timed offer")
    if expires_at is not None:
        what = "Credits do" if chain_offer.kind == OfferKind.CREDITS else "A perpetual offer does"
        raise _error(
            "expires_at", f"{what} not expire: leave the expiry empty.", "expiry_not_allowed"
        )
    return 0


@transaction.atomic
def license_grant(
    *,
    offer: Offer,
    holder: str,
    amount: int = 1,
    expires_at: datetime | None = None,
    note: str = "",
    by,
) -> LicenseOperation:
    """Mint ``amount`` units of ``offer`` to ``holder`` without payment (a comp license):
    timed offers until ``expires_at``, perpetual offers and credits with no expiry."""
    chain_offer = _published(offer)
    holder = _holder(holder)
    expiry = _grant_expiry(chain_offer, expires_at)
    if amount is None or amount < 1:
        raise _error("amount", "Grant at least one unit.", "amount_too_small")
    _check_supply(chain_offer, amount)
    operation = LicenseOperation(
        offer=offer,
        kind=LicenseOperationKind.GRANT,
        holder=holder,
        amount=amount,
        expires_at=expires_at if expiry else None,
        note=note,
    )
    args = [holder, int(offer.token_id), amount, expiry]
    return _record(operation, "grant", args, by)


# --- extend ---


@transaction.atomic
def license_extend(
    *, offer: Offer, holder: str, expires_at: datetime | None, note: str = "", by
) -> LicenseOperation:
    """Move ``holder``'s expiry of a timed offer to ``expires_at`` (later than it is now on
    chain, as projected), minting nothing."""
    chain_offer = _published(offer)
    holder = _holder(holder)
    if not _is_timed(chain_offer):
        raise _error(
            "offer",
            f"{offer} does not expire (a perpetual license, credits or shares): there is no "
            "expiry to extend.",
            "offer_not_timed",
        )
    expiry = _future(expires_at, "An extension")
    current = _license(chain_offer, holder)
    if current is None or _balance(chain_offer, holder) == 0:
        raise _error(
            "holder",
            f"{holder} holds nothing of {offer}: grant a license instead.",
            "not_a_holder",
        )
    if expiry <= current.expires_at:
        raise _error(
            "expires_at",
            f"The holder's right already runs until {format_time(current.expires_at)}: an "
            "extension must end later than that.",
            "expiry_not_later",
        )
    operation = LicenseOperation(
        offer=offer,
        kind=LicenseOperationKind.EXTEND,
        holder=holder,
        expires_at=expires_at,
        note=note,
    )
    return _record(operation, "extend", [holder, int(offer.token_id), expiry], by)


# --- revoke ---


@transaction.atomic
def license_revoke(
    *, offer: Offer, holder: str, reason: str, note: str = "", by
) -> LicenseOperation:
    """End ``holder``'s license or pass of ``offer`` now, with a reason code (on chain)."""
    chain_offer = _published(offer)
    holder = _holder(holder)
    if chain_offer.kind not in LICENSED_KINDS:
        raise _error(
            "offer",
            "Only licenses and access passes can be revoked (credits are used up, shares are "
            "owned).",
            "offer_not_revocable",
        )
    if reason not in RevocationReason.values:
        raise _error("reason", "Pick the reason for the revocation.", "reason_required")
    if reason == RevocationReason.OTHER and not note.strip():
        raise _error("note", "Say why in the note when the reason is Other.", "note_required")
    current = _license(chain_offer, holder)
    if current is None or _balance(chain_offer, holder) == 0:
        raise _error("holder", f"{holder} holds nothing of {offer} to revoke.", "not_a_holder")
    if current.revoked:
        raise _error("holder", f"The license of {holder} is revoked already.", "already_revoked")
    operation = LicenseOperation(
        offer=offer,
        kind=LicenseOperationKind.REVOKE,
        holder=holder,
        reason=reason,
        note=note,
    )
    args = [holder, int(offer.token_id), reason_code_bytes(reason)]
    return _record(operation, "revoke", args, by)


# --- the admin's form: one kind of operation at a time ---

# What each kind takes besides the offer, the holder and the note.
KIND_FIELDS = {
    LicenseOperationKind.GRANT: {"amount", "expires_at"},
    LicenseOperationKind.EXTEND: {"expires_at"},
    LicenseOperationKind.REVOKE: {"reason"},
}
NOT_FOR_KIND = {
    "amount": "Only grants mint units: leave the amount at 1.",
    "expires_at": "A revocation ends the license now: leave the expiry empty.",
    "reason": "Only revocations take a reason: leave it empty.",
}


def license_operation_request(
    *,
    kind: str,
    offer: Offer,
    holder: str,
    amount: int | None = 1,
    expires_at: datetime | None = None,
    reason: str = "",
    note: str = "",
    by,
) -> LicenseOperation:
    """Start the operation ``kind`` names; a value the kind does not take is an error."""
    if kind not in KIND_FIELDS:
        raise _error("kind", "Pick grant, extension or revocation.", "kind_required")
    given = {"amount": amount not in (None, 1), "expires_at": expires_at is not None}
    given["reason"] = bool(reason)
    for name, present in given.items():
        if present and name not in KIND_FIELDS[kind]:
            raise _error(name, NOT_FOR_KIND[name], "field_not_for_kind")
    common = {"offer": offer, "holder": holder, "note": note, "by": by}
    if kind == LicenseOperationKind.GRANT:
        return license_grant(amount=amount, expires_at=expires_at, **common)
    if kind == LicenseOperationKind.EXTEND:
        return license_extend(expires_at=expires_at, **common)
    return license_revoke(reason=reason, **common)


# --- afterwards ---


@transaction.atomic
def license_operation_note(*, operation: LicenseOperation, note: str, by) -> LicenseOperation:
    """Change an operation's note (the rest went on chain as it was)."""
    operation = LicenseOperation.objects.select_for_update().get(pk=operation.pk)
    operation.note = note
    if by is not None and getattr(by, "is_authenticated", False):
        operation._history_user = by
    operation.full_clean()
    operation.save(update_fields=["note"])
    return operation


def license_operation_status(
    operation: LicenseOperation, *, is_indexed: bool | None = None
) -> tuple[str, str]:
    """Where the operation's transaction stands: ``(PublishStepStatus, reason)``."""
    offer = operation.offer
    return tx_status(
        operation.transaction, offer.network, is_indexed=is_indexed, currency=offer.currency
    )
