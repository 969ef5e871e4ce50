"""Admins of governance: each model's rules and price bounds (owners), and its proposals
(managers propose; everyone of the organization sees the results, the ballots and the history).
Saved through ``licensing.governance``."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from chain.choices import OfferKind
from chain.models import Network
from licensing import governance
from licensing.admin.tokenomics import link_to
from licensing.amounts import format_amount
from licensing.choices import ProposalAction, ProposalStatus
from licensing.models import GovernanceSettings, Offer, PriceBound, Proposal
from models_hub.models import AIModel, ModelVersion
from portal.choices import Role
from portal.errors import DomainError
from portal.history_admin import TenantHistoryAdmin
from portal.service_admin import ServiceModelForm


@admin.register(GovernanceSettings)
class GovernanceSettingsAdmin(TenantHistoryAdmin):
    tenant_field = "model__organization"
    tenant_write_role = Role.OWNER
    list_display = ["model", "enabled", "window", "quorum", "threshold", "split_bounds"]
    list_select_related = ["model"]
    autocomplete_fields = ["model"]
    search_fields = ["model__name"]
    fieldsets = [
        (None, {"fields": ["model", "enabled"]}),
        (
            "Votes",
            {
                "fields": [
                    "voting_period_seconds",
                    "quorum_bps",
                    "pass_threshold_bps",
                    "proposal_threshold_bps",
                ]
            },
        ),
        (
            "What holders may change",
            {
                "fields": ["min_payees_bps", "max_payees_bps"],
                "description": "The payees' split holders may vote (price bounds are per offer, "
                "under Price bounds). Saved bounds are queued to the governor contract on every "
                "network where the model's shares are on chain.",
            },
        ),
    ]

    def save_with_service(self, request, obj, form, change):
        return governance.governance_settings_save(rules=obj, by=request.user)

    @admin.display(description="Window")
    def window(self, obj):
        hours = obj.voting_period_seconds / 3600
        return f"{hours / 24:g} days" if hours >= 24 else f"{hours:g} hours"

    @admin.display(description="Quorum")
    def quorum(self, obj):
        return f"{obj.quorum_bps / 100:g}%"

    @admin.display(description="Passes above")
    def threshold(self, obj):
        return f"{obj.pass_threshold_bps / 100:g}% for"

    @admin.display(description="Payees may share")
    def split_bounds(self, obj):
        if not obj.max_payees_bps:
            return "fixed"
        return f"{obj.min_payees_bps / 100:g}% to {obj.max_payees_bps / 100:g}%"


@admin.register(PriceBound)
class PriceBoundAdmin(TenantHistoryAdmin):
    tenant_field = "offer__model__organization"
    tenant_write_role = Role.OWNER
    list_display = ["offer", "lowest", "highest"]
    list_select_related = ["offer__model", "offer__currency"]
    autocomplete_fields = ["offer"]
    search_fields = ["offer__tier_name", "offer__model__name"]
    fields = ["offer", "min_price", "max_price"]

    def save_with_service(self, request, obj, form, change):
        return governance.price_bound_save(bound=obj, by=request.user)

    @admin.display(description="Lowest price", ordering="min_price")
    def lowest(self, obj):
        return format_amount(int(obj.min_price), obj.offer.currency)

    @admin.display(description="Highest price", ordering="max_price")
    def highest(self, obj):
        return format_amount(int(obj.max_price), obj.offer.currency)


class ProposalForm(ServiceModelForm):
    """A manager's proposal: the question, and at most one change with its arguments."""

    offer = forms.ModelChoiceField(
        queryset=Offer.objects.none(), required=False, help_text="Price and pause/resume only."
    )
    price = forms.IntegerField(
        required=False, min_value=1, help_text="The new price, in the currency's smallest unit."
    )
    active = forms.TypedChoiceField(
        required=False,
        choices=[("", "—"), ("true", "Resume sales"), ("false", "Pause sales")],
        coerce=lambda v: v == "true",
        empty_value=None,
    )
    payees = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One payee a line: address, then basis points (0xabc… 500).",
    )
    version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False)

    class Meta:
        model = Proposal
        fields = ["model", "network", "title", "body", "action"]

    def scope(self, models) -> None:
        """Offer and version choices of the models the user may propose for (the model field
        itself is scoped by the tenant admin)."""
        self.fields["offer"].queryset = Offer.objects.filter(model__in=models).exclude(
            kind=OfferKind.SHARES
        )
        self.fields["version"].queryset = ModelVersion.objects.filter(model__in=models)
        if "network" in self.fields:
            self.fields["network"].queryset = Network.objects.filter(is_active=True)

    def params(self) -> dict:
        data, action = self.cleaned_data, self.cleaned_data.get("action")
        if action in (ProposalAction.SET_PRICE, ProposalAction.SET_ACTIVE):
            offer = data.get("offer")
            params = {"offer": offer.pk if offer else None}
            if action == ProposalAction.SET_PRICE:
                params["price"] = data.get("price")
            else:
                params["active"] = data.get("active")
            return params
        if action == ProposalAction.SET_PAYEES:
            payees = []
            for line in (data.get("payees") or "").splitlines():
                parts = line.replace(",", " ").split()
                if not parts:
                    continue
                try:
                    payees.append({"address": parts[0], "bps": int(parts[1])})
                except (IndexError, ValueError):
                    raise ValidationError({"payees": f"Not an address and bps: {line!r}"}) from None
            return {"payees": payees}
        if action == ProposalAction.PUBLISH_VERSION:
            version = data.get("version")
            return {"version": version.pk if version else None}
        return {}


@admin.register(Proposal)
class ProposalAdmin(TenantHistoryAdmin):
    tenant_field = "model__organization"
    tenant_write_role = Role.MANAGER
    list_display = ["title", "model", "status", "closes_at", "votes", "turnout"]
    list_select_related = ["model", "network"]
    list_filter = ["status", "action", "model"]
    search_fields = ["title", "model__name", "proposal_id"]
    form = ProposalForm
    fieldsets = [
        (None, {"fields": ["proposal_id", "model", "network", "title", "body", "proposer"]}),
        ("Change", {"fields": ["action", "change"]}),
        (
            "Vote",
            {
                "fields": [
                    "status",
                    "snapshot_block",
                    "total_weight",
                    "opens_at",
                    "closes_at",
                    "rules",
                ]
            },
        ),
        ("Result", {"fields": ["votes", "turnout", "tally_hash", "chain", "failure"]}),
        ("Ballots", {"fields": ["ballots_received", "tally_document"]}),
    ]
    # a proposal is read-only once open: every field shown is
    readonly_fields = [name for _, options in fieldsets for name in options["fields"]]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (None, {"fields": ["model", "network", "title", "body"]}),
                (
                    "Change (optional)",
                    {
                        "fields": ["action", "offer", "price", "active", "payees", "version"],
                        "description": "At most one change, executed on chain if the vote "
                        "passes, within the bounds set in Governance settings and Price bounds.",
                    },
                ),
            ]
        return super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        if obj is not None:
            return form_class
        scoped = self._related_queryset(request, AIModel)
        models = scoped if scoped is not None else AIModel.objects.all()

        class Scoped(form_class):
            def __init__(self, *args, **kw):
                super().__init__(*args, **kw)
                self.scope(models)

        return Scoped

    def save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            return governance.proposal_create(
                model=data["model"],
                network=data["network"],
                title=data["title"],
                body=data.get("body") or "",
                action=data["action"],
                params=form.params(),
                created_by=request.user,
            )
        except DomainError as error:
            field = next((d["field"] for d in error.details if d["field"] in form.fields), None)
            raise ValidationError({field: error.message} if field else error.message) from None

    @admin.display(description="Change")
    def change(self, obj):
        return describe_change(obj)

    @admin.display(description="Rules")
    def rules(self, obj):
        return (
            f"quorum {obj.quorum_bps / 100:g}% of {int(obj.total_weight)} shares; passes with "
            f"more than {obj.pass_threshold_bps / 100:g}% of the votes for and against"
        )

    @admin.display(description="For / against / abstain")
    def votes(self, obj):
        if obj.status == ProposalStatus.OPEN:
            counted = obj.ballots.filter(current=True).count()
            return f"open: {counted} ballot(s) so far (counted when it closes)"
        return f"{int(obj.for_weight)} / {int(obj.against_weight)} / {int(obj.abstain_weight)}"

    @admin.display(description="Turnout")
    def turnout(self, obj):
        if obj.status == ProposalStatus.OPEN or not obj.total_weight:
            return "—"
        voted = obj.for_weight + obj.against_weight + obj.abstain_weight
        return f"{voted * 100 / obj.total_weight:.1f}%"

    @admin.display(description="On chain")
    def chain(self, obj):
        parts = []
        if obj.tally_transaction_id:
            parts.append(format_html("tally {}", link_to(obj.tally_transaction)))
        if obj.execution_transaction_id:
            parts.append(format_html("execution {}", link_to(obj.execution_transaction)))
        return format_html(", ".join(["{}"] * len(parts)), *parts) if parts else "—"

    @admin.display(description="Received")
    def ballots_received(self, obj):
        shown = 50
        rows = list(obj.ballots.order_by("-current", "-weight", "voter")[:shown])
        if not rows:
            return "No ballot yet."
        body = format_html_join(
            "",
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            [
                (
                    b.voter,
                    b.get_support_display(),
                    int(b.weight),
                    "counts" if b.current else "replaced",
                    datetime.fromtimestamp(b.issued_at, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                )
                for b in rows
            ],
        )
        total = obj.ballots.count()
        more = (
            f"The {shown} of {total} with the most weight; every one is in the tally."
            if total > shown
            else ""
        )
        return format_html(
            '<table class="ballots-table"><thead><tr><th>Voter</th><th>Vote</th><th>Shares at '
            "the snapshot</th><th>Ballot</th><th>Signed</th></tr></thead><tbody>{}</tbody>"
            "</table><p>{}</p>",
            body,
            more,
        )

    @admin.display(description="Published tally")
    def tally_document(self, obj):
        if obj.tally is None:
            return "Published when the window closes."
        url = reverse("api:tally", args=[obj.proposal_id])
        return format_html(
            '<a href="{}">The tally document (JSON)</a>: every ballot with its signature and '
            "weight, the totals and the outcome; its keccak-256 is the hash above. "
            "<code>manage.py verify_tally {}</code> recomputes it from the chain.",
            url,
            obj.proposal_id,
        )


def describe_change(proposal: Proposal) -> str:
    """The proposal's change in words (admin, customer pages)."""
    params = proposal.params or {}
    if proposal.action == ProposalAction.SET_PRICE:
        offer = Offer.objects.filter(pk=params.get("offer")).select_related("currency").first()
        price = format_amount(int(params["price"]), offer.currency) if offer else params["price"]
        return f"Set the price of {offer.tier_name if offer else 'an offer'} to {price}"
    if proposal.action == ProposalAction.SET_ACTIVE:
        offer = Offer.objects.filter(pk=params.get("offer")).first()
        verb = "Resume" if params.get("active") else "Pause"
        return f"{verb} sales of {offer.tier_name if offer else 'an offer'}"
    if proposal.action == ProposalAction.SET_PAYEES:
        payees = ", ".join(f"{p['address']} {p['bps'] / 100:g}%" for p in params.get("payees", []))
        return f"Pay {payees}"
    if proposal.action == ProposalAction.PUBLISH_VERSION:
        return f"List version {params.get('label')}"
    return "None (a signal vote)"
