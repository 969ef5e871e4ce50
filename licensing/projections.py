"""Projections of our contracts' events into licensing state, registered with ``chain``.

Each handler writes rows that point at their event (deleted with it by a reorg) and updates the
current-state tables (offers, holdings, licenses); ``rolled_back`` recomputes those tables
from the remaining events for every key the deleted events touched.
"""

from __future__ import annotations

from decimal import Decimal

from chain import abi
from chain.handlers import on_event, on_rollback
from licensing.choices import LedgerKind, LicenseChangeKind, OfferKind
from licensing.models import (
    ChainModel,
    ChainOffer,
    CreditEntry,
    Holding,
    HoldingChange,
    License,
    LicenseChange,
    Payment,
    PublishedVersion,
    VaultEntry,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
TOKEN, REGISTRY, VAULT = abi.LICENSE_TOKEN, abi.REGISTRY, abi.REVENUE_VAULT


def _wei(value) -> Decimal:
    return Decimal(str(value))


def _event_order(queryset):
    return queryset.order_by("-event__block_number", "-event__log_index")


# --- model registry ---


@on_event(REGISTRY, "ModelRegistered")
def model_registered(event) -> None:
    ChainModel.objects.update_or_create(
        network=event.network,
        model_id=event.args["modelId"],
        defaults={
            "event": event,
            "publisher": event.args["publisher"],
            "metadata_uri": event.args["metadataURI"][:500],
        },
    )


@on_event(REGISTRY, "ModelUpdated")
def model_updated(event) -> None:
    ChainModel.objects.filter(network=event.network, model_id=event.args["modelId"]).update(
        publisher=event.args["publisher"], metadata_uri=event.args["metadataURI"][:500]
    )


@on_event(REGISTRY, "VersionPublished")
def version_published(event) -> None:
    from models_hub.models import ModelVersion

    sha256 = event.args["artifactSha256"].removeprefix("0x")
    PublishedVersion.objects.create(
        event=event,
        network=event.network,
        model_id=event.args["modelId"],
        version=int(event.args["version"]),
        artifact_sha256=sha256,
        label=event.args["label"][:100],
        model_version=ModelVersion.objects.filter(sha256=sha256).order_by("pk").first(),
    )


# --- offers ---


def _offer_fields(event) -> dict:
    args = event.args
    return {
        "model_id": args["modelId"],
        "kind": int(args["kind"]),
        "price": _wei(args["price"]),
        "currency": args["currency"],
        "duration": int(args["duration"]),
        "max_supply": _wei(args["maxSupply"]),
        "transferable": bool(args["transferable"]),
        "terms_hash": args["termsHash"],
        "active": bool(args["active"]),
        "block_number": event.block_number,
    }


@on_event(TOKEN, "OfferConfigured")
def offer_configured(event) -> None:
    ChainOffer.objects.update_or_create(
        network=event.network,
        token_address=event.address,
        token_id=_wei(event.args["id"]),
        defaults=_offer_fields(event),
    )


def _offer_kind(event, token_id: Decimal) -> int | None:
    offer = ChainOffer.objects.filter(
        network=event.network, token_address=event.address, token_id=token_id
    ).first()
    return offer.kind if offer else None


# --- holdings ---


def _move(event, token_id: Decimal, holder: str, delta: Decimal) -> None:
    if holder == ZERO_ADDRESS or delta == 0:
        return
    HoldingChange.objects.create(
        event=event,
        network=event.network,
        token_address=event.address,
        token_id=token_id,
        holder=holder,
        delta=delta,
    )
    holding, _ = Holding.objects.get_or_create(
        network=event.network,
        token_address=event.address,
        token_id=token_id,
        holder=holder,
        defaults={"balance": 0},
    )
    holding.balance += delta
    holding.save(update_fields=["balance"])


@on_event(TOKEN, "TransferSingle", "TransferBatch")
def transferred(event) -> None:
    args = event.args
    ids = args["ids"] if event.name == "TransferBatch" else [args["id"]]
    values = args["values"] if event.name == "TransferBatch" else [args["value"]]
    for token_id, value in zip(ids, values, strict=True):
        _move(event, _wei(token_id), args["from"], -_wei(value))
        _move(event, _wei(token_id), args["to"], _wei(value))


# --- licenses and credits ---


def _license_change(event, *, holder, token_id, kind, expires_at, **extra) -> None:
    change = LicenseChange.objects.create(
        event=event,
        network=event.network,
        token_address=event.address,
        token_id=token_id,
        holder=holder,
        kind=kind,
        expires_at=int(expires_at),
        **extra,
    )
    _apply_license(change, event.block_number)


def _apply_license(change: LicenseChange, block_number: int) -> None:
    License.objects.update_or_create(
        network=change.network,
        token_address=change.token_address,
        token_id=change.token_id,
        holder=change.holder,
        defaults={
            "expires_at": change.expires_at,
            "terms_hash": change.terms_hash,
            "revoked": change.kind == LicenseChangeKind.REVOKE,
            "block_number": block_number,
        },
    )


def _is_license(event, token_id: Decimal, new_expiry: int) -> bool:
    kind = _offer_kind(event, token_id)
    if kind is None:
        return new_expiry > 0
    return kind in (OfferKind.LICENSE, OfferKind.ACCESS_PASS)


@on_event(TOKEN, "Purchased", "Granted")
def bought_or_granted(event) -> None:
    args = event.args
    holder = args["buyer"] if event.name == "Purchased" else args["to"]
    token_id = _wei(args["id"])
    if _offer_kind(event, token_id) == OfferKind.CREDITS:
        CreditEntry.objects.create(
            event=event,
            network=event.network,
            token_id=token_id,
            holder=holder,
            delta=_wei(args["amount"]),
        )
        return
    if not _is_license(event, token_id, int(args["newExpiry"])):
        return
    kind = LicenseChangeKind.PURCHASE if event.name == "Purchased" else LicenseChangeKind.GRANT
    _license_change(
        event,
        holder=holder,
        token_id=token_id,
        kind=kind,
        expires_at=args["newExpiry"],
        terms_hash=args["termsHash"],
        amount=_wei(args["amount"]),
        paid=_wei(args.get("paid", 0)),
        currency=args.get("currency", ""),
    )


@on_event(TOKEN, "Revoked")
def revoked(event) -> None:
    args = event.args
    _license_change(
        event,
        holder=args["holder"],
        token_id=_wei(args["id"]),
        kind=LicenseChangeKind.REVOKE,
        expires_at=args["expiry"],
        reason=args["reason"],
    )


@on_event(TOKEN, "ExpiryTransferred")
def expiry_transferred(event) -> None:
    args = event.args
    token_id = _wei(args["id"])
    for holder, expiry in ((args["from"], args["fromExpiry"]), (args["to"], args["toExpiry"])):
        current = License.objects.filter(
            network=event.network, token_address=event.address, token_id=token_id, holder=holder
        ).first()
        _license_change(
            event,
            holder=holder,
            token_id=token_id,
            kind=LicenseChangeKind.TRANSFER,
            expires_at=expiry,
            terms_hash=current.terms_hash if current else "",
        )


@on_event(TOKEN, "CreditsBurned")
def credits_burned(event) -> None:
    args = event.args
    CreditEntry.objects.create(
        event=event,
        network=event.network,
        token_id=_wei(args["id"]),
        holder=args["holder"],
        delta=-_wei(args["amount"]),
        receipt_root=args["receiptRoot"],
    )


# --- revenue ---


@on_event(VAULT, "PaymentSplit")
def payment_split(event) -> None:
    args = event.args
    Payment.objects.create(
        event=event,
        network=event.network,
        model_id=args["modelId"],
        currency=args["currency"],
        amount=_wei(args["amount"]),
        fee=_wei(args["fee"]),
        to_payees=_wei(args["toPayees"]),
        to_holders=_wei(args["toHolders"]),
        residual_to=args["residualTo"],
        to_residual=_wei(args["toResidual"]),
    )


@on_event(VAULT, "Credited", "HolderClaimed", "Withdrawn")
def vault_moved(event) -> None:
    kinds = {
        "Credited": LedgerKind.CREDITED,
        "HolderClaimed": LedgerKind.CLAIMED,
        "Withdrawn": LedgerKind.WITHDRAWN,
    }
    args = event.args
    VaultEntry.objects.create(
        event=event,
        network=event.network,
        account=args["account"],
        currency=args["currency"],
        model_id=args.get("modelId", ""),
        kind=kinds[event.name],
        amount=_wei(args["amount"]),
    )


# --- rollback ---


@on_rollback
def rolled_back(*, network, fork_block: int, removed: list) -> None:
    """Recompute offers, holdings, licenses and models for every key the removed events set."""
    offers, holdings, licenses, models = set(), set(), set(), set()
    for event in removed:
        args = event.args
        if event.name == "OfferConfigured":
            offers.add((event.address, _wei(args["id"])))
        elif event.name in ("TransferSingle", "TransferBatch"):
            ids = args["ids"] if event.name == "TransferBatch" else [args["id"]]
            for token_id in ids:
                for holder in (args["from"], args["to"]):
                    holdings.add((event.address, _wei(token_id), holder))
        elif event.name in ("Purchased", "Granted", "Revoked"):
            holder = args.get("buyer") or args.get("to") or args.get("holder")
            licenses.add((event.address, _wei(args["id"]), holder))
        elif event.name == "ExpiryTransferred":
            for holder in (args["from"], args["to"]):
                licenses.add((event.address, _wei(args["id"]), holder))
        elif event.name in ("ModelRegistered", "ModelUpdated"):
            models.add(args["modelId"])
    for key in offers:
        _recompute_offer(network, *key)
    for key in holdings:
        _recompute_holding(network, *key)
    for key in licenses:
        _recompute_license(network, *key)
    for model_id in models:
        _recompute_model(network, model_id)


def _recompute_offer(network, address, token_id) -> None:
    from chain.models import IndexedEvent

    latest = (
        IndexedEvent.objects.filter(network=network, address=address, name="OfferConfigured")
        .filter(args__id__in=[int(token_id), str(token_id)])
        .order_by("-block_number", "-log_index")
        .first()
    )
    offers = ChainOffer.objects.filter(network=network, token_address=address, token_id=token_id)
    if latest is None:
        offers.delete()
    else:
        offer_configured(latest)


def _recompute_holding(network, address, token_id, holder) -> None:
    from django.db.models import Sum

    key = {"network": network, "token_address": address, "token_id": token_id, "holder": holder}
    total = HoldingChange.objects.filter(**key).aggregate(total=Sum("delta"))["total"]
    if total is None:
        Holding.objects.filter(**key).delete()
    else:
        Holding.objects.update_or_create(**key, defaults={"balance": total})


def _recompute_license(network, address, token_id, holder) -> None:
    key = {"network": network, "token_address": address, "token_id": token_id, "holder": holder}
    latest = _event_order(LicenseChange.objects.filter(**key).select_related("event")).first()
    if latest is None:
        License.objects.filter(**key).delete()
    else:
        _apply_license(latest, latest.event.block_number)


def _recompute_model(network, model_id) -> None:
    from chain.models import IndexedEvent

    events = IndexedEvent.objects.filter(
        network=network, name__in=["ModelRegistered", "ModelUpdated"], args__modelId=model_id
    ).order_by("-block_number", "-log_index")
    latest = events.first()
    if latest is None:
        return  # the ChainModel row went with its ModelRegistered event
    ChainModel.objects.filter(network=network, model_id=model_id).update(
        publisher=latest.args["publisher"], metadata_uri=latest.args["metadataURI"][:500]
    )
