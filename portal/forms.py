"""Admin forms of organizations, members and API keys: they parse input; the services in
``portal.services`` check the rules and write (see ``portal.service_admin``)."""

from django import forms
from django.contrib.admin.widgets import AdminTextInputWidget
from django.utils.html import format_html

from portal.choices import ApiScope
from portal.models import ApiKey, Membership, Organization
from portal.service_admin import ServiceModelForm


class OrganizationForm(ServiceModelForm):
    class Meta:
        model = Organization
        fields = ["name", "slug", "treasury_address", "status"]
        widgets = {
            "treasury_address": AdminTextInputWidget(
                attrs={
                    "class": "vTextField eth-address",
                    "spellcheck": "false",
                    "autocomplete": "off",
                    "placeholder": "0x…",
                }
            )
        }


class MembershipInviteForm(ServiceModelForm):
    """Add a colleague by e-mail (the admin's add form for memberships)."""

    email = forms.EmailField(
        help_text="They get an e-mail with a link to set their password (a new account is "
        "made when none has this address)."
    )
    service_error_fields = {"username": "email", "user": "email"}

    class Meta:
        model = Membership
        fields = ["organization", "email", "role"]


class MembershipChangeForm(ServiceModelForm):
    class Meta:
        model = Membership
        fields = ["role"]


def scope_choices() -> list[tuple[str, str]]:
    """Each scope shown with its code, as API clients and the docs name it."""
    return [
        (value, format_html('<code class="scope-code">{}</code> {}', value, label))
        for value, label in ApiScope.choices
    ]


class ApiKeyCreateForm(ServiceModelForm):
    scopes = forms.MultipleChoiceField(
        choices=scope_choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes", "expires_at"]
