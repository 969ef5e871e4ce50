"""License operations in the admin: grant, extend or revoke a holder's license of an offer,
sent through the outbox; each row shows where its transaction stands and keeps its history.

Other pages link to the add form prefilled by its querystring (``operation_add_url``):
``?kind=extend&offer=<offer pk>&holder=<address>``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AdminTextInputWidget
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from chain import services as chain_services
from licensing.admin.status import TxStatusFilter
from licensing.choices import LicenseOperationKind, PublishStepStatus
from licensing.models import License, LicenseOperation, Offer
from licensing.selectors import renewal_preview, renewal_summary
from licensing.services import operations
from licensing.services.status import INDEXED, with_indexed
from portal.choices import Role
from portal.history_admin import TenantHistoryAdmin
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceModelForm

BADGES = {
    PublishStepStatus.CONFIRMED: "badge badge-ok",
    PublishStepStatus.FAILED: "badge badge-bad",
}
ADDRESS_WIDGET = AdminTextInputWidget(
    attrs={
        "class": "vTextField eth-address",
        "spellcheck": "false",
        "autocomplete": "off",
        "placeholder": "0x…",
    }
)


def operation_add_url(*, offer: Offer | None = None, holder: str = "", kind: str = "") -> str:
    """The add form of a license operation, prefilled (for links from other admin pages)."""
    query = {"kind": kind, "offer": offer.pk if offer is not None else "", "holder": holder}
    url = reverse("admin:licensing_licenseoperation_add")
    filled = {key: value for key, value in query.items() if value}
    return f"{url}?{urlencode(filled)}" if filled else url


class LicenseOperationForm(ServiceModelForm):
    """Ask for a grant, an extension or a revocation (the service checks each kind's rules)."""

    amount = forms.IntegerField(
        min_value=1,
        initial=1,
        required=False,
        help_text="Grants only: units to mint (credits: the number of credits).",
    )

    class Meta:
        model = LicenseOperation
        fields = ["kind", "offer", "holder", "amount", "expires_at", "reason", "note"]
        widgets = {"holder": ADDRESS_WIDGET}
        help_texts = {
            "kind": "Grant mints a comp license; an extension gives a holder more time; a "
            "revocation ends a license now.",
            "holder": "The wallet address (EIP-55 checksum, or all lower case).",
            "expires_at": "Grants and extensions of timed offers: until when (UTC). Empty for "
            "perpetual licenses and credits.",
            "reason": "Revocations only: the code sent on chain with it.",
            "note": "Kept with the operation (not sent on chain).",
        }


class LicenseOperationNoteForm(ServiceModelForm):
    class Meta:
        model = LicenseOperation
        fields = ["note"]


@admin.register(LicenseOperation)
class LicenseOperationAdmin(TenantHistoryAdmin):
    """Staff's grants, extensions and revocations (managers and owners start them)."""

    tenant_field = "offer__model__organization"
    tenant_write_role = Role.MANAGER
    form = LicenseOperationForm
    list_display = [
        "created_at", "kind", "offer", "holder", "status_badge", "reason", "requested_by_email",
    ]  # fmt: skip
    list_filter = ["kind", TxStatusFilter, "reason", "offer__network"]
    list_select_related = [
        "offer__model", "offer__network", "offer__currency", "transaction", "requested_by",
    ]  # fmt: skip
    search_fields = [
        "holder", "note", "offer__tier_name", "offer__model__name", "transaction__tx_hash",
    ]  # fmt: skip
    date_hierarchy = "created_at"
    actions = ["retry_failed"]
    add_fieldsets = [
        (None, {"fields": ["kind", "offer", "holder"]}),
        ("Grant or extension", {"fields": ["amount", "expires_at"]}),
        ("Revocation", {"fields": ["reason"]}),
        (None, {"fields": ["note"]}),
    ]
    readonly_fields = [
        "kind", "offer", "holder", "amount", "expires_at", "reason", "status_text",
        "transaction_link", "requested_by_email", "created_at", "holder_now", "next_steps",
    ]  # fmt: skip
    change_fieldsets = [
        (None, {"fields": ["kind", "offer", "holder", "amount", "expires_at", "reason"]}),
        ("On chain", {"fields": ["status_text", "transaction_link"]}),
        ("The holder's license now", {"fields": ["holder_now", "next_steps"]}),
        ("Record", {"fields": ["note", "requested_by_email", "created_at"]}),
    ]

    @property
    def autocomplete_fields(self):
        """Offers are searched through their own admin (``licensing.admin.tokenomics``); while
        none is registered the offer is a select, scoped all the same."""
        offer_admin = self.admin_site._registry.get(Offer)
        return ["offer"] if offer_admin is not None and offer_admin.search_fields else []

    # --- the list ---

    def get_queryset(self, request):
        return with_indexed(super().get_queryset(request))

    def status_of(self, obj) -> tuple[str, str]:
        return operations.license_operation_status(obj, is_indexed=getattr(obj, INDEXED, None))

    @admin.display(description="Status", ordering="transaction__status")
    def status_badge(self, obj):
        status, reason = self.status_of(obj)
        label = PublishStepStatus(status).label
        return format_html(
            '<span class="{}" title="{}">{}</span>', BADGES.get(status, "badge"), reason, label
        )

    @admin.display(description="Requested by", ordering="requested_by__email")
    def requested_by_email(self, obj):
        return obj.requested_by.email if obj.requested_by else "-"  # text: users are superusers'

    # --- one operation ---

    @admin.display(description="Status")
    def status_text(self, obj):
        status, reason = self.status_of(obj)
        label = PublishStepStatus(status).label
        if not reason:
            return label
        return format_html("<strong>{}</strong>: {}", label, reason)

    @admin.display(description="Transaction")
    def transaction_link(self, obj):
        row = obj.transaction
        if row is None or not row.tx_hash:
            return "Not sent yet."
        explorer = obj.offer.network.explorer_url
        if explorer:
            url = f"{explorer.rstrip('/')}/tx/{row.tx_hash}"
            return format_html('<a href="{}" rel="noopener"><code>{}</code></a>', url, row.tx_hash)
        return format_html("<code>{}</code>", row.tx_hash)

    def _license_of(self, obj) -> License | None:
        return License.objects.filter(
            network_id=obj.offer.network_id, token_id=obj.offer.token_id, holder=obj.holder
        ).first()

    @admin.display(description="As the chain has it")
    def holder_now(self, obj):
        found = self._license_of(obj)
        if found is None:
            return "No license of this offer is projected for the holder (yet)."
        lines = renewal_summary(renewal_preview(license=found))
        items = format_html_join("", "<li>{}</li>", ((line,) for line in lines))
        return format_html("<ul>{}</ul>", items)

    @admin.display(description="Next")
    def next_steps(self, obj):
        links = [
            (operation_add_url(offer=obj.offer, holder=obj.holder, kind=kind), label)
            for kind, label in (
                (LicenseOperationKind.EXTEND, "Extend…"),
                (LicenseOperationKind.REVOKE, "Revoke…"),
                (LicenseOperationKind.GRANT, "Grant more…"),
            )
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    # --- forms ---

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = LicenseOperationNoteForm if obj is not None else LicenseOperationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        return self.change_fieldsets if obj is not None else self.add_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return super().get_readonly_fields(request, obj) if obj is not None else []

    def _offer_choices(self, request):
        """Offers of the organizations where the user may start operations."""
        offers = Offer.objects.select_related("model", "network")
        if self._is_super(request):
            return offers
        writable = organization_ids_for(user=request.user, min_role=self.tenant_write_role)
        return offers.filter(model__organization_id__in=writable)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "offer":  # the tenant mixin narrows it again by the Offer admin
            kwargs["queryset"] = self._offer_choices(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if add:
            context["holder_now"] = self._prefilled_license(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _prefilled_license(self, request) -> list[str] | None:
        """What the chain has for the offer and holder a link prefilled (the renewal view)."""
        offer_id, holder = request.GET.get("offer", ""), request.GET.get("holder", "")
        if not offer_id.isdigit() or not holder:
            return None
        offer = self._offer_choices(request).filter(pk=offer_id).first()
        if offer is None:
            return None
        found = License.objects.filter(
            network_id=offer.network_id, token_id=offer.token_id, holder__iexact=holder
        ).first()
        if found is None:
            return [f"{holder} holds no license of {offer} (as the sync has it)."]
        return renewal_summary(renewal_preview(license=found))

    def has_delete_permission(self, request, obj=None):
        return False  # what was sent stays on record; a revocation undoes a grant

    def save_with_service(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            return operations.license_operation_note(
                operation=obj, note=data.get("note", ""), by=request.user
            )
        return operations.license_operation_request(
            kind=data.get("kind", ""),
            offer=data["offer"],
            holder=data.get("holder", ""),
            amount=data.get("amount") or 1,
            expires_at=data.get("expires_at"),
            reason=data.get("reason", ""),
            note=data.get("note", ""),
            by=request.user,
        )

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(
            request,
            f"Queued: {obj}. The sender sends it, and the license pages show it once the sync "
            "has seen it.",
        )
        return super().response_add(request, obj, post_url_continue)

    # --- actions ---

    @admin.action(description="Send failed operations again", permissions=["change"])
    def retry_failed(self, request, queryset):
        self.act_with_service(
            request,
            queryset.select_related("transaction"),
            lambda op: (
                op.transaction is not None and chain_services.outbox_retry(row=op.transaction)
            ),
            done="Queued {count} {items} again.",
            unchanged="{count} {items} had not failed: left as they are.",
        )
