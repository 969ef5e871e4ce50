"""Projections of our contracts' events into licensing state, registered with ``chain``.

Each handler writes rows that point at their event (deleted with it by a reorg) and updates the
current-state tables (offers, holdings, licenses); ``rolled_back`` recomputes those tables
from the remaining events for every key the deleted events touched.

Handlers receive ``chain.handlers.Event`` records. Token, vault and pay-per-call events,
thousands per backfill batch, go through ``BatchProjector``: ledger rows are collected as tuples
in the column order declared below and inserted with one ``executemany`` per table; holdings,
licenses and the dashboards' running totals (``licensing.rollups``) are summed in memory and
upserted once per key. Payments, sales and agents' payments carry their block's time
(``paid_at``, ``sold_at``).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from chain import abi
from chain.choices import OfferKind
from chain.fastsql import adapter, add_to_rows, insert_rows, upsert_rows
from chain.handlers import on_batch, on_event, on_rollback
from licensing import entitlement, rollups
from licensing.choices import LedgerKind, LicenseChangeKind
from licensing.models import (
    AgentPayment,
    ChainModel,
    ChainOffer,
    ChainPayees,
    CreditEntry,
    Holding,
    HoldingChange,
    License,
    LicenseChange,
    Payment,
    PublishedVersion,
    Sale,
    VaultEntry,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
TOKEN, REGISTRY, VAULT = abi.LICENSE_TOKEN, abi.REGISTRY, abi.REVENUE_VAULT
PAY_PER_CALL = abi.PAY_PER_CALL
LICENSE_FIELDS = ("expires_at", "terms_hash", "revoked", "block_number")
# The current-state tables BatchProjector upserts (the first four columns are the key).
HOLDING_COLUMNS = ("network_id", "token_address", "token_id", "holder", "balance")
LICENSE_COLUMNS = ("network_id", "token_address", "token_id", "holder", *LICENSE_FIELDS)

# The ledger rows BatchProjector writes, as (table, column order of its tuples).
LEDGER_COLUMNS = {
    HoldingChange: ("event_id", "network_id", "token_address", "token_id", "holder", "delta"),
    LicenseChange: (
        "event_id",
        "network_id",
        "token_address",
        "token_id",
        "holder",
        "kind",
        "expires_at",
        "terms_hash",
        "amount",
        "paid",
        "currency",
        "reason",
    ),
    CreditEntry: ("event_id", "network_id", "token_id", "holder", "delta", "receipt_root"),
    Payment: (
        "event_id",
        "network_id",
        "model_id",
        "currency",
        "amount",
        "fee",
        "to_payees",
        "to_holders",
        "residual_to",
        "to_residual",
        "paid_at",
    ),
    Sale: (
        "event_id",
        "network_id",
        "token_address",
        "token_id",
        "model_id",
        "buyer",
        "amount",
        "paid",
        "currency",
        "sold_at",
    ),
    VaultEntry: ("event_id", "network_id", "account", "currency", "model_id", "kind", "amount"),
    AgentPayment: (
        "event_id",
        "network_id",
        "model_id",
        "currency",
        "payer",
        "amount",
        "nonce",
        "receipt_id",
        "tx_hash",
        "log_index",
        "block_number",
        "paid_at",
    ),
}


class ProjectionError(Exception):
    """The events contradict the projections (the batch and its cursor roll back)."""


def _wei(value) -> Decimal:
    """A uint256 argument (an int, or a decimal string past 2**53) as a Decimal."""
    return Decimal(value)


def _event_order(queryset):  # newest first
    return queryset.order_by("-event__block_number", "-event__log_index")


# --- model registry ---


@on_event(REGISTRY, "ModelRegistered")
def model_registered(event) -> None:
    ChainModel.objects.update_or_create(
        network=event.network,
        model_id=event.args["modelId"],
        defaults={
            "event_id": event.pk,
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
        event_id=event.pk,
        network=event.network,
        model_id=event.args["modelId"],
        version=int(event.args["version"]),
        artifact_sha256=sha256,
        label=event.args["label"][:100],
        model_version=ModelVersion.objects.filter(sha256=sha256).order_by("pk").first(),
    )


# --- vault payees ---


@on_event(VAULT, "PayeesConfigured")
def payees_configured(event) -> None:
    """One row per event (the latest is the vault's list): a rollback needs no recomputing."""
    ChainPayees.objects.create(
        event_id=event.pk,
        network=event.network,
        model_id=event.args["modelId"],
        accounts=list(event.args["accounts"]),
        bps=[int(bps) for bps in event.args["bps"]],
        block_number=event.block_number,
        log_index=event.log_index,
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


def offer_configured(event) -> None:
    ChainOffer.objects.update_or_create(
        network=event.network,
        token_address=event.address,
        token_id=_wei(event.args["id"]),
        defaults=_offer_fields(event),
    )


def _license_state(kind: str, expires_at: int, terms_hash: str, block_number: int) -> tuple:
    """A license's ``LICENSE_FIELDS`` after a change of ``kind`` (the latest change decides)."""
    return (expires_at, terms_hash, kind == LicenseChangeKind.REVOKE, block_number)


class BatchProjector:
    """Projects one batch of token and vault events: ledger rows in bulk, holdings and
    licenses computed in memory and written once per key."""

    def __init__(self, network):
        self.network = network
        self.kinds: dict[tuple[str, Decimal], int] | None = None
        self.rows: dict[type, list[tuple]] = defaultdict(list)  # table -> LEDGER_COLUMNS tuples
        self.holdings: dict[tuple[str, Decimal, str], Decimal] = defaultdict(Decimal)
        # (token, id, holder) -> its LICENSE_FIELDS after the latest change
        self.licenses: dict[tuple[str, Decimal, str], tuple] = {}
        self.times: dict = {}  # block time -> its DB-ready value (a batch spans a few blocks)
        self.totals = rollups.Totals(network)  # the dashboards' running totals

    # reading state
    def _load_kinds(self) -> dict[tuple[str, Decimal], int]:
        if self.kinds is None:
            offers = ChainOffer.objects.filter(network=self.network)
            rows = offers.values_list("token_address", "token_id", "kind")
            self.kinds = {(address, token_id): kind for address, token_id, kind in rows}
        return self.kinds

    def kind_of(self, address: str, token_id: Decimal) -> int | None:
        return self._load_kinds().get((address, token_id))

    def terms_of(self, key) -> str:
        if key in self.licenses:
            return self.licenses[key][LICENSE_FIELDS.index("terms_hash")]
        address, token_id, holder = key
        current = License.objects.filter(
            network=self.network, token_address=address, token_id=token_id, holder=holder
        ).first()
        return current.terms_hash if current else ""

    def time_of(self, event):
        """The event's block time, DB-ready (``Payment.paid_at`` and ``Sale.sold_at``)."""
        moment = event.block_time
        if moment not in self.times:
            self.times[moment] = adapter(Payment, "paid_at")(moment)
        return self.times[moment]

    # events
    def feed(self, event) -> None:
        method = getattr(self, f"on_{event.name}", None)
        if method is not None:
            method(event)

    def on_OfferConfigured(self, event) -> None:
        offer_configured(event)
        self._load_kinds()[(event.address, _wei(event.args["id"]))] = int(event.args["kind"])

    def _move(self, event, token_id: Decimal, holder: str, delta: Decimal) -> None:
        if holder == ZERO_ADDRESS or delta == 0:
            return
        self.rows[HoldingChange].append(
            (event.pk, self.network.pk, event.address, token_id, holder, delta)
        )
        self.holdings[(event.address, token_id, holder)] += delta

    def on_TransferSingle(self, event) -> None:
        args = event.args
        value, token_id = _wei(args["value"]), _wei(args["id"])
        self._move(event, token_id, args["from"], -value)
        self._move(event, token_id, args["to"], value)

    def on_TransferBatch(self, event) -> None:
        args = event.args
        for token_id, value in zip(args["ids"], args["values"], strict=True):
            self._move(event, _wei(token_id), args["from"], -_wei(value))
            self._move(event, _wei(token_id), args["to"], _wei(value))

    def _license_change(
        self,
        event,
        *,
        holder,
        token_id,
        kind,
        expires_at,
        terms_hash="",
        amount=Decimal(0),
        paid=Decimal(0),
        currency="",
        reason="",
    ) -> None:
        expires_at = int(expires_at)
        self.rows[LicenseChange].append(
            (
                event.pk,
                self.network.pk,
                event.address,
                token_id,
                holder,
                kind,
                expires_at,
                terms_hash,
                amount,
                paid,
                currency,
                reason,
            )
        )
        self.licenses[(event.address, token_id, holder)] = _license_state(
            kind, expires_at, terms_hash, event.block_number
        )

    def _bought(self, event, holder: str, kind: str) -> None:
        args = event.args
        token_id = _wei(args["id"])
        offer_kind = self.kind_of(event.address, token_id)
        if offer_kind == OfferKind.CREDITS:
            self.rows[CreditEntry].append(
                (event.pk, self.network.pk, token_id, holder, _wei(args["amount"]), "")
            )
            self.totals.credit(token_id, _wei(args["amount"]))
            return
        licensed = offer_kind in (OfferKind.LICENSE, OfferKind.ACCESS_PASS)
        if offer_kind is None:
            licensed = int(args["newExpiry"]) > 0
        if not licensed:
            return
        self._license_change(
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

    def on_Purchased(self, event) -> None:
        args = event.args
        self.rows[Sale].append(
            (
                event.pk,
                self.network.pk,
                event.address,
                _wei(args["id"]),
                args["modelId"],
                args["buyer"],
                _wei(args["amount"]),
                _wei(args["paid"]),
                args["currency"],
                self.time_of(event),
            )
        )
        self.totals.sale(event, _wei(args["paid"]))
        self._bought(event, args["buyer"], LicenseChangeKind.PURCHASE)

    def on_Granted(self, event) -> None:
        self._bought(event, event.args["to"], LicenseChangeKind.GRANT)

    def on_Revoked(self, event) -> None:
        args = event.args
        self._license_change(
            event,
            holder=args["holder"],
            token_id=_wei(args["id"]),
            kind=LicenseChangeKind.REVOKE,
            expires_at=args["expiry"],
            reason=args["reason"],
        )

    def on_Extended(self, event) -> None:
        args = event.args
        self._license_change(
            event,
            holder=args["holder"],
            token_id=_wei(args["id"]),
            kind=LicenseChangeKind.EXTEND,
            expires_at=args["expiry"],
            terms_hash=args["termsHash"],
        )

    def on_ExpiryTransferred(self, event) -> None:
        args = event.args
        token_id = _wei(args["id"])
        for holder, expiry in ((args["from"], args["fromExpiry"]), (args["to"], args["toExpiry"])):
            terms = self.terms_of((event.address, token_id, holder))
            self._license_change(
                event,
                holder=holder,
                token_id=token_id,
                kind=LicenseChangeKind.TRANSFER,
                expires_at=expiry,
                terms_hash=terms,
            )

    def on_CreditsBurned(self, event) -> None:
        args = event.args
        self.totals.credit(_wei(args["id"]), -_wei(args["amount"]))
        self.rows[CreditEntry].append(
            (
                event.pk,
                self.network.pk,
                _wei(args["id"]),
                args["holder"],
                -_wei(args["amount"]),
                args["receiptRoot"],
            )
        )

    def on_PaymentSplit(self, event) -> None:
        args = event.args
        to_holders = _wei(args["toHolders"]) + _wei(args["toResidual"])
        self.totals.payment(
            event, _wei(args["amount"]), _wei(args["fee"]), _wei(args["toPayees"]), to_holders
        )
        self.rows[Payment].append(
            (
                event.pk,
                self.network.pk,
                args["modelId"],
                args["currency"],
                _wei(args["amount"]),
                _wei(args["fee"]),
                _wei(args["toPayees"]),
                _wei(args["toHolders"]),
                args["residualTo"],
                _wei(args["toResidual"]),
                self.time_of(event),
            )
        )

    def _vault(self, event, kind: str) -> None:
        args = event.args
        self.rows[VaultEntry].append(
            (
                event.pk,
                self.network.pk,
                args["account"],
                args["currency"],
                args.get("modelId", ""),
                kind,
                _wei(args["amount"]),
            )
        )

    def on_Credited(self, event) -> None:
        self._vault(event, LedgerKind.CREDITED)

    def on_HolderClaimed(self, event) -> None:
        self._vault(event, LedgerKind.CLAIMED)

    def on_Withdrawn(self, event) -> None:
        self._vault(event, LedgerKind.WITHDRAWN)

    def on_AgentPaid(self, event) -> None:
        """An agent's x402 payment per call (PayPerCall). What it paid is split by the vault's
        own PaymentSplit in the same transaction, projected as any payment; this row says
        which channel the money came through."""
        args = event.args
        amount = _wei(args["amount"])
        self.totals.agent(event, amount)
        self.rows[AgentPayment].append(
            (
                event.pk,
                self.network.pk,
                args["modelId"],
                args["token"],
                args["payer"],
                amount,
                args["nonce"],
                args["receiptId"],
                event.tx_hash,
                event.log_index,
                event.block_number,
                self.time_of(event),
            )
        )

    # writing
    def flush(self) -> None:
        for model, rows in self.rows.items():
            insert_rows(model, LEDGER_COLUMNS[model], rows)  # nothing reads their ids back
        self._flush_holdings()
        self._flush_licenses()
        self.totals.flush()

    def _flush_holdings(self) -> None:
        """Gains are upserted; losses can only come out of a stored holding, so they update it
        (a proposed row with a negative balance would fail SQLite's check before the upsert)."""
        network_id = self.network.pk
        gains, losses = [], []
        for (address, token_id, holder), delta in self.holdings.items():
            if delta >= 0:
                gains.append((network_id, address, token_id, holder, delta))
            else:
                losses.append((delta, network_id, address, token_id, holder))
        upsert_rows(Holding, HOLDING_COLUMNS, gains, unique=HOLDING_COLUMNS[:4], add=["balance"])
        if losses:
            changed = add_to_rows(Holding, "balance", HOLDING_COLUMNS[:4], losses)
            if changed != len(losses):
                raise ProjectionError(
                    f"{len(losses) - changed} transfers out of holdings never indexed as received"
                )

    def _flush_licenses(self) -> None:
        network_id = self.network.pk
        rows = [(network_id, *key, *state) for key, state in self.licenses.items()]
        upsert_rows(
            License, LICENSE_COLUMNS, rows, unique=LICENSE_COLUMNS[:4], replace=LICENSE_FIELDS
        )


@on_batch
def project_batch(events: list) -> None:
    """Project a written batch (token, vault and pay-per-call events; registry events are
    handled one by one)."""
    relevant = [e for e in events if e.contract_name in (TOKEN, VAULT, PAY_PER_CALL)]
    if not relevant:
        return
    projector = BatchProjector(relevant[0].network)
    for event in relevant:
        projector.feed(event)
    projector.flush()
    # licenses, passes and credits changed: this process's cached decisions go at once
    transaction.on_commit(entitlement.invalidate)


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
        elif event.name in ("Purchased", "Granted", "Revoked", "Extended"):
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
    rollups.recompute(network, removed)
    transaction.on_commit(entitlement.invalidate)


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
        return
    License.objects.update_or_create(
        **key,
        defaults=dict(
            zip(
                LICENSE_FIELDS,
                _license_state(
                    latest.kind, latest.expires_at, latest.terms_hash, latest.event.block_number
                ),
                strict=True,
            )
        ),
    )


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
