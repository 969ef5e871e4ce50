"""Licensing state as the chain has it, read-only for everyone (it changes only through the
chain). An organization's staff see the rows of its own models: registered models and
versions, offers, licenses, holdings, credits, sales, payments, agents' payments per call and
vault moves (tenant admins scoped through the join-only links ``listing``, the model's bytes32
id, and ``offer``, the offer's network and token id). Rows of models not configured here, and
the mismatches that reconciliation finds, are for superusers only."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from chain.admin import ReadOnlyPlatformAdmin
from chain.models import Network
from chain.paginators import CappedCountPaginator
from licensing import services
from licensing.admin.tokenomics import link_to
from licensing.amounts import format_amount, format_duration
from licensing.choices import LedgerKind
from licensing.models import (
    AgentPayment,
    ChainModel,
    ChainOffer,
    ChainPayees,
    Contributor,
    CreditEntry,
    Currency,
    Holding,
    License,
    LicenseChange,
    Mismatch,
    Offer,
    Payment,
    PublishedVersion,
    Sale,
    VaultEntry,
)
from models_hub.models import AIModel
from portal.choices import Role
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceAdmin
from portal.tenancy import TenantAdminMixin

LISTING_ORG = "listing__model__organization"
OFFER_ORG = "offer__model__organization"


# --- amounts in currency units, without a query per row ---


def currency_book() -> dict[tuple[int, str], Currency]:
    """Every configured currency by (network id, contract address in lowercase; the zero
    address for a native coin): one query, for one page."""
    return {(c.network_id, c.chain_address.lower()): c for c in Currency.objects.all()}


def attach_currencies(rows, book: dict | None = None) -> None:
    """Give each row its ``currency_row`` (None for a currency not configured here)."""
    book = currency_book() if book is None else book
    for row in rows:
        row.currency_row = book.get((row.network_id, row.currency.lower()))


def money(row, atomic) -> str:
    """``atomic`` smallest units of ``row``'s currency, in the currency's units."""
    currency = getattr(row, "currency_row", None)
    if currency is None:
        return f"{atomic} (smallest units of {row.currency[:10]}…)"
    return format_amount(atomic, currency)


def joined(row, name: str):
    """The row a join-only link names, or None: unlike a foreign key's, it may not exist (a
    model or offer configured elsewhere; the list's LEFT JOIN gives None, a fetch raises)."""
    try:
        return getattr(row, name)
    except ObjectDoesNotExist:
        return None


class _PricedChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        if self.model_admin.priced:
            attach_currencies(self.result_list)


# --- filters whose choices come from the small configuration tables ---


class _ConfiguredFilter(admin.SimpleListFilter):
    """A filter on a projection whose choices are read from configuration (models, offers),
    not by a DISTINCT over the projection, which may hold millions of rows."""

    path = ""  # the lookup from the projection to the chosen row

    def _scope(self, request) -> set[int] | None:
        user = request.user
        if user.is_active and user.is_superuser:
            return None
        return organization_ids_for(user=user, min_role=Role.VIEWER)

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(**{self.path: value}) if value and value.isdigit() else queryset


class _ModelFilter(_ConfiguredFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        models = AIModel.objects.filter(tokenomics__isnull=False).order_by("name")
        scope = self._scope(request)
        if scope is not None:
            models = models.filter(organization_id__in=scope)
        return [(m.pk, m.name) for m in models[:200]]


class _NetworkFilter(_ConfiguredFilter):
    title = "network"
    parameter_name = "network"

    def lookups(self, request, model_admin):
        offers = Offer.objects.all()
        scope = self._scope(request)
        if scope is not None:
            offers = offers.filter(model__organization_id__in=scope)
        networks = Network.objects.filter(pk__in=offers.values("network_id"))
        return [(n.pk, n.name) for n in networks.order_by("name")]


class ListingModelFilter(_ModelFilter):
    path = "listing__model"


class OfferModelFilter(_ModelFilter):
    path = "offer__model"


class NetworkFilter(_NetworkFilter):
    path = "network"


LISTING_FILTERS = [ListingModelFilter, NetworkFilter]
OFFER_FILTERS = [OfferModelFilter, NetworkFilter]


# --- the base of every projection's admin ---


class ChainStateAdmin(TenantAdminMixin, ServiceAdmin):
    """A projection's admin: staff see their organizations' rows, nobody adds, changes or
    deletes (superusers included); large tables count at most 10,000 rows."""

    tenant_read_only = True

    paginator = CappedCountPaginator
    show_full_result_count = False
    priced = False  # rows with a ``currency`` address and amounts in it

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_with_service(self, request, obj, form, change):
        raise PermissionDenied("Chain state changes only through the chain.")

    def get_changelist(self, request, **kwargs):
        return _PricedChangeList

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if self.priced:
            attach_currencies([obj])
        return obj

    # columns shared by several projections
    @admin.display(description="Model", ordering="listing__model__name")
    def listed_model(self, obj):
        listing = joined(obj, "listing")
        return link_to(listing.model) if listing is not None else f"{obj.model_id[:12]}…"

    @admin.display(description="Offer", ordering="offer__tier_name")
    def offer_link(self, obj):
        offer = joined(obj, "offer")
        return link_to(offer, offer.tier_name) if offer is not None else f"token {obj.token_id}"

    @admin.display(description="Model", ordering="offer__model__name")
    def offer_model(self, obj):
        offer = joined(obj, "offer")
        return link_to(offer.model) if offer is not None else "-"

    @admin.display(description="Tx")
    def tx(self, obj):
        tx_hash = obj.event.tx_hash
        return format_html('<code title="{0}">{1}…</code>', tx_hash, tx_hash[:12])


# --- models and versions ---


@admin.register(ChainModel)
class ChainModelAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    list_display = ["listed_model", "network", "short_id", "publisher", "metadata_uri"]
    list_filter = LISTING_FILTERS
    list_select_related = ["listing__model", "network"]
    search_fields = ["model_id", "publisher", "metadata_uri", "listing__model__name"]

    @admin.display(description="Chain id", ordering="model_id")
    def short_id(self, obj):
        return format_html('<code title="{0}">{1}…</code>', obj.model_id, obj.model_id[:12])


@admin.register(PublishedVersion)
class PublishedVersionAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    list_display = ["listed_model", "version", "label", "artifact", "model_version", "network"]
    list_filter = LISTING_FILTERS
    list_select_related = ["listing__model", "model_version__model", "network"]
    search_fields = ["model_id", "artifact_sha256", "label", "listing__model__name"]

    @admin.display(description="Artifact sha256", ordering="artifact_sha256")
    def artifact(self, obj):
        sha = obj.artifact_sha256
        return format_html('<code title="{0}">{1}…</code>', sha, sha[:12])


# --- offers, licenses, holdings, credits ---


@admin.register(ChainOffer)
class ChainOfferAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    priced = True
    list_display = [
        "offer_link",
        "listed_model",
        "kind",
        "price_text",
        "duration_text",
        "max_supply",
        "active",
        "network",
    ]
    list_filter = ["kind", "active", *LISTING_FILTERS]
    list_select_related = ["listing__model", "offer", "network"]
    search_fields = ["=token_id", "model_id", "offer__tier_name", "listing__model__name"]

    @admin.display(description="Price (per token)", ordering="price")
    def price_text(self, obj):
        return money(obj, obj.price)

    @admin.display(description="Duration", ordering="duration")
    def duration_text(self, obj):
        return format_duration(obj.duration)


class LicenseStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("valid", "Valid"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        now = int(timezone.now().timestamp())
        if self.value() == "revoked":
            return queryset.filter(revoked=True)
        if self.value() == "expired":
            return queryset.filter(revoked=False, expires_at__gt=0, expires_at__lte=now)
        if self.value() == "valid":
            timeless = queryset.filter(revoked=False, expires_at=0)
            return timeless | queryset.filter(revoked=False, expires_at__gt=now)
        return queryset


def _date(unix: int) -> str:
    return f"{datetime.fromtimestamp(unix, UTC):%Y-%m-%d}" if unix else "perpetual"


@admin.register(License)
class LicenseAdmin(ChainStateAdmin):
    tenant_field = OFFER_ORG
    list_display = ["holder", "offer_link", "offer_model", "expires", "status", "network"]
    list_filter = [LicenseStatusFilter, *OFFER_FILTERS]
    list_select_related = ["offer__model", "network"]
    search_fields = ["holder", "=token_id", "offer__tier_name", "offer__model__name"]
    readonly_fields = ["changes"]

    @admin.display(description="Expires (UTC)", ordering="expires_at")
    def expires(self, obj):
        return _date(obj.expires_at)

    @admin.display(description="Status")
    def status(self, obj):
        if obj.revoked:
            return "revoked"
        return "valid" if obj.is_valid() else "expired"

    @admin.display(description="On chain, event by event")
    def changes(self, obj):
        rows = LicenseChange.objects.filter(
            network_id=obj.network_id,
            token_address=obj.token_address,
            token_id=obj.token_id,
            holder=obj.holder,
        ).select_related("event")
        cells = [
            (c.event.block_number, c.get_kind_display(), _date(c.expires_at), c.reason or "")
            for c in rows.order_by("event__block_number", "event__log_index")
        ]
        if not cells:
            return "-"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", cells)
        return format_html(
            '<table class="license-changes"><thead><tr><th>Block</th><th>What</th>'
            "<th>Expires</th><th>Reason</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )


@admin.register(Holding)
class HoldingAdmin(ChainStateAdmin):
    tenant_field = OFFER_ORG
    list_display = ["holder", "offer_link", "offer_model", "balance", "network"]
    list_filter = OFFER_FILTERS
    list_select_related = ["offer__model", "network"]
    search_fields = ["holder", "=token_id", "offer__tier_name", "offer__model__name"]


@admin.register(CreditEntry)
class CreditEntryAdmin(ChainStateAdmin):
    tenant_field = OFFER_ORG
    list_display = ["holder", "offer_link", "offer_model", "credits", "receipt_root", "block"]
    list_filter = OFFER_FILTERS
    list_select_related = ["offer__model", "event"]
    search_fields = ["holder", "receipt_root", "offer__model__name"]

    @admin.display(description="Credits", ordering="delta")
    def credits(self, obj):
        return f"{obj.delta:+}"

    @admin.display(description="Block", ordering="event__block_number")
    def block(self, obj):
        return obj.event.block_number


# --- money ---


@admin.register(Sale)
class SaleAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    priced = True
    list_display = ["buyer", "offer_link", "listed_model", "amount", "paid_text", "sold_at"]
    list_filter = LISTING_FILTERS
    list_select_related = ["listing__model", "offer", "event"]
    search_fields = ["buyer", "=token_id", "offer__tier_name", "listing__model__name"]

    @admin.display(description="Paid", ordering="paid")
    def paid_text(self, obj):
        return money(obj, obj.paid)


def credited_entries(payment: Payment):
    """The vault's Credited entries of ``payment``: its transaction's, for its model and
    currency, logged after the transaction's previous PaymentSplit and before this one."""
    event = payment.event
    earlier = Payment.objects.filter(
        network_id=payment.network_id,
        event__tx_hash=event.tx_hash,
        event__log_index__lt=event.log_index,
    ).order_by("-event__log_index")
    after = earlier.values_list("event__log_index", flat=True).first()
    entries = VaultEntry.objects.filter(
        network_id=payment.network_id,
        event__tx_hash=event.tx_hash,
        event__log_index__lt=event.log_index,
        kind=LedgerKind.CREDITED,
        model_id=payment.model_id,
        currency=payment.currency,
    )
    if after is not None:
        entries = entries.filter(event__log_index__gt=after)
    return entries.order_by("event__log_index")


def _account_labels(payment: Payment) -> dict[str, str]:
    """Names staff gave the accounts a model pays (payees, contributors), by lowercase address."""
    labels = {}
    if payment.residual_to:
        labels[payment.residual_to.lower()] = "residual (the publisher: the model has no shares)"
    listing = joined(payment, "listing")
    if listing is None:
        return labels
    model = listing.model
    labels |= {p.address.lower(): f"payee: {p.label}" for p in model.payees.all()}
    for contributor in Contributor.objects.filter(version__model=model):
        name = contributor.name or contributor.get_role_display()
        labels.setdefault(contributor.address.lower(), f"contributor: {name}")
    return labels


def _who(entry: VaultEntry, payment: Payment, labels: dict[str, str]) -> str:
    known = labels.get(entry.account.lower())
    if known:
        return known
    return "the platform's fee" if entry.amount == payment.fee else ""


@admin.register(Payment)
class PaymentAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    priced = True
    list_display = [
        "listed_model",
        "amount_text",
        "fee_text",
        "payees_text",
        "holders_text",
        "residual_text",
        "paid_at",
        "network",
    ]
    list_filter = LISTING_FILTERS
    list_select_related = ["listing__model", "event", "network"]
    search_fields = ["model_id", "residual_to", "event__tx_hash", "listing__model__name"]
    readonly_fields = ["paid_whom"]

    @admin.display(description="Amount", ordering="amount")
    def amount_text(self, obj):
        return money(obj, obj.amount)

    @admin.display(description="Platform fee", ordering="fee")
    def fee_text(self, obj):
        return money(obj, obj.fee)

    @admin.display(description="To payees", ordering="to_payees")
    def payees_text(self, obj):
        return money(obj, obj.to_payees)

    @admin.display(description="To share holders", ordering="to_holders")
    def holders_text(self, obj):
        return money(obj, obj.to_holders)

    @admin.display(description="Residual", ordering="to_residual")
    def residual_text(self, obj):
        if not obj.to_residual:
            return "-"
        return f"{money(obj, obj.to_residual)} to {obj.residual_to}"

    @admin.display(description="What this payment paid whom")
    def paid_whom(self, obj):
        entries = list(credited_entries(obj))
        attach_currencies(entries)
        labels = _account_labels(obj)
        rows = [(e.account, _who(e, obj, labels), money(e, e.amount)) for e in entries]
        if obj.to_holders:
            holders = "Share holders, pro rata (claimed when they withdraw)"
            rows.append((holders, "", money(obj, obj.to_holders)))
        if not rows:
            return "-"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="paid-whom"><thead><tr><th>Account</th><th>Who</th><th>Credited</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            body,
        )


@admin.register(AgentPayment)
class AgentPaymentAdmin(ChainStateAdmin):
    """Agents' x402 payments per call (what each paid is split like any payment: see Payments)."""

    tenant_field = LISTING_ORG
    priced = True
    list_display = ["payer", "listed_model", "amount_text", "receipt", "paid_at", "tx", "network"]
    list_filter = LISTING_FILTERS
    list_select_related = ["listing__model", "event", "network"]
    search_fields = ["payer", "=nonce", "=receipt_id", "=tx_hash", "listing__model__name"]

    @admin.display(description="Paid", ordering="amount")
    def amount_text(self, obj):
        return money(obj, obj.amount)

    @admin.display(description="Receipt")
    def receipt(self, obj):
        return format_html('<code title="{0}">{1}…</code>', obj.receipt_id, obj.receipt_id[:12])


@admin.register(VaultEntry)
class VaultEntryAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    priced = True
    list_display = ["account", "kind", "amount_text", "listed_model", "tx", "network"]
    list_filter = ["kind", *LISTING_FILTERS]
    list_select_related = ["listing__model", "event", "network"]
    search_fields = ["account", "event__tx_hash", "listing__model__name"]

    @admin.display(description="Amount", ordering="amount")
    def amount_text(self, obj):
        return money(obj, obj.amount)


@admin.register(ChainPayees)
class ChainPayeesAdmin(ChainStateAdmin):
    tenant_field = LISTING_ORG
    list_display = ["listed_model", "network", "payee_count", "block_number"]
    list_filter = LISTING_FILTERS
    list_select_related = ["listing__model", "network"]
    search_fields = ["model_id", "listing__model__name"]
    readonly_fields = ["split"]

    @admin.display(description="Accounts")
    def payee_count(self, obj):
        return len(obj.accounts)

    @admin.display(description="What the vault pays of each payment")
    def split(self, obj):
        rows = [(account, f"{bps / 100:.2f}%") for account, bps in obj.pairs()]
        if not rows:
            return "Nobody but the platform and the share holders."
        body = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows)
        return format_html(
            '<table class="chain-payees"><thead><tr><th>Account</th><th>Share</th></tr></thead>'
            "<tbody>{}</tbody></table>",
            body,
        )


# --- platform only ---


@admin.register(Mismatch)
class MismatchAdmin(ReadOnlyPlatformAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_display = [
        "kind",
        "key",
        "projected",
        "on_chain",
        "block_number",
        "detected_at",
        "resolved_at",
    ]
    list_filter = ["kind", "network", "resolved_at"]
    actions = ["reconcile_now"]

    @admin.action(description="Reconcile these networks now")
    def reconcile_now(self, request, queryset):
        networks = Network.objects.filter(pk__in=queryset.values("network_id")).order_by("pk")
        for network in networks:
            services.reconcile_enqueue(network=network)
        self.message_user(
            request, f"Queued a reconciliation of {len(networks)} network(s).", messages.SUCCESS
        )
