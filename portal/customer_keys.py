"""A customer's own API keys (``/account/keys/``): make one (its key shown once), list them,
revoke one. Signed-in customers only; staff keep their organization's keys in the admin.

A new key is shown on the page the creation redirects to (POST, redirect, GET), carried
there by a one-time session entry that the GET removes as it shows it: reloading the page, or
coming back later, shows the list without it. Only the key's SHA-256 is stored in its row.
"""

from __future__ import annotations

from datetime import datetime, time
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from portal import services
from portal.choices import CUSTOMER_SCOPES
from portal.models import ApiKey
from portal.service_admin import add_service_errors

ISSUED_SESSION_KEY = "portal.customer_api_key_issued"


class CustomerApiKeyForm(forms.Form):
    """A name and an optional expiry date; the service checks the rules and writes."""

    name = forms.CharField(
        max_length=80,
        help_text="What the key is for, so you know which to revoke (“predict script”).",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on (optional)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working as this day begins (UTC). Leave it empty for a key "
        "that works until you revoke it.",
    )

    def clean_expires_on(self):
        day = self.cleaned_data.get("expires_on")
        if day is not None and day <= timezone.now().date():
            raise ValidationError("Pick a day after today.", code="expiry_past")
        return day

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def customer_required(view):
    """Signed-in customers only: others go to the wallet sign-in (and come back); staff get a
    403 page that points them to their organization's keys in the admin."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=reverse("siwe_login"))
        if user.is_staff or user.is_superuser:
            return render(request, "customer/api_keys_staff.html", status=403)
        return view(request, *args, **kwargs)

    return wrapped


@never_cache
@customer_required
@require_http_methods(["GET", "POST"])
def api_keys(request):
    """The customer's keys and the form that makes one."""
    form = CustomerApiKeyForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.customer_api_key_create(
                owner=request.user, name=form.cleaned_data["name"], expires_at=form.expires_at()
            )
        except ValidationError as exc:
            add_service_errors(form, exc, {"expires_at": "expires_on"})
        else:
            request.session[ISSUED_SESSION_KEY] = {
                "id": issued.api_key.pk,
                "key": issued.raw_key,
            }
            return redirect("customer_api_keys")
    return render(
        request,
        "customer/api_keys.html",
        {
            "form": form,
            "issued": _pop_issued(request),
            "keys": ApiKey.objects.of_customer(request.user),
            "customer_scopes": CUSTOMER_SCOPES,
        },
    )


def _pop_issued(request) -> dict | None:
    """The key just made, once: the session entry goes as it is read."""
    issued = request.session.pop(ISSUED_SESSION_KEY, None)
    if not isinstance(issued, dict):
        return None
    api_key = ApiKey.objects.of_customer(request.user).filter(pk=issued.get("id")).first()
    if api_key is None:
        return None
    return {"api_key": api_key, "raw_key": issued.get("key", "")}


@never_cache
@customer_required
@require_http_methods(["GET", "POST"])
def api_key_revoke(request, key_id: int):
    """Revoke one of the customer's keys after a confirmation (another's key id: 404)."""
    api_key = get_object_or_404(ApiKey.objects.of_customer(request.user), pk=key_id)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        if services.customer_api_key_revoke(owner=request.user, api_key=api_key):
            messages.success(
                request,
                f"Revoked “{api_key.name}”. Requests made with it are now refused "
                "(401 api_key_revoked).",
            )
        else:
            messages.info(request, f"“{api_key.name}” was revoked already.")
        return redirect("customer_api_keys")
    return render(request, "customer/api_keys_revoke.html", {"api_key": api_key})


urlpatterns = [
    path("", api_keys, name="customer_api_keys"),
    path("<int:key_id>/revoke/", api_key_revoke, name="customer_api_key_revoke"),
]
