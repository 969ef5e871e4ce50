"""Governance's API: proposals, the typed data a holder's wallet signs, ballots, and the
published tally. Public: a ballot's signature is its authentication."""

from __future__ import annotations

from typing import Annotated

from django.db.models import Count, Q
from django.utils import timezone
from ninja import Path, Query, Router, Schema, Status

from licensing import governance
from licensing.choices import VoteSupport
from licensing.errors import GovernanceErrorCode
from licensing.models import Proposal
from portal.api_errors import errors
from portal.errors import DomainError

router = Router(tags=["governance"])

ProposalId = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-fA-F]{64}$",
        example="0x" + "cd" * 32,
        description="The proposal's id: a bytes32, 0x and 64 hex digits.",
    ),
]


class ProposalOut(Schema):
    proposal_id: str
    model: str  # organization/slug
    network: str
    chain_id: int
    title: str
    body: str
    action: str
    params: dict
    status: str
    snapshot_block: int
    total_weight: str
    opens_at: str
    closes_at: str
    quorum_bps: int
    pass_threshold_bps: int
    for_weight: str
    against_weight: str
    abstain_weight: str
    ballots: int
    tally_hash: str


class BallotIn(Schema):
    voter: str
    support: int
    issued_at: int
    signature: str


class BallotOut(Schema):
    voter: str
    support: str
    weight: str
    replaced: bool
    message: str


def _out(proposal: Proposal) -> dict:
    model = proposal.model
    return {
        "proposal_id": proposal.proposal_id,
        "model": f"{model.organization.slug}/{model.slug}",
        "network": proposal.network.name,
        "chain_id": proposal.network.chain_id,
        "title": proposal.title,
        "body": proposal.body,
        "action": proposal.action,
        "params": proposal.params,
        "status": proposal.status,
        "snapshot_block": proposal.snapshot_block,
        "total_weight": str(int(proposal.total_weight)),
        "opens_at": proposal.opens_at.isoformat(),
        "closes_at": proposal.closes_at.isoformat(),
        "quorum_bps": proposal.quorum_bps,
        "pass_threshold_bps": proposal.pass_threshold_bps,
        "for_weight": str(int(proposal.for_weight)),
        "against_weight": str(int(proposal.against_weight)),
        "abstain_weight": str(int(proposal.abstain_weight)),
        "ballots": proposal.current_ballots,
        "tally_hash": proposal.tally_hash,
    }


def _proposals():
    """Proposals with what their answer shows, in one query (the wallets counted once each)."""
    return Proposal.objects.select_related(
        "model__organization", "model__tokenomics", "network"
    ).annotate(current_ballots=Count("ballots", filter=Q(ballots__current=True)))


def _proposal(proposal_id: str) -> Proposal:
    found = _proposals().filter(proposal_id=proposal_id.lower()).first()
    if found is None:
        raise DomainError(GovernanceErrorCode.PROPOSAL_NOT_FOUND)
    return found


@router.get("/proposals", response={200: list[ProposalOut]}, auth=None)
def list_proposals(
    request,
    model: Annotated[str | None, Query(description="organization/slug of one model")] = None,
):
    """Proposals, newest first (at most 100): of one model with ``?model=org/slug``."""
    rows = _proposals()
    if model:
        organization, _, slug = model.partition("/")
        rows = rows.filter(model__organization__slug=organization, model__slug=slug)
    return [_out(p) for p in rows[:100]]


@router.get("/proposals/{proposal_id}", response={200: ProposalOut, **errors(404, 422)}, auth=None)
def proposal_detail(request, proposal_id: ProposalId):
    return _out(_proposal(proposal_id))


@router.get(
    "/proposals/{proposal_id}/ballot",
    response={200: dict, **errors(404, 409, 422)},
    auth=None,
)
def ballot_to_sign(
    request,
    proposal_id: ProposalId,
    support: Annotated[int, Query(ge=0, le=2, description="0 against, 1 for, 2 abstain")],
):
    """The EIP-712 typed data a holder's wallet signs to vote (``eth_signTypedData_v4``),
    stamped with the portal's time; post it back with the signature to ``/ballots``."""
    proposal = _proposal(proposal_id)
    if not proposal.is_open:
        raise DomainError(GovernanceErrorCode.VOTING_CLOSED)
    issued_at = int(timezone.now().timestamp())
    return governance.ballot_typed_data(proposal, support=support, issued_at=issued_at)


@router.post(
    "/proposals/{proposal_id}/ballots",
    response={201: BallotOut, **errors(400, 404, 409, 422)},
    auth=None,
)
def cast_ballot(request, proposal_id: ProposalId, ballot: BallotIn):
    """Cast (or replace) a wallet's vote: the signed ``Ballot`` typed data. Its weight is the
    wallet's shares at the proposal's snapshot block; zero shares count zero, and say so."""
    cast = governance.ballot_cast(
        proposal=_proposal(proposal_id),
        voter=ballot.voter,
        support=ballot.support,
        issued_at=ballot.issued_at,
        signature=ballot.signature,
    )
    return Status(
        201,
        {
            "voter": cast.ballot.voter,
            "support": VoteSupport(cast.ballot.support).label.lower(),
            "weight": str(int(cast.ballot.weight)),
            "replaced": cast.replaced,
            "message": cast.message,
        },
    )


@router.get("/proposals/{proposal_id}/tally", response={200: dict, **errors(404, 422)}, auth=None)
def tally(request, proposal_id: ProposalId):
    """The published tally: the proposal and its rules, every ballot received (replaced ones
    marked, each with its weight at the snapshot), the totals and the outcome. Its keccak-256
    over the canonical JSON (sorted keys, no spaces) is the hash ``ModelGovernor`` recorded;
    ``manage.py verify_tally`` recomputes it from the chain."""
    proposal = _proposal(proposal_id)
    if proposal.tally is None:
        raise DomainError(GovernanceErrorCode.PROPOSAL_NOT_FOUND, "Not tallied yet.")
    return proposal.tally
