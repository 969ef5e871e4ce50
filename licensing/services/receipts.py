"""Writing usage receipts: one per metered use (the predict endpoint, batch jobs)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from eth_utils import is_address, to_checksum_address

from chain.choices import OfferKind
from licensing.choices import ReceiptKind
from licensing.models import ChainOffer, UsageReceipt

HEX32 = re.compile(r"0x[0-9a-f]{64}")
METERED_KINDS = (OfferKind.LICENSE, OfferKind.ACCESS_PASS, OfferKind.CREDITS)


def canonical_body(body: Any) -> bytes:
    """A request body's canonical bytes: JSON with sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def input_hash_of(body: Any) -> str:
    """The receipt's ``input_hash`` of a parsed JSON body: 0x + sha256 of ``canonical_body``."""
    return "0x" + hashlib.sha256(canonical_body(body)).hexdigest()


@transaction.atomic
def receipt_record(
    *,
    holder: str,
    network_id: int,
    token_id: int,
    units: int,
    input_hash: str,
    user=None,
    api_key=None,
) -> UsageReceipt:
    """Record one metered use by ``holder`` (the wallet whose license, pass or credits it used)
    of offer ``token_id`` on ``network_id``: ``units`` units, the input's sha256 hex.

    The offer must be one the sync has seen (its kind decides whether settlement burns: only
    credits do; license and pass uses are receipted and proved, and burn nothing)."""
    if not isinstance(holder, str) or not is_address(holder):
        raise ValidationError({"holder": "The holder is an EVM address."}, code="invalid")
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise ValidationError({"units": "Units are a whole number from 1."}, code="invalid")
    digest = input_hash.lower() if isinstance(input_hash, str) else ""
    if not HEX32.fullmatch(digest):
        raise ValidationError(
            {"input_hash": "The input hash is 0x and 64 hex digits (a sha256)."}, code="invalid"
        )
    offer = ChainOffer.objects.filter(network_id=network_id, token_id=token_id).first()
    if offer is None or offer.kind not in METERED_KINDS:
        raise ValidationError(
            {"token_id": "No license, pass or credits offer with this id on this network."},
            code="invalid",
        )
    receipt = UsageReceipt(
        network_id=network_id,
        holder=to_checksum_address(holder),
        token_id=token_id,
        offer_kind=offer.kind,
        units=units,
        input_hash=digest,
        user=user,
        api_key=api_key,
    )
    receipt.full_clean()
    receipt.save()
    return receipt


@transaction.atomic
def receipt_record_paid_call(
    *, receipt_id: str, holder: str, network_id: int, units: int, input_hash: str
) -> UsageReceipt:
    """Record one call an agent paid for over HTTP 402 (x402), under the receipt id its
    settlement carried on chain (``AgentPaid.receiptId``): no offer token (id 0), proved by the
    period's Merkle root like every receipt, never burned."""
    receipt = UsageReceipt(
        receipt_id=receipt_id,
        network_id=network_id,
        holder=to_checksum_address(holder),
        token_id=0,
        offer_kind=ReceiptKind.PAY_PER_CALL,
        units=units,
        input_hash=input_hash.lower(),
    )
    receipt.full_clean()
    receipt.save()
    return receipt
