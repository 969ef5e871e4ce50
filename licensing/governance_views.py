"""The governance tab of a model's marketplace page (``/market/<org>/<model>/governance/``):
its proposals with their results, each signed-in holder's weight at every snapshot and vote
(the wallet signs the ballot in the browser, ``static/js/governance.js``), and a proposal form
for holders above the proposal threshold."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from chain.choices import OfferKind
from licensing import governance, market
from licensing.account import wallets_of
from licensing.admin.governance import describe_change
from licensing.amounts import format_duration, to_atomic
from licensing.choices import ProposalAction, ProposalStatus, VoteSupport
from licensing.models import Ballot, GovernanceSettings, Offer, Proposal
from licensing.services.purchase import chain_params
from models_hub.cards import render_model_card
from portal.errors import DomainError

HOLDER_ACTIONS = [
    (ProposalAction.NONE, "No change (a signal vote)"),
    (ProposalAction.SET_PRICE, "Change an offer's price"),
    (ProposalAction.SET_ACTIVE, "Pause or resume an offer"),
]


class HolderProposalForm(forms.Form):
    wallet = forms.ChoiceField(label="Propose as")
    title = forms.CharField(max_length=160)
    body = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), help_text="Markdown."
    )
    action = forms.ChoiceField(label="Change", choices=HOLDER_ACTIONS)
    offer = forms.ModelChoiceField(queryset=Offer.objects.none(), required=False)
    price = forms.CharField(
        required=False, help_text="The new price in the offer's currency (0.05, 12.5)."
    )
    active = forms.ChoiceField(
        required=False, choices=[("", "—"), ("true", "Resume sales"), ("false", "Pause sales")]
    )

    def __init__(self, *args, wallets, offers, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["wallet"].choices = [(w, w) for w in wallets]
        self.fields["offer"].queryset = offers

    def params(self) -> dict:
        action, offer = self.cleaned_data["action"], self.cleaned_data.get("offer")
        if action == ProposalAction.NONE:
            return {}
        if offer is None:
            raise forms.ValidationError({"offer": "Pick the offer to change."})
        if action == ProposalAction.SET_ACTIVE:
            if self.cleaned_data.get("active") not in ("true", "false"):
                raise forms.ValidationError({"active": "Pause or resume?"})
            return {"offer": offer.pk, "active": self.cleaned_data["active"] == "true"}
        try:
            amount = Decimal(self.cleaned_data.get("price") or "")
            price = to_atomic(amount, offer.currency.decimals)
        except (InvalidOperation, ValueError, AttributeError):
            raise forms.ValidationError(
                {"price": "A price in the currency's units, such as 0.05."}
            ) from None
        return {"offer": offer.pk, "price": price}


def governance_page(request, org_slug: str, model_slug: str):
    model = market.market_model(org_slug=org_slug, slug=model_slug)
    if model is None:
        raise Http404("No such model on the marketplace.")
    rules = GovernanceSettings.objects.filter(model=model, enabled=True).first()
    wallets = wallets_of(user=request.user)
    networks = governance._networks_with_governor(model) if rules else []
    offers = Offer.objects.filter(model=model, network__in=networks).exclude(kind=OfferKind.SHARES)
    proposer = _proposer_weights(model, networks, wallets, rules)
    form = None
    if rules and any(ok for _, _, ok in proposer):
        eligible = [wallet for wallet, _, ok in proposer if ok]
        form = HolderProposalForm(
            request.POST if request.method == "POST" else None, wallets=eligible, offers=offers
        )
        if request.method == "POST" and form.is_valid():
            created = _propose(request, form, model, networks)
            if created is not None:
                messages.success(request, f"Proposal “{created.title}” is open for votes.")
                return redirect("market:governance", org_slug, model_slug)
    proposals = list(
        Proposal.objects.filter(model=model).select_related("network").order_by("-opens_at")[:50]
    )
    return render(
        request,
        "market/governance.html",
        {
            "model": model,
            "rules": rules,
            "wallets": wallets,
            "proposer": proposer,
            "form": form,
            "open": [_row(p, wallets) for p in proposals if p.status == ProposalStatus.OPEN],
            "closed": [_row(p, wallets) for p in proposals if p.status != ProposalStatus.OPEN],
            "chains": {str(n.chain_id): chain_params(n) for n in networks},
            "terms": _terms(rules),
        },
    )


def _terms(rules) -> dict:
    """The model's rules in words."""
    if rules is None:
        return {}
    return {
        "quorum": f"{rules.quorum_bps / 100:g}%",
        "threshold": f"{rules.pass_threshold_bps / 100:g}%",
        "propose": f"{rules.proposal_threshold_bps / 100:g}%",
        "window": format_duration(rules.voting_period_seconds),
    }


def _proposer_weights(model, networks, wallets, rules) -> list[tuple[str, int, bool]]:
    """Each wallet's shares now (the last finalized block) and whether it may propose."""
    if not (rules and networks and wallets):
        return []
    network = networks[0]
    try:
        shares = governance.share_class(model, network)
    except DomainError:
        return []
    block = governance.finalized_block(network)
    total = governance.total_at(shares, block) or 0
    held = governance.weights_at(shares, block, wallets)
    return [
        (
            wallet,
            held.get(wallet, 0),
            bool(total) and held.get(wallet, 0) * 10_000 >= rules.proposal_threshold_bps * total,
        )
        for wallet in wallets
    ]


def _propose(request, form, model, networks):
    try:
        return governance.proposal_create(
            model=model,
            network=networks[0],
            title=form.cleaned_data["title"],
            body=form.cleaned_data.get("body") or "",
            action=form.cleaned_data["action"],
            params=form.params(),
            proposer=form.cleaned_data["wallet"],
        )
    except forms.ValidationError as error:
        for field, errors in error.message_dict.items():
            form.add_error(field, errors)
    except DomainError as error:
        field = next((d["field"] for d in error.details if d["field"] in form.fields), None)
        form.add_error(field, error.message)
    return None


def _row(proposal: Proposal, wallets: list[str]) -> dict:
    mine = []
    if wallets:
        shares = governance.shares_of(proposal)
        weights = governance.weights_at(shares, proposal.snapshot_block, wallets)
        ballots = {
            b.voter: b
            for b in Ballot.objects.filter(proposal=proposal, voter__in=wallets, current=True)
        }
        mine = [
            {
                "wallet": wallet,
                "weight": weights.get(wallet, 0),
                "vote": VoteSupport(ballots[wallet].support).label if wallet in ballots else "",
            }
            for wallet in wallets
        ]
    total = int(proposal.total_weight) or 1
    voted = proposal.for_weight + proposal.against_weight + proposal.abstain_weight
    return {
        "proposal": proposal,
        "body_html": render_model_card(proposal.body) if proposal.body else "",
        "change": describe_change(proposal),
        "mine": mine,
        "turnout_pct": f"{voted * 100 / total:.1f}",
        "quorum_pct": f"{proposal.quorum_bps / 100:g}",
    }
