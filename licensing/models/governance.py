"""Governance by a model's share holders: the rules a publisher sets (``GovernanceSettings``,
``PriceBound``), proposals, and the EIP-712 ballots holders sign (``licensing.governance``
for how they are weighed, tallied and executed)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from licensing.choices import ProposalAction, ProposalStatus, VoteSupport
from licensing.models.tokenomics import BPS, UINT128, WEI, Offer

USER = settings.AUTH_USER_MODEL
DAY = 86_400


class GovernanceSettings(models.Model):
    """How a model's holders decide: the voting window, the quorum, the pass threshold, who may
    propose, and the bounds of the split they may set (the chain enforces them too)."""

    model = models.OneToOneField(
        "models_hub.AIModel", on_delete=models.PROTECT, related_name="governance"
    )
    enabled = models.BooleanField(
        default=True, help_text="Whether holders may propose and vote on this model."
    )
    voting_period_seconds = models.PositiveIntegerField(
        default=3 * DAY, help_text="How long a proposal stays open for votes, in seconds."
    )
    quorum_bps = models.PositiveIntegerField(
        default=2_000,
        help_text="Share of all shares (at the snapshot) that must vote, abstentions included, "
        "in basis points: 2000 = 20%.",
    )
    pass_threshold_bps = models.PositiveIntegerField(
        default=5_000,
        help_text="A proposal passes when its votes for are MORE than this share of the votes "
        "for and against, in basis points: 5000 = a simple majority (a tie fails).",
    )
    proposal_threshold_bps = models.PositiveIntegerField(
        default=100,
        help_text="Share of all shares a holder needs to propose from the customer portal, in "
        "basis points: 100 = 1%.",
    )
    min_payees_bps = models.PositiveIntegerField(
        default=0, help_text="The least the payees may share of each payment, in basis points."
    )
    max_payees_bps = models.PositiveIntegerField(
        default=0,
        help_text="The most the payees may share of each payment, in basis points (0 with the "
        "minimum 0: holders may not change the split).",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "governance settings"
        verbose_name_plural = "governance settings"
        constraints = [
            models.CheckConstraint(
                condition=Q(voting_period_seconds__gte=60, voting_period_seconds__lte=90 * DAY),
                name="governance_period_range",
            ),
            models.CheckConstraint(
                condition=Q(quorum_bps__lte=BPS, pass_threshold_bps__lte=BPS)
                & Q(pass_threshold_bps__gte=1, proposal_threshold_bps__lte=BPS),
                name="governance_bps_range",
            ),
            models.CheckConstraint(
                condition=Q(min_payees_bps__lte=F("max_payees_bps"), max_payees_bps__lte=BPS),
                name="governance_split_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"Governance of {self.model}"


class PriceBound(models.Model):
    """The prices holders may vote an offer to (inclusive); the governor contract holds the same
    bounds and refuses anything outside them."""

    offer = models.OneToOneField(Offer, on_delete=models.CASCADE, related_name="price_bound")
    min_price = models.DecimalField(help_text="In the currency's smallest unit.", **WEI)
    max_price = models.DecimalField(help_text="In the currency's smallest unit.", **WEI)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_price__gte=1, min_price__lte=F("max_price"))
                & Q(max_price__lt=UINT128),
                name="price_bound_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offer}: {self.min_price} to {self.max_price}"


class Proposal(models.Model):
    """One question to a model's holders, with at most one executable change. Its rules are
    copied from the model's settings when it opens, so a later change of the settings does
    not move the goalposts of an open vote."""

    model = models.ForeignKey("models_hub.AIModel", on_delete=models.PROTECT, related_name="+")
    network = models.ForeignKey("chain.Network", on_delete=models.PROTECT, related_name="+")
    proposal_id = models.CharField(
        max_length=66, unique=True, editable=False, help_text="The bytes32 id ballots sign."
    )
    title = models.CharField(max_length=160)
    body = models.TextField(blank=True, help_text="Markdown.")
    action = models.CharField(
        max_length=16, choices=ProposalAction.choices, default=ProposalAction.NONE
    )
    params = models.JSONField(default=dict, blank=True, help_text="The change's arguments.")
    proposer = models.CharField(
        max_length=42, blank=True, help_text="The holder's wallet that proposed (portal)."
    )
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    share_token = models.CharField(
        max_length=42, editable=False, help_text="The shares' ERC-1155 contract at the snapshot."
    )
    share_token_id = models.DecimalField(editable=False, **WEI)
    snapshot_block = models.PositiveBigIntegerField(
        help_text="Weights are share balances at this (finalized) block."
    )
    total_weight = models.DecimalField(
        help_text="All shares at the snapshot (the quorum's base).", **WEI
    )
    opens_at = models.DateTimeField(default=timezone.now)
    closes_at = models.DateTimeField()
    quorum_bps = models.PositiveIntegerField()
    pass_threshold_bps = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    for_weight = models.DecimalField(default=0, **WEI)
    against_weight = models.DecimalField(default=0, **WEI)
    abstain_weight = models.DecimalField(default=0, **WEI)
    tally = models.JSONField(
        null=True, blank=True, editable=False, help_text="The published tally: every ballot."
    )
    tally_hash = models.CharField(max_length=66, blank=True, editable=False)
    tallied_at = models.DateTimeField(null=True, blank=True)
    tally_transaction = models.ForeignKey(
        "chain.OutboundTransaction", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    execution_transaction = models.ForeignKey(
        "chain.OutboundTransaction", null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    failure = models.TextField(blank=True)
    # the tally document (every ballot) is kept once, on the row, not in each history record
    history = HistoricalRecords(excluded_fields=["tally"])

    class Meta:
        ordering = ["-opens_at", "-pk"]
        indexes = [models.Index(fields=["status", "closes_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")), name="proposal_window"
            ),
            models.CheckConstraint(
                condition=Q(action__in=ProposalAction.values), name="proposal_action_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ProposalStatus.values), name="proposal_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == ProposalStatus.OPEN and timezone.now() < self.closes_at


class Ballot(models.Model):
    """One signed vote as received: a wallet's EIP-712 ``Ballot`` for a proposal. A later
    ballot of the same wallet (a later ``issued_at``) replaces it until the window closes;
    every ballot received stays, for the published tally."""

    proposal = models.ForeignKey(Proposal, on_delete=models.CASCADE, related_name="ballots")
    voter = models.CharField(max_length=42)
    support = models.PositiveSmallIntegerField(choices=VoteSupport.choices)
    issued_at = models.PositiveBigIntegerField(help_text="Signed: seconds since 1970 (UTC).")
    signature = models.CharField(max_length=1000)
    weight = models.DecimalField(help_text="Shares at the snapshot block.", **WEI)
    current = models.BooleanField(default=True, help_text="The voter's latest ballot.")
    received_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["proposal", "voter", "-issued_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["proposal", "voter", "issued_at"], name="ballot_unique"
            ),
            models.UniqueConstraint(
                fields=["proposal", "voter"], condition=Q(current=True), name="ballot_one_current"
            ),
            models.CheckConstraint(
                condition=Q(support__in=VoteSupport.values), name="ballot_support_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.voter}: {self.get_support_display()} on {self.proposal}"
