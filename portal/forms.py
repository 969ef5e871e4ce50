from django import forms
from django.utils import timezone

from portal.choices import ApiScope, Role
from portal.models import ApiKey, Membership
from portal.services import is_last_owner


class MembershipInviteForm(forms.ModelForm):
    """Add a colleague by e-mail (the admin's add form for memberships)."""

    email = forms.EmailField(help_text="An account is created when none has this address.")

    class Meta:
        model = Membership
        fields = ["organization", "email", "role"]


class MembershipChangeForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        stored = Membership.objects.get(pk=self.instance.pk)
        if role != Role.OWNER and is_last_owner(membership=stored):
            raise forms.ValidationError("An organization keeps at least one owner.")
        return role


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "scopes", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("The expiry must be in the future.")
        return expires_at
