"""Customer-side forms of licensing (the admin's live in ``licensing/admin``)."""

from __future__ import annotations

from django import forms

from chain.choices import OfferKind
from licensing.market import FilterChoices, MarketFilters
from models_hub.choices import Task

PRICE = {"required": False, "min_value": 0, "max_digits": 30, "decimal_places": 18}


class MarketFilterForm(forms.Form):
    """The marketplace's GET form. A value that does not validate is an error on its field and
    that filter is left out; the others still apply (``filters()``)."""

    q = forms.CharField(
        label="Search", required=False, max_length=200, strip=True,
        help_text="Name, summary, organization or tag.",
    )  # fmt: skip
    task = forms.ChoiceField(label="Task", required=False)
    organization = forms.ChoiceField(label="Organization", required=False)
    kind = forms.TypedChoiceField(label="Offer kind", required=False, coerce=int, empty_value=None)
    network = forms.TypedChoiceField(label="Network", required=False, coerce=int, empty_value=None)
    currency = forms.ChoiceField(label="Currency", required=False)
    min_price = forms.DecimalField(label="Lowest price", **PRICE)
    max_price = forms.DecimalField(label="Highest price", **PRICE)

    def __init__(self, data=None, *, choices: FilterChoices):
        super().__init__(data)
        self.choices = choices
        self.fields["task"].choices = [("", "Any task"), *Task.choices]
        self.fields["organization"].choices = [("", "Any organization")] + [
            (org.slug, org.name) for org in choices.organizations
        ]
        self.fields["kind"].choices = [("", "Any kind"), *OfferKind.choices]
        self.fields["network"].choices = [("", "Any network")] + [
            (str(network.pk), network.name) for network in choices.networks
        ]
        self.fields["currency"].choices = [("", "Any (native coin)")] + [
            (symbol, symbol) for symbol in choices.currency_symbols
        ]
        units = "In whole units of the currency chosen (0.05, 12.5); with any currency, of "
        units += "each network's native coin (ETH). A credits pack's price is the pack's."
        self.fields["min_price"].help_text = units
        self.fields["max_price"].help_text = units

    def clean(self):
        data = super().clean()
        low, high = data.get("min_price"), data.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", "The highest price is below the lowest.")
        return data

    def filters(self) -> MarketFilters:
        """The filters of the fields that validated (an unbound form filters nothing)."""
        if not self.is_bound:
            return MarketFilters()
        self.is_valid()
        data = self.cleaned_data
        organizations = {org.slug: org for org in self.choices.organizations}
        networks = {network.pk: network for network in self.choices.networks}
        return MarketFilters(
            q=data.get("q") or "",
            task=data.get("task") or "",
            organization=organizations.get(data.get("organization") or ""),
            network=networks.get(data.get("network")),
            kind=data.get("kind"),
            currency=data.get("currency") or "",
            min_price=data.get("min_price"),
            max_price=data.get("max_price"),
        )
