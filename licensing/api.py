"""Licensing's API: usage receipts and their Merkle proofs."""

from __future__ import annotations

from typing import Annotated

from ninja import Path, Router, Schema
from ninja.security import django_auth

from licensing import selectors
from licensing.errors import ReceiptErrorCode
from portal.api_errors import errors
from portal.auth import ApiKeyAuth
from portal.choices import ApiScope
from portal.errors import DomainError
from portal.models import ApiKey

router = Router(tags=["licensing"])

ReceiptId = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-fA-F]{64}$",
        example="0x" + "ab" * 32,
        description="The receipt's id: a bytes32, 0x and 64 hex digits.",
    ),
]


class LeafOut(Schema):
    receiptId: str
    holder: str
    tokenId: str
    units: str
    timestamp: str
    inputHash: str


class SettlementOut(Schema):
    holder: str
    token_id: str
    units: str
    outbox_id: int
    status: str
    tx_hash: str
    seen_by_sync: bool


class ReceiptOut(Schema):
    receipt_id: str
    network: str
    chain_id: int
    holder: str
    token_id: str
    units: int
    created_at: str
    input_hash: str
    settled: bool
    leaf_encoding: list[str]
    leaf: LeafOut
    leaf_hash: str | None
    leaf_index: int | None
    root: str | None
    proof: list[str]
    period_status: str | None
    settlements: list[SettlementOut]
    root_seen_by_sync: bool


def _caller(request):
    auth = request.auth
    return auth.owner if isinstance(auth, ApiKey) else auth


@router.get(
    "/receipts/{receipt_id}",
    response={200: ReceiptOut, **errors(401, 403, 404, 422)},
    auth=[ApiKeyAuth(ApiScope.PREDICT), django_auth],
    summary="A usage receipt of yours with its Merkle proof",
)
def receipt_get(request, receipt_id: ReceiptId):
    """The receipt (made by your sign-in or one of your API keys), its leaf
    `(bytes32 receiptId, address holder, uint256 tokenId, uint256 units, uint64 timestamp,
    bytes32 inputHash)`, and once its period is closed the period's root (OpenZeppelin's
    StandardMerkleTree), the proof, the burn that settled it and whether the sync saw the
    `CreditsBurned` with that root. Another's receipt answers 404."""
    receipt = selectors.receipt_of_caller(receipt_id=receipt_id, user=_caller(request))
    if receipt is None:
        raise DomainError(ReceiptErrorCode.RECEIPT_NOT_FOUND)
    return selectors.receipt_document(receipt)
