"""Seats in the admin: an organization's owners name the member wallets that may use a license
its treasury holds (managers and viewers see them). Add and remove; a seat is not edited."""

from __future__ import annotations

from datetime import UTC, datetime

from django import forms
from django.contrib import admin

from licensing.admin.operations import ADDRESS_WIDGET
from licensing.models import License, Seat
from licensing.services import seats as services
from portal.choices import Role
from portal.history_admin import TenantHistoryAdmin
from portal.models import Organization
from portal.selectors import organization_ids_for
from portal.service_admin import ServiceModelForm


def license_label(obj: License) -> str:
    offer = obj.offer
    what = (
        f"{offer.model.name} · {offer.tier_name or offer.get_kind_display()}"
        if offer
        else (f"offer {obj.token_id}")
    )
    if obj.revoked:
        until = "revoked"
    elif obj.expires_at == 0:
        until = "perpetual"
    else:
        until = f"until {datetime.fromtimestamp(obj.expires_at, tz=UTC):%Y-%m-%d}"
    return f"{what} on {obj.network.name} ({until}), held by {obj.holder}"


class TreasuryLicenseField(forms.ChoiceField):
    """A license the treasury of one of the user's organizations holds.

    Not a ``ModelChoiceField`` on purpose: a ``License`` row is its publisher's in the tenant
    admins (``offer__model__organization``), while a seat is about its holder, whoever
    published it. The choices are set per request (``SeatAdmin.get_form``), and a value
    outside them is "Select a valid choice" like any other."""

    def __init__(self, **kwargs):
        super().__init__(choices=(), **kwargs)
        self.licenses: dict[str, License] = {}

    def offer(self, licenses) -> None:
        self.licenses = {str(row.pk): row for row in licenses}
        self.choices = [("", "---------")] + [
            (key, license_label(row)) for key, row in self.licenses.items()
        ]

    def clean(self, value):
        key = super().clean(value)
        return self.licenses[key]


class SeatForm(ServiceModelForm):
    license = TreasuryLicenseField(
        help_text="A license the organization's treasury holds; its terms say how many wallets "
        "may use it.",
    )

    class Meta:
        model = Seat
        fields = ["organization", "license", "wallet", "label"]
        widgets = {"wallet": ADDRESS_WIDGET}
        help_texts = {"wallet": "The member's wallet (EIP-55 checksum, or all lower case)."}


@admin.register(Seat)
class SeatAdmin(TenantHistoryAdmin):
    tenant_field = "organization"
    tenant_write_role = Role.OWNER
    form = SeatForm
    list_display = ["wallet", "label", "network", "token_id", "organization", "created_at"]
    list_select_related = ["organization", "network"]
    list_filter = ["network", "organization"]
    search_fields = ["wallet", "label", "organization__name"]
    readonly_fields = ["organization", "network", "token_id", "wallet", "label", "license_now"]

    def has_change_permission(self, request, obj=None):
        # a seat is added or removed, never edited: its page is read-only
        return False if obj is not None else super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        if obj is not None:
            return self.readonly_fields
        return ["organization", "license", "wallet", "label"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and "license" in form.base_fields:
            owned = Organization.objects.all()
            if not request.user.is_superuser:
                owned = owned.filter(
                    pk__in=organization_ids_for(user=request.user, min_role=Role.OWNER)
                )
            form.base_fields["license"].offer(services.treasury_licenses(owned))
        return form

    def save_with_service(self, request, obj, form, change):
        return services.seat_add(
            organization=form.cleaned_data["organization"],
            license=form.cleaned_data["license"],
            wallet=form.cleaned_data["wallet"],
            label=form.cleaned_data.get("label", ""),
            by=request.user,
        )

    def delete_with_service(self, request, obj):
        services.seat_remove(seat=obj, by=request.user)

    @admin.display(description="The license now")
    def license_now(self, obj):
        found = services.license_of(obj)
        if found is None:
            return "The treasury holds no such license now: the seat gives no access."
        if not found.is_valid():
            return (
                "The license has expired or was revoked: the seat gives no access until it is "
                "renewed."
            )
        allowed = services.seats_allowed(found)
        return f"Valid; {allowed} seat(s) under its terms."
