"""Posting tokenomics forms through the admin as staff would, and reading what came back."""

from __future__ import annotations

from django import forms
from django.urls import reverse

from chain.choices import OfferKind


def admin_url(model, view: str = "add", *args) -> str:
    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def offer_data(store, **changes) -> dict:
    """A complete, valid add form of a license tier in ETH, with ``changes`` applied (a value of
    None leaves the field out, as an unticked checkbox is left out)."""
    data = {
        "model": store.model.pk,
        "network": store.network.pk,
        "kind": OfferKind.LICENSE.value,
        "tier_name": "Standard",
        "currency": store.eth.pk,
        "price_amount": "0.05",
        "duration_days": "0",
        "duration_unit": "days",
        "max_supply": "0",
        "credits_per_unit": "0",
        "usage_unit": "",
        "terms": store.terms.pk,
        "active": "on",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def form_errors(response) -> dict[str, list]:
    """The admin form's errors as ``{field: [ValidationError, ...]}`` (``__all__`` above it)."""
    assert response.status_code == 200, f"expected the form again, got {response.status_code}"
    return response.context["adminform"].form.errors.as_data()


def error_codes(response, field: str) -> list[str]:
    return [error.code for error in form_errors(response).get(field, [])]


def error_text(response, field: str) -> str:
    return " ".join(message for e in form_errors(response).get(field, []) for message in e)


def change_data(model_admin, obj, user) -> dict:
    """The change form of ``obj`` as ``user`` would submit it unchanged (its initial values)."""
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = get_user_model().objects.get(pk=user.pk)
    form = model_admin.get_form(request, obj, change=True)(instance=obj)
    data = {}
    for bound in form:
        value, widget = bound.value(), bound.field.widget
        if isinstance(widget, forms.MultiWidget):
            for suffix, part in zip(widget.widgets_names, widget.decompress(value), strict=True):
                data[bound.html_name + suffix] = "" if part is None else str(part)
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = str(value)
    return data
