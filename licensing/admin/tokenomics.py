"""Admins of what a model is sold with: currencies (platform), each model's tokenomics page,
offers, payees, contributors and the cap table (tenant admins, saved through services)."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, Subquery, Sum
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from chain.admin import PlatformAdmin
from chain.choices import OfferKind
from licensing.admin.publishing import PublishToChainMixin
from licensing.amounts import (
    DURATION_UNITS,
    duration_in_unit,
    format_amount,
    format_duration,
    plain,
    to_atomic,
    to_units,
)
from licensing.models import (
    Contributor,
    Currency,
    LicenseTerms,
    ModelTokenomics,
    Offer,
    Payee,
    ShareAllocation,
)
from licensing.services import tokenomics as services
from portal.choices import Role
from portal.history_admin import TenantHistoryAdmin
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceModelForm


def _owns(request, organization_id) -> bool:
    """Whether the user may decide an organization's split (owners, and superusers)."""
    if request.user.is_active and request.user.is_superuser:
        return True
    return organization_id in organization_ids_for(user=request.user, min_role=Role.OWNER)


def _model_fixed_on_change(admin_fields, obj, field="model"):
    """Once a row exists it stays on its model (or version): moving it is a delete and an add."""
    return [*admin_fields, field] if obj is not None else list(admin_fields)


@admin.register(Currency)
class CurrencyAdmin(PlatformAdmin):
    list_display = ["symbol", "network", "address", "decimals", "active", "eip3009"]
    list_filter = ["network", "active", "eip3009"]
    search_fields = ["symbol", "address"]


def link_to(obj, text=None):
    """A link to ``obj``'s admin page (its change or, read-only, its view page)."""
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or obj)


# --- the model's page ---


def _table(headers: list[str], rows: list[tuple], empty: str):
    if not rows:
        return empty
    head = format_html_join("", "<th>{}</th>", [(h,) for h in headers])
    body = format_html_join(
        "", "<tr>{}</tr>", [(format_html_join("", "<td>{}</td>", [(c,) for c in r]),) for r in rows]
    )
    return format_html(
        '<table class="tokenomics-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
        head,
        body,
    )


class TokenomicsForm(ServiceModelForm):
    class Meta:
        model = ModelTokenomics
        fields = ["model", "metadata_uri", "contributors_bps"]


@admin.register(ModelTokenomics)
class ModelTokenomicsAdmin(PublishToChainMixin, TenantHistoryAdmin):
    tenant_field = "model__organization"
    form = TokenomicsForm
    actions = ["publish_to_chain"]  # PublishToChainMixin: the action, button and page
    list_display = [
        "model",
        "organization",
        "short_id",
        "offer_count",
        "payees_pct",
        "contributors_pct",
        "platform_pct",
    ]
    list_select_related = ["model__organization"]
    search_fields = ["model__name", "model__slug", "chain_model_id"]
    autocomplete_fields = ["model"]
    readonly_fields = [
        "chain_model_id",
        "split_summary",
        "payees_table",
        "offers_table",
        "cap_table",
        "governance",
    ]
    fieldsets = [
        (None, {"fields": ["model", "chain_model_id", "metadata_uri"]}),
        ("Revenue split", {"fields": ["contributors_bps", "split_summary", "payees_table"]}),
        ("Offers", {"fields": ["offers_table"]}),
        ("Cap table", {"fields": ["cap_table"]}),
        ("Governance by the share holders", {"fields": ["governance"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(offer_count=Count("model__offers"))

    def get_readonly_fields(self, request, obj=None):
        fields = _model_fixed_on_change(super().get_readonly_fields(request, obj), obj)
        if obj is not None and not _owns(request, obj.model.organization_id):
            fields.append("contributors_bps")  # part of the split: owners decide it
        return fields

    def has_delete_permission(self, request, obj=None):
        return False  # it holds the model's id on chain: it lives as long as the model

    def save_with_service(self, request, obj, form, change):
        """Managers edit the rest; the contributors' part is the owners' (an add form shows
        it to every writer, so the check is here too)."""
        current = ModelTokenomics.objects.filter(model_id=obj.model_id).first()
        before = current.contributors_bps if current is not None else 0
        if obj.contributors_bps != before and not _owns(request, obj.model.organization_id):
            raise ValidationError(
                {
                    "contributors_bps": ValidationError(
                        "Only the organization's owners set the contributors' part of the split.",
                        code="owner_only",
                    )
                }
            )
        return services.tokenomics_save(tokenomics=obj, by=request.user)

    @admin.display(description="Organization", ordering="model__organization__name")
    def organization(self, obj):
        return obj.model.organization

    @admin.display(description="Chain id")
    def short_id(self, obj):
        return f"{obj.chain_model_id[:10]}…"

    @admin.display(description="Offers", ordering="offer_count")
    def offer_count(self, obj):
        return obj.offer_count

    @admin.display(description="Payees", ordering="payees_bps")
    def payees_pct(self, obj):
        return f"{obj.payees_bps / 100:.2f}%"

    @admin.display(description="Contributors", ordering="contributors_bps")
    def contributors_pct(self, obj):
        return f"{obj.contributors_bps / 100:.2f}%"

    @admin.display(description="Platform (max)")
    def platform_pct(self, obj):
        return f"{obj.platform_fee_bps / 100:.2f}%"

    @admin.display(description="Offers")
    def offers_table(self, obj):
        offers = Offer.objects.filter(model_id=obj.model_id).select_related("network", "currency")
        rows = (
            [
                (
                    link_to(o, o.tier_name),
                    o.get_kind_display(),
                    o.network.name,
                    format_amount(o.price, o.currency),
                    format_duration(o.duration),
                    "yes" if o.active else "no",
                )
                for o in offers
            ]
            if obj.pk
            else []
        )
        return _table(
            ["Tier", "Kind", "Network", "Price", "Duration", "Active"],
            rows,
            "No offers yet: add one under Offers.",
        )

    @admin.display(description="Payees")
    def payees_table(self, obj):
        payees = Payee.objects.filter(model_id=obj.model_id) if obj.pk else []
        rows = [(link_to(p, p.label), p.address, f"{p.bps / 100:.2f}%") for p in payees]
        return _table(["Label", "Address", "Share"], rows, "No payees.")

    @admin.display(description="Cap table")
    def cap_table(self, obj):
        lines = ShareAllocation.objects.filter(model_id=obj.model_id) if obj.pk else []
        rows = [(link_to(a, a.label or a.holder), a.holder, a.amount) for a in lines]
        state = "minted: fixed" if obj.pk and services.shares_minted(obj.model) else "not minted"
        return format_html(
            "{}<p>{}</p>",
            _table(["Holder", "Address", "Shares"], rows, "No ownership shares."),
            state,
        )

    @admin.display(description="Rules")
    def governance(self, obj):
        from licensing.models import GovernanceSettings, PriceBound, Proposal

        if obj.pk is None:
            return "-"
        rules = GovernanceSettings.objects.filter(model_id=obj.model_id).first()
        if rules is None:
            url = reverse("admin:licensing_governancesettings_add") + f"?model={obj.model_id}"
            return format_html(
                'Holders do not govern this model. <a href="{}">Set governance rules</a>.', url
            )
        bounds = PriceBound.objects.filter(offer__model_id=obj.model_id).count()
        proposals = Proposal.objects.filter(model_id=obj.model_id).count()
        window = format_duration(rules.voting_period_seconds)
        return format_html(
            "{}: votes stay open {}, quorum {}%, passing above {}% for; payees {}; {} offer "
            "price bound(s); {} proposal(s). {} · {}",
            "On" if rules.enabled else "Off",
            window,
            f"{rules.quorum_bps / 100:g}",
            f"{rules.pass_threshold_bps / 100:g}",
            f"{rules.min_payees_bps / 100:g}% to {rules.max_payees_bps / 100:g}%"
            if rules.max_payees_bps
            else "fixed",
            bounds,
            proposals,
            link_to(rules, "Edit the rules"),
            format_html(
                '<a href="{}?model__id__exact={}">Proposals</a>',
                reverse("admin:licensing_proposal_changelist"),
                obj.model_id,
            ),
        )

    @admin.display(description="Who gets each payment")
    def split_summary(self, obj):
        if obj.pk is None:
            return "-"
        rest = 10_000 - obj.platform_fee_bps - obj.payees_bps - obj.contributors_bps
        rows = [("Platform fee (at most)", f"{obj.platform_fee_bps / 100:.2f}%")]
        rows += [
            (f"{address} (payee or contributor)", f"{bps / 100:.2f}%")
            for address, bps in services.onchain_payees(obj.model)
        ]
        has_shares = ShareAllocation.objects.filter(model=obj.model).exists()
        holders = "Share holders, pro rata" if has_shares else "The publisher (no shares)"
        rows.append((f"{holders}, and every rounding remainder", f"at least {rest / 100:.2f}%"))
        body = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows)
        return format_html('<table class="split-summary">{}</table>', body)


# --- offers ---


class OfferForm(ServiceModelForm):
    """Prices are entered in the currency's units and durations in days (or hours, minutes,
    seconds); the service gets the smallest unit and seconds, converted exactly."""

    price_amount = forms.DecimalField(
        label="Price",
        required=False,
        min_value=0,
        help_text="In the currency's units (e.g. 0.05 ETH); a credits pack's price is per pack.",
    )
    duration_days = forms.DecimalField(
        label="Duration",
        required=False,
        min_value=0,
        max_digits=24,
        decimal_places=6,
        help_text="How long one unit lasts, in days unless you pick another unit; "
        "0 or empty = perpetual.",
    )
    duration_unit = forms.ChoiceField(
        label="Unit",
        required=False,
        choices=[(unit, unit) for unit in DURATION_UNITS],
        initial="days",
    )

    class Meta:
        model = Offer
        fields = [
            "model",
            "network",
            "kind",
            "tier_name",
            "currency",
            "max_supply",
            "credits_per_unit",
            "usage_unit",
            "terms",
            "transferable",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        offer = self.instance
        if offer.pk is not None:
            if offer.currency is not None:
                price = Decimal(plain(to_units(offer.price, offer.currency.decimals)))
                self.initial.setdefault("price_amount", price)
            else:
                self.initial.setdefault("price_amount", Decimal(int(offer.price)))
            count, unit = duration_in_unit(int(offer.duration))
            self.initial.setdefault("duration_days", count)
            self.initial.setdefault("duration_unit", unit)

    def clean(self):
        data = super().clean()
        self.instance.price = self._atomic_price(data)
        amount = data.get("duration_days") or Decimal(0)
        size = DURATION_UNITS[data.get("duration_unit") or "days"]
        try:
            self.instance.duration = to_atomic(amount * size, 0)
        except ValueError:
            self.add_error("duration_days", "That is not a whole number of seconds.")
        return data

    def _atomic_price(self, data) -> int:
        amount = data.get("price_amount") or Decimal(0)
        currency = data.get("currency")
        if currency is None:
            # Without a currency a price means nothing; the service explains why (shares have
            # no price, a paid offer needs a currency), so any price left is kept non-zero.
            return 0 if not amount else max(1, int(amount))
        try:
            return to_atomic(amount, currency.decimals)
        except ValueError:
            self.add_error(
                "price_amount",
                ValidationError(
                    f"{currency.symbol} has {currency.decimals} decimals: round the price to "
                    f"at most {currency.decimals} digits after the point.",
                    code="too_many_decimals",
                ),
            )
            return 0


DURATION = ("duration_days", "duration_unit")  # one line of the form


@admin.register(Offer)
class OfferAdmin(TenantHistoryAdmin):
    tenant_field = "model__organization"
    form = OfferForm
    service_error_fields = {"price": "price_amount", "duration": "duration_days"}
    list_display = [
        "tier_name",
        "model",
        "kind",
        "network",
        "price_display",
        "duration_display",
        "active",
        "chain_status",
    ]
    list_filter = ["kind", "active", "network", "model"]
    list_select_related = ["model__tokenomics", "network", "currency", "terms"]
    search_fields = ["tier_name", "model__name", "=token_id"]
    autocomplete_fields = ["model"]
    readonly_fields = ["token_id", "pending_changes"]
    fieldsets = [
        (None, {"fields": ["model", "network", "kind", "tier_name", "token_id", "active"]}),
        (
            "Price",
            {
                "fields": [
                    "currency",
                    "price_amount",
                    ("duration_days", "duration_unit"),
                    "max_supply",
                ]
            },
        ),
        ("Credits packs", {"fields": ["credits_per_unit", "usage_unit"]}),
        ("Terms", {"fields": ["terms", "transferable"]}),
        ("On chain", {"fields": ["pending_changes"]}),
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.service_error_fields = self.service_error_fields
        return form

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("chain_offers")  # "On chain"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "terms" and not self._is_super(request):
            writable = organization_ids_for(user=request.user, min_role=self.tenant_write_role)
            kwargs["queryset"] = LicenseTerms.objects.filter(organization_id__in=writable)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_with_service(self, request, obj, form, change):
        return services.offer_save(offer=obj, by=request.user)

    def delete_with_service(self, request, obj):
        services.offer_delete(offer=obj, by=request.user)

    def history_value(self, record, name, value):
        if name == "price" and value is not None:
            currency = Currency.objects.filter(pk=record.currency_id).first()
            return format_amount(value, currency)
        if name == "duration" and value is not None:
            return format_duration(int(value))
        return super().history_value(record, name, value)

    # the form's own fields, as text where a page shows the offer read-only (a history record)
    @admin.display(description="Price")
    def price_amount(self, obj):
        return self.price_display(obj)

    @admin.display(description="Duration")
    def duration_days(self, obj):
        return format_duration(obj.duration)

    @admin.display(description="Unit")
    def duration_unit(self, obj):
        return ""

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj):
        if obj.kind == OfferKind.CREDITS and obj.credits_per_unit:
            return f"{format_amount(obj.price, obj.currency)} / {obj.credits_per_unit} credits"
        return format_amount(obj.price, obj.currency)

    @admin.display(description="Duration", ordering="duration")
    def duration_display(self, obj):
        return format_duration(obj.duration)

    @admin.display(description="On chain")
    def chain_status(self, obj):
        diff = services.offer_pending_diff(obj)
        if diff is None:
            return "not published"
        return f"{len(diff)} change(s) pending" if diff else "in sync"

    @admin.display(description="Changes not yet on chain")
    def pending_changes(self, obj):
        if obj.pk is None:
            return "-"
        diff = services.offer_pending_diff(obj)
        if diff is None:
            return "Not on chain yet: publish the model to this network."
        if not diff:
            return "None: the chain has this configuration."
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", [(f, c, d) for f, c, d in diff]
        )
        return format_html(
            '<table class="pending-diff"><thead><tr><th>Field</th><th>On chain</th>'
            "<th>Configured</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )


# --- payees, contributors, cap table ---


@admin.register(Payee)
class PayeeAdmin(TenantHistoryAdmin):
    tenant_field = "model__organization"
    tenant_write_role = Role.OWNER
    list_display = ["label", "address", "pct", "model"]
    list_select_related = ["model"]
    list_filter = ["model"]
    search_fields = ["label", "address", "model__name"]
    autocomplete_fields = ["model"]
    fields = ["model", "label", "address", "bps"]

    def get_readonly_fields(self, request, obj=None):
        return _model_fixed_on_change(super().get_readonly_fields(request, obj), obj, "model")

    def save_with_service(self, request, obj, form, change):
        return services.payee_save(payee=obj, by=request.user)

    def delete_with_service(self, request, obj):
        services.payee_delete(payee=obj, by=request.user)

    @admin.display(description="Share", ordering="bps")
    def pct(self, obj):
        return f"{obj.bps / 100:.2f}%"


@admin.register(Contributor)
class ContributorAdmin(TenantHistoryAdmin):
    tenant_field = "version__model__organization"
    list_display = ["address", "name", "role", "share", "version"]
    list_select_related = ["version__model"]
    list_filter = ["role"]
    search_fields = ["address", "name", "version__model__name"]
    autocomplete_fields = ["version"]
    fields = ["version", "name", "address", "role", "share_bps"]

    def get_readonly_fields(self, request, obj=None):
        return _model_fixed_on_change(super().get_readonly_fields(request, obj), obj, "version")

    def save_with_service(self, request, obj, form, change):
        return services.contributor_save(contributor=obj, by=request.user)

    def delete_with_service(self, request, obj):
        services.contributor_delete(contributor=obj, by=request.user)

    @admin.display(description="Share of the contributors' part", ordering="share_bps")
    def share(self, obj):
        return f"{obj.share_bps / 100:.2f}%"


@admin.register(ShareAllocation)
class ShareAllocationAdmin(TenantHistoryAdmin):
    tenant_field = "model__organization"
    tenant_write_role = Role.OWNER
    list_display = ["holder", "label", "amount", "model", "pct"]
    list_select_related = ["model"]
    list_filter = ["model"]
    search_fields = ["holder", "label", "model__name"]
    autocomplete_fields = ["model"]
    fields = ["model", "label", "holder", "amount"]

    def get_queryset(self, request):
        same_model = ShareAllocation.objects.filter(model=OuterRef("model")).values("model")
        total = same_model.annotate(total=Sum("amount")).values("total")
        return super().get_queryset(request).annotate(model_total=Subquery(total))

    def get_readonly_fields(self, request, obj=None):
        return _model_fixed_on_change(super().get_readonly_fields(request, obj), obj, "model")

    def save_with_service(self, request, obj, form, change):
        return services.share_allocation_save(allocation=obj, by=request.user)

    def delete_with_service(self, request, obj):
        services.share_allocation_delete(allocation=obj, by=request.user)

    @admin.display(description="Of the model's shares")
    def pct(self, obj):
        total = obj.model_total
        return f"{obj.amount * 100 / total:.2f}%" if total else "-"
