"""Reads of licensing state that span relations (projections and what staff configured)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q
from django.utils import timezone

from chain.choices import OfferKind
from licensing.choices import LicenseChangeKind
from licensing.models import (
    ChainOffer,
    CreditEntry,
    Currency,
    License,
    LicenseChange,
    LicenseTerms,
    UsageReceipt,
)
from licensing.reasons import format_amount, format_time

LOWER_PRICE_NEVER_BLOCKS = (
    "A lower price never blocks a renewal: the purchase names the most it may cost (maxPrice), "
    "and the current price is what is charged."
)


@dataclass(frozen=True)
class LastPurchase:
    """The holder's latest purchase of the offer, as the chain recorded it."""

    paid_per_unit: Decimal
    currency: str  # the token address (the zero address for the native coin)
    terms_hash: str
    block_number: int


@dataclass(frozen=True)
class RenewalPreview:
    """What renewing one unit would do for a holder, and what changed since they last bought."""

    license: License
    timed: bool
    current_expiry: int  # unix time; 0 = none (perpetual)
    renewal_start: int  # the later of now and the current expiry
    renewal_expiry: int  # after one more unit; 0 for a perpetual offer
    remaining: int  # seconds left now (renewing early adds to them)
    price_now: Decimal | None
    currency_now: str
    terms_hash_now: str
    terms_now: LicenseTerms | None
    last_purchase: LastPurchase | None
    changes: list[str] = field(default_factory=list)

    @property
    def price_change(self) -> str:
        """``up``, ``down``, ``same``, or ``""`` when there is no purchase to compare with."""
        if self.last_purchase is None or self.price_now is None:
            return ""
        if self.last_purchase.currency != self.currency_now:
            return ""
        then, now = self.last_purchase.paid_per_unit, self.price_now
        return "up" if now > then else "down" if now < then else "same"

    @property
    def terms_changed(self) -> bool:
        return self.last_purchase is not None and (
            self.last_purchase.terms_hash.lower() != self.terms_hash_now.lower()
        )


def _currencies(network_id: int) -> dict[str, Currency]:
    rows = Currency.objects.filter(network_id=network_id)
    return {row.chain_address.lower(): row for row in rows}


def _last_purchase(license: License) -> LastPurchase | None:
    change = (
        LicenseChange.objects.filter(
            network_id=license.network_id,
            token_address=license.token_address,
            token_id=license.token_id,
            holder=license.holder,
            kind=LicenseChangeKind.PURCHASE,
            amount__gt=0,
        )
        .select_related("event")
        .order_by("-event__block_number", "-event__log_index")
        .first()
    )
    if change is None:
        return None
    return LastPurchase(
        paid_per_unit=change.paid / change.amount,
        currency=change.currency,
        terms_hash=change.terms_hash,
        block_number=change.event.block_number,
    )


def _terms_named(organization_id: int | None, content_hash: str) -> LicenseTerms | None:
    if not content_hash or organization_id is None:
        return None
    rows = LicenseTerms.objects.filter(organization_id=organization_id)
    return rows.filter(content_hash__iexact=content_hash).order_by("-version").first()


def _changes(preview: RenewalPreview, organization_id: int | None) -> list[str]:
    """Sentences for what changed since the holder's last purchase."""
    last = preview.last_purchase
    if last is None:
        return []
    currencies = _currencies(preview.license.network_id)
    then_currency = currencies.get(last.currency.lower())
    now_currency = currencies.get(preview.currency_now.lower())
    sentences = []
    if last.currency.lower() != preview.currency_now.lower():
        then_name = then_currency.symbol if then_currency else last.currency
        now_name = now_currency.symbol if now_currency else preview.currency_now
        sentences.append(f"The offer is now priced in {now_name} (last paid in {then_name}).")
    elif preview.price_change in ("up", "down"):
        then = format_amount(last.paid_per_unit, then_currency)
        now = format_amount(preview.price_now, now_currency)
        went = "went up" if preview.price_change == "up" else "went down"
        sentences.append(f"The price {went} from {then} to {now} per unit since the last purchase.")
    if preview.terms_changed:
        then_terms = _terms_named(organization_id, last.terms_hash)
        now_terms = preview.terms_now
        then_name = str(then_terms) if then_terms else f"terms {last.terms_hash[:10]}…"
        now_name = str(now_terms) if now_terms else f"terms {preview.terms_hash_now[:10]}…"
        sentences.append(
            f"The license terms changed from {then_name} to {now_name}: a renewal accepts the "
            "new terms."
        )
    return sentences


def renewal_preview(*, license: License, now: int | None = None) -> RenewalPreview:
    """What renewing ``license`` by one unit gives, and what changed since the last purchase.

    Renewing early adds to the remaining time: a unit counts from the later of ``now`` (unix
    time; the wall clock by default) and the current expiry, as ``LicenseToken.purchase`` does.
    """
    now = int(timezone.now().timestamp()) if now is None else now
    chain_offer = ChainOffer.objects.filter(
        network_id=license.network_id,
        token_address=license.token_address,
        token_id=license.token_id,
    ).first()
    offer = license.offer
    duration = chain_offer.duration if chain_offer else 0
    kind = chain_offer.kind if chain_offer else None
    timed = kind in (OfferKind.LICENSE, OfferKind.ACCESS_PASS) and duration > 0
    current = license.expires_at if timed else 0
    start = max(now, current) if timed else now
    organization_id = offer.model.organization_id if offer is not None else None
    terms_now = offer.terms if offer is not None else None
    preview = RenewalPreview(
        license=license,
        timed=timed,
        current_expiry=current,
        renewal_start=start,
        renewal_expiry=start + duration if timed else 0,
        remaining=max(current - now, 0) if timed else 0,
        price_now=chain_offer.price if chain_offer else None,
        currency_now=chain_offer.currency if chain_offer else "",
        terms_hash_now=chain_offer.terms_hash if chain_offer else "",
        terms_now=terms_now,
        last_purchase=_last_purchase(license),
    )
    preview.changes.extend(_changes(preview, organization_id))
    return preview


def renewal_summary(preview: RenewalPreview) -> list[str]:
    """The preview as sentences (for the admin)."""
    lines = []
    if preview.license.revoked:
        lines.append(
            f"Revoked at {format_time(preview.license.expires_at)}: a purchase starts a new term."
        )
    elif preview.timed:
        lines.append(f"Runs until {format_time(preview.current_expiry)}.")
        if preview.remaining:
            lines.append(
                "Renewing one unit now adds to the remaining time: it would run until "
                f"{format_time(preview.renewal_expiry)}."
            )
        else:
            lines.append(
                "It has ended: one unit bought now would run until "
                f"{format_time(preview.renewal_expiry)}."
            )
    else:
        lines.append("Does not expire.")
    if preview.license.revoked and preview.timed:
        lines.append(f"One unit bought now would run until {format_time(preview.renewal_expiry)}.")
    lines.extend(preview.changes)
    if preview.price_change == "down":
        lines.append(LOWER_PRICE_NEVER_BLOCKS)
    return lines


# --- Usage receipts -------------------------------------------------------------------------


def receipt_of_caller(*, receipt_id: str, user) -> UsageReceipt | None:
    """The receipt ``receipt_id`` if ``user`` made it: signed in, or with one of their API keys
    (a key's owner sees what every key of theirs made)."""
    mine = Q(user=user) | Q(api_key__owner=user)
    found = UsageReceipt.objects.filter(mine, receipt_id=receipt_id.lower())
    return found.select_related("period", "network").first()


@dataclass(frozen=True)
class SettlementInfo:
    """One burn of a receipt's period, as the outbox and the sync have it."""

    holder: str
    token_id: int
    units: int
    outbox_id: int
    status: str
    tx_hash: str
    seen_by_sync: bool


@dataclass(frozen=True)
class ReceiptProof:
    """A receipt, its leaf, and (once its period closed) the root, its proof, the burn of its
    own holder and offer (none for a license or pass use), and whether the sync has seen a
    CreditsBurned with the root (any holder's: the root is the period's)."""

    receipt: UsageReceipt
    leaf: dict
    leaf_hash: str | None
    root: str | None
    proof: list[str]
    settlements: list[SettlementInfo]
    root_seen_by_sync: bool


def receipt_proof(receipt: UsageReceipt) -> ReceiptProof:
    """What proves ``receipt``: its leaf's values by name, and its period's root and proof."""
    from licensing.merkle import StandardMerkleTree
    from licensing.services.settlement import LEAF_NAMES, burn_seen

    leaf = dict(zip(LEAF_NAMES, receipt.leaf(), strict=True))
    period = receipt.period
    if period is None:
        return ReceiptProof(receipt, leaf, None, None, [], [], False)
    tree = StandardMerkleTree.load(period.tree, validate=False)
    settlements = [
        SettlementInfo(
            holder=s.holder,
            token_id=int(s.token_id),
            units=int(s.units),
            outbox_id=s.transaction_id,
            status=s.transaction.status,
            tx_hash=s.transaction.tx_hash,
            seen_by_sync=burn_seen(network_id=period.network_id, settlement=s, root=period.root),
        )
        for s in period.settlements.select_related("transaction").filter(
            holder=receipt.holder, token_id=receipt.token_id
        )
    ]
    root_seen = CreditEntry.objects.filter(
        network_id=period.network_id, receipt_root=period.root.lower()
    ).exists()
    return ReceiptProof(
        receipt=receipt,
        leaf=leaf,
        leaf_hash=tree.leaf(receipt.leaf_index),
        root=period.root,
        proof=tree.get_proof(receipt.leaf_index),
        settlements=settlements,
        root_seen_by_sync=root_seen,
    )


def receipt_document(receipt: UsageReceipt) -> dict:
    """The receipt and its proof as JSON (``GET /api/licensing/receipts/{id}``, and what
    ``manage.py verify_receipt`` reads back from a file)."""
    from licensing.services.settlement import LEAF

    found = receipt_proof(receipt)
    period = receipt.period
    return {
        "receipt_id": receipt.receipt_id,
        "network": receipt.network.name,
        "chain_id": receipt.network.chain_id,
        "holder": receipt.holder,
        "token_id": str(int(receipt.token_id)),
        "units": receipt.units,
        "created_at": receipt.created_at.isoformat(),
        "input_hash": receipt.input_hash,
        "settled": period is not None,
        "leaf_encoding": list(LEAF),
        "leaf": {name: str(value) for name, value in found.leaf.items()},
        "leaf_hash": found.leaf_hash,
        "leaf_index": receipt.leaf_index,
        "root": found.root,
        "proof": found.proof,
        "period_status": period.status if period else None,
        "settlements": [
            {**vars(s), "token_id": str(s.token_id), "units": str(s.units)}
            for s in found.settlements
        ],
        "root_seen_by_sync": found.root_seen_by_sync,
    }
