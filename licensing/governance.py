"""Governance by a model's share holders: proposals, EIP-712 ballots weighted by shares at a
snapshot block, the published tally, and the passed change executed on chain by the governor.

- **Opening** (``proposal_create``): a proposal fixes its snapshot block when it opens, the
  highest block the sync holds as final (``finalized_block``), and copies its model's rules
  (window, quorum, threshold). Its change, if any, is checked against the bounds the publisher
  set (``GovernanceSettings``, ``PriceBound``); the governor contract checks them again.
- **Ballots** (``ballot_cast``): a wallet signs the typed data ``ballot_typed_data`` gives
  (domain: the portal's name and version, the chain id and the ``ModelGovernor`` address;
  ``Ballot(bytes32 proposalId, uint8 support, uint64 issuedAt)``). Its weight is its share
  balance at the snapshot block, summed from the indexed share transfers up to that block
  (``weights_at``), never the current balance. A later ballot (a later ``issuedAt``) replaces
  the wallet's earlier one until the window closes; a wallet with no shares at the snapshot
  may vote and counts zero (and is told so).
- **Tally** (``proposal_tally``, beat's ``governance-tally``): once the window closes, every
  ballot's signature is checked again, the latest per wallet counts with its weight at the
  snapshot, and the result is published as one JSON document (every ballot received, replaced
  ones marked) with its keccak-256 hash. ``ModelGovernor.recordTally`` is queued in the outbox
  with that hash and the totals; a passed proposal's change follows (``execute*``).
- **Execution** (``governance_finish``, the same beat): a mined execution is applied to what
  staff configured (the offer's price or active flag, the payees, the version's listing), so
  the next publish does not undo it; a reverted one fails the proposal with the chain's reason.
- **Verification** (``verify_tally``, ``manage.py verify_tally``): recompute the tally from the
  published document and the chain (``balanceOf`` at the snapshot block for every voter), and
  compare it with the document's hash, its totals and what ``ModelGovernor`` recorded.
"""

from __future__ import annotations

import json
import logging
from copy import copy
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_hash.auto import keccak
from eth_keys.exceptions import BadSignature
from eth_utils import is_address, to_checksum_address

from chain import abi, eip712
from chain.choices import TX_OPEN, OfferKind, TxStatus
from chain.models import Deployment, Network, OutboundTransaction, SyncCursor
from chain.services import enqueue_call
from licensing.choices import ProposalAction, ProposalStatus, VoteSupport
from licensing.errors import GovernanceErrorCode
from licensing.models import (
    Ballot,
    ChainOffer,
    GovernanceSettings,
    HoldingChange,
    Offer,
    Payee,
    PriceBound,
    Proposal,
)
from licensing.models.tokenomics import BPS
from portal.errors import DomainError

logger = logging.getLogger(__name__)

GOVERNOR = "ModelGovernor"
DOMAIN_NAME, DOMAIN_VERSION = "Model Licensing Portal", "1"
BALLOT_TYPE = "Ballot(bytes32 proposalId,uint8 support,uint64 issuedAt)"
BALLOT_TYPEHASH = keccak(BALLOT_TYPE.encode())  # eth_hash's keccak: bytes in, bytes out
CLOCK_SKEW_SECONDS = 300  # a ballot signed this far ahead of the portal's clock is accepted
FEW_HOLDERS = 500  # up to this many holders asked for, the query names them


# --- where the shares are, and what they weighed at a block ------------------------------------


@dataclass(frozen=True)
class ShareClass:
    """A model's ownership shares on one network: the ERC-1155 token and id."""

    network: Network
    token_address: str
    token_id: int


def share_class(model, network: Network) -> ShareClass:
    """The shares of ``model`` on ``network`` as the sync has seen them, else ``no_shares``."""
    tokenomics = getattr(model, "tokenomics", None)
    found = (
        ChainOffer.objects.filter(
            network=network, model_id=tokenomics.chain_model_id, kind=OfferKind.SHARES
        ).first()
        if tokenomics is not None
        else None
    )
    if found is None:
        raise DomainError(GovernanceErrorCode.NO_SHARES)
    return ShareClass(network, found.token_address, int(found.token_id))


def finalized_block(network: Network) -> int:
    """The highest block whose share transfers are indexed and final (the sync's view)."""
    cursor = SyncCursor.objects.filter(network=network, contract_name=abi.LICENSE_TOKEN).first()
    if cursor is None:
        return -1
    return max(min(cursor.last_block, cursor.head_seen - network.confirmation_depth), -1)


def weights_at(shares: ShareClass, block: int, holders=None) -> dict[str, int]:
    """Each holder's share balance at the end of ``block``, from the indexed transfers up to it
    (``holders``: only those; checksummed addresses). Holders with nothing are left out."""
    changes = HoldingChange.objects.filter(
        network=shares.network,
        token_address=shares.token_address,
        token_id=shares.token_id,
        event__block_number__lte=block,
    )
    wanted = None if holders is None else set(holders)
    if wanted is not None and len(wanted) <= FEW_HOLDERS:
        changes = changes.filter(holder__in=list(wanted))
    # many holders (a tally): every holder's sum in one pass, the others dropped here (a long
    # IN list costs the database more than the rows it saves)
    sums = changes.values("holder").annotate(balance=Sum("delta")).values_list("holder", "balance")
    return {
        holder: int(balance)
        for holder, balance in sums
        if balance and (wanted is None or holder in wanted)
    }


def total_at(shares: ShareClass, block: int) -> int:
    return sum(weights_at(shares, block).values())


# --- EIP-712 ballots ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Domain:
    chain_id: int
    governor: str  # checksummed

    def as_dict(self) -> dict:
        return {
            "name": DOMAIN_NAME,
            "version": DOMAIN_VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.governor,
        }


def domain_of(network: Network) -> Domain:
    deployment = Deployment.objects.filter(network=network, contract_name=GOVERNOR).first()
    if deployment is None:
        raise DomainError(
            GovernanceErrorCode.GOVERNANCE_DISABLED,
            f"{GOVERNOR} is not deployed on {network.name} (manage.py deploy_contracts).",
        )
    return Domain(network.chain_id, to_checksum_address(deployment.address))


def _separator(domain: Domain) -> bytes:
    return eip712.domain_separator(DOMAIN_NAME, DOMAIN_VERSION, domain.chain_id, domain.governor)


def ballot_digest(domain: Domain, proposal_id: str, support: int, issued_at: int) -> bytes:
    """The EIP-712 hash a voter's wallet signs (``eth_signTypedData_v4`` of
    ``ballot_typed_data``). Encoded by hand (every field is one 32-byte word): the tally hashes
    every ballot, and eth_abi's general encoder would cost it more than the signatures."""
    head = BALLOT_TYPEHASH + bytes.fromhex(proposal_id[2:])
    return eip712.digest(_separator(domain), _ballot_struct(head, support, issued_at))


def _ballot_struct(head: bytes, support: int, issued_at: int) -> bytes:
    """``hashStruct(Ballot)`` after its first two words (the type hash and the proposal id,
    ``head``): the tally keeps ``head`` for every ballot of a proposal."""
    return keccak(head + support.to_bytes(32, "big") + issued_at.to_bytes(32, "big"))


def ballot_typed_data(proposal: Proposal, *, support: int, issued_at: int) -> dict:
    """What the voter's wallet signs, as ``eth_signTypedData_v4`` takes it."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Ballot": [
                {"name": "proposalId", "type": "bytes32"},
                {"name": "support", "type": "uint8"},
                {"name": "issuedAt", "type": "uint64"},
            ],
        },
        "primaryType": "Ballot",
        "domain": domain_of(proposal.network).as_dict(),
        "message": {
            "proposalId": proposal.proposal_id,
            "support": support,
            "issuedAt": issued_at,
        },
    }


def recover_voter(domain: Domain, proposal_id: str, support: int, issued_at: int, signature):
    """The address that signed this ballot, or None (malformed or not a signature)."""
    try:
        raw = bytes.fromhex(signature[2:] if signature.startswith("0x") else signature)
        if len(raw) != 65:
            return None
        return Account._recover_hash(
            ballot_digest(domain, proposal_id, support, issued_at), signature=raw
        )
    except (ValueError, TypeError, BadSignature):
        return None


# --- proposals ---------------------------------------------------------------------------------


def _settings_of(model) -> GovernanceSettings:
    found = GovernanceSettings.objects.filter(model=model).first()
    if found is None or not found.enabled:
        raise DomainError(GovernanceErrorCode.GOVERNANCE_DISABLED)
    return found


def new_proposal_id(domain: Domain, model_id: str, nonce: bytes) -> str:
    """A bytes32 id no other proposal shares: of the chain, the governor, the model and a
    random nonce."""
    return (
        "0x"
        + keccak(
            abi_encode(
                ["uint256", "address", "bytes32", "bytes32"],
                [domain.chain_id, domain.governor, bytes.fromhex(model_id[2:]), nonce],
            )
        ).hex()
    )


def _bad(field_name: str | None, message: str) -> DomainError:
    from portal.errors import detail

    return DomainError(
        GovernanceErrorCode.BAD_PROPOSAL,
        message,
        details=[detail(field_name, GovernanceErrorCode.BAD_PROPOSAL.code, message)],
    )


def payees_room(tokenomics) -> int:
    """The most the payees may share: what the platform fee and the contributors leave."""
    return BPS - tokenomics.platform_fee_bps - tokenomics.contributors_bps


def _check_change(model, network, rules: GovernanceSettings, action: str, params: dict) -> dict:
    """The change's arguments, checked against the model and the publisher's bounds (what the
    governor contract checks again on chain); returns them normalized."""
    if action == ProposalAction.NONE:
        return {}
    if action in (ProposalAction.SET_PRICE, ProposalAction.SET_ACTIVE):
        offer = Offer.objects.filter(pk=params.get("offer"), model=model, network=network).first()
        if offer is None or offer.kind == OfferKind.SHARES:
            raise _bad("offer", "Pick one of this model's priced offers on this network.")
        if action == ProposalAction.SET_ACTIVE:
            active = params.get("active")
            if not isinstance(active, bool):
                raise _bad("active", "Say whether the offer is to be on sale (true) or paused.")
            return {"offer": offer.pk, "token_id": str(offer.token_id), "active": active}
        bound = PriceBound.objects.filter(offer=offer).first()
        if bound is None:
            raise _bad("price", "The publisher has set no price bounds for this offer.")
        try:
            price = int(params.get("price"))
        except (TypeError, ValueError):
            raise _bad("price", "The price is a whole number of the currency's units.") from None
        if not bound.min_price <= price <= bound.max_price:
            raise _bad(
                "price",
                f"The price must be from {bound.min_price} to {bound.max_price} (the "
                "publisher's bounds).",
            )
        candidate = copy(offer)
        candidate.price = price
        try:  # the offer's own rules (a credits pack's price divides by its credits...)
            candidate.full_clean(validate_unique=False)
        except ValidationError as error:
            raise _bad("price", " ".join(error.messages)) from None
        return {"offer": offer.pk, "token_id": str(offer.token_id), "price": str(price)}
    if action == ProposalAction.SET_PAYEES:
        payees = params.get("payees")
        if not isinstance(payees, list) or not payees:
            raise _bad("payees", "List the payees: an address and basis points each.")
        seen, out = set(), []
        for item in payees:
            address, bps = (item or {}).get("address"), (item or {}).get("bps")
            if not (isinstance(address, str) and is_address(address)) or not isinstance(bps, int):
                raise _bad("payees", "Each payee is an address and a whole number of bps.")
            address = to_checksum_address(address)
            if address in seen or bps < 1 or int(address, 16) == 0:
                raise _bad("payees", "Each payee once, not the zero address, at least 1 bps.")
            seen.add(address)
            out.append({"address": address, "bps": bps})
        total = sum(item["bps"] for item in out)
        room = payees_room(model.tokenomics)
        if total > room:
            raise _bad(
                "payees",
                f"The platform fee and the contributors leave the payees at most {room} bps.",
            )
        if rules.max_payees_bps == 0 or not rules.min_payees_bps <= total <= rules.max_payees_bps:
            raise _bad(
                "payees",
                f"The payees may share from {rules.min_payees_bps} to {rules.max_payees_bps} "
                f"bps (the publisher's bounds); these share {total}.",
            )
        return {"payees": out}
    if action == ProposalAction.PUBLISH_VERSION:
        from models_hub.choices import VersionStatus
        from models_hub.models import ModelVersion

        version = ModelVersion.objects.filter(pk=params.get("version"), model=model).first()
        if version is None or version.status != VersionStatus.READY:
            raise _bad("version", "Pick one of this model's validated versions.")
        if version.published_at is not None:
            raise _bad("version", "This version is listed already.")
        return {
            "version": version.pk,
            "label": version.version,
            "number": version.sort_key,
            "sha256": version.sha256,
        }
    raise _bad("action", "Unknown change.")


@transaction.atomic
def proposal_create(
    *,
    model,
    network: Network,
    title: str,
    body: str = "",
    action: str = ProposalAction.NONE,
    params: dict | None = None,
    created_by=None,
    proposer: str = "",
) -> Proposal:
    """Open a proposal (see the module doc). ``proposer``: the holder's wallet, when a holder
    proposes from the customer portal (it must hold the proposal threshold at the snapshot);
    staff propose as ``created_by`` with no threshold."""
    rules = _settings_of(model)
    shares = share_class(model, network)
    domain = domain_of(network)
    snapshot = finalized_block(network)
    total = total_at(shares, snapshot) if snapshot >= 0 else 0
    if total <= 0:
        raise DomainError(GovernanceErrorCode.NO_SHARES)
    if proposer:
        proposer = to_checksum_address(proposer)
        held = weights_at(shares, snapshot, [proposer]).get(proposer, 0)
        if held * BPS < rules.proposal_threshold_bps * total:
            raise DomainError(
                GovernanceErrorCode.BELOW_PROPOSAL_THRESHOLD,
                f"Your wallet held {held} of {total} shares at block {snapshot}; proposing takes "
                f"{rules.proposal_threshold_bps / 100:g}%.",
            )
    title = (title or "").strip()
    if not title:
        raise _bad("title", "A proposal needs a title.")
    checked = _check_change(model, network, rules, action, params or {})
    opens = timezone.now()
    proposal = Proposal(
        model=model,
        network=network,
        proposal_id=new_proposal_id(domain, model.tokenomics.chain_model_id, _nonce()),
        title=title[:160],
        body=body or "",
        action=action,
        params=checked,
        proposer=proposer,
        created_by=created_by,
        share_token=shares.token_address,
        share_token_id=shares.token_id,
        snapshot_block=snapshot,
        total_weight=total,
        opens_at=opens,
        closes_at=opens + timedelta(seconds=rules.voting_period_seconds),
        quorum_bps=rules.quorum_bps,
        pass_threshold_bps=rules.pass_threshold_bps,
    )
    proposal.full_clean()
    proposal.save()
    return proposal


def _nonce() -> bytes:
    import secrets

    return secrets.token_bytes(32)


# --- ballots -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cast:
    ballot: Ballot
    replaced: bool  # an earlier ballot of the wallet was replaced
    message: str  # what the voter is told (its weight, or that it counts zero)


def _ballot_fields(voter, support, issued_at, signature) -> tuple[str, int, int, str]:
    try:
        if not (isinstance(voter, str) and is_address(voter)):
            raise ValueError
        support = int(support)
        issued_at = int(issued_at)
        if support not in VoteSupport.values or not 0 < issued_at < 2**64:
            raise ValueError
        if not (isinstance(signature, str) and signature.startswith("0x")):
            raise ValueError
        if len(bytes.fromhex(signature[2:])) != 65:
            raise ValueError
    except (TypeError, ValueError):
        raise DomainError(GovernanceErrorCode.BAD_BALLOT) from None
    return to_checksum_address(voter), support, issued_at, signature.lower()


def ballot_cast(*, proposal: Proposal, voter, support, issued_at, signature) -> Cast:
    """Record a signed ballot (see the module doc); refusals are ``GovernanceErrorCode``s."""
    voter, support, issued_at, signature = _ballot_fields(voter, support, issued_at, signature)
    now = timezone.now()
    if proposal.status != ProposalStatus.OPEN or now >= proposal.closes_at:
        raise DomainError(GovernanceErrorCode.VOTING_CLOSED)
    domain = domain_of(proposal.network)
    signer = recover_voter(domain, proposal.proposal_id, support, issued_at, signature)
    if signer != voter:
        raise DomainError(GovernanceErrorCode.BALLOT_WRONG_SIGNER)
    opens, closes = proposal.opens_at.timestamp(), proposal.closes_at.timestamp()
    if (
        not opens - CLOCK_SKEW_SECONDS
        <= issued_at
        <= min(closes, now.timestamp() + CLOCK_SKEW_SECONDS)
    ):
        raise DomainError(GovernanceErrorCode.BALLOT_TIME)
    weight = weights_at(shares_of(proposal), proposal.snapshot_block, [voter]).get(voter, 0)
    try:
        with transaction.atomic():
            current = (
                Ballot.objects.select_for_update()
                .filter(proposal=proposal, voter=voter, current=True)
                .first()
            )
            if current is not None and current.issued_at >= issued_at:
                raise DomainError(GovernanceErrorCode.BALLOT_STALE)
            if current is not None:
                Ballot.objects.filter(pk=current.pk).update(current=False)
            ballot = Ballot.objects.create(
                proposal=proposal,
                voter=voter,
                support=support,
                issued_at=issued_at,
                signature=signature,
                weight=weight,
            )
    except IntegrityError:  # the same wallet's ballot at the same moment: the other won
        raise DomainError(GovernanceErrorCode.BALLOT_STALE) from None
    choice = VoteSupport(support).label.lower()
    if weight:
        message = (
            f"Your vote ({choice}) counts {weight} share(s), your balance at block "
            f"{proposal.snapshot_block}."
        )
    else:
        message = (
            f"Your vote ({choice}) is recorded but counts zero: this wallet held no shares at "
            f"block {proposal.snapshot_block}, when the proposal opened."
        )
    if current is not None:
        message += " It replaces your earlier vote."
    return Cast(ballot=ballot, replaced=current is not None, message=message)


def shares_of(proposal: Proposal) -> ShareClass:
    """The share class a proposal weighs, as fixed when it opened."""
    return ShareClass(proposal.network, proposal.share_token, int(proposal.share_token_id))


# --- the tally ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    for_weight: int = 0
    against_weight: int = 0
    abstain_weight: int = 0
    status: str = ProposalStatus.REJECTED
    reason: str = ""
    ballots: list[dict] = field(default_factory=list)

    def totals(self) -> dict:
        return {
            "for": str(self.for_weight),
            "against": str(self.against_weight),
            "abstain": str(self.abstain_weight),
        }


def count(header: dict, ballots: list[dict], weights: dict[str, int]) -> Outcome:
    """The outcome of ``ballots`` (each ``voter, support, issued_at, signature``) under the
    rules in ``header``, with ``weights`` at the snapshot. Pure: the tally and
    ``verify_tally`` both run it. A ballot whose signature does not recover to its voter, or
    signed outside the window, does not count (and says why)."""
    separator = _separator(Domain(int(header["chain_id"]), header["governor"]))
    head = BALLOT_TYPEHASH + bytes.fromhex(str(header["proposal_id"])[2:])
    latest: set[str] = set()
    sums = [0, 0, 0]  # by support: against, for, abstain
    out = Outcome()
    earliest = int(header["opens_at"]) - CLOCK_SKEW_SECONDS
    closes = int(header["closes_at"])
    recover = Account._recover_hash
    for item in sorted(ballots, key=lambda b: (b["voter"], -int(b["issued_at"]))):
        voter, support, issued_at = item["voter"], int(item["support"]), int(item["issued_at"])
        signature = item["signature"]
        entry = {"voter": voter, "support": support, "issued_at": issued_at}
        entry["signature"] = signature
        try:  # ballot_digest, with the proposal's part kept across ballots
            digest = eip712.digest(separator, _ballot_struct(head, support, issued_at))
            signer = recover(digest, signature=bytes.fromhex(signature[2:]))
        except (ValueError, TypeError, OverflowError, BadSignature, AttributeError):
            signer = None
        if signer != voter or support not in (0, 1, 2):
            entry.update(weight="0", counted=False, note="the signature is not the voter's")
        elif not earliest <= issued_at <= closes:
            entry.update(weight="0", counted=False, note="signed outside the voting window")
        elif voter in latest:
            entry.update(weight="0", counted=False, note="replaced by a later ballot")
        else:
            weight = weights.get(voter, 0)
            entry.update(weight=str(weight), counted=True, note="" if weight else "no shares")
            latest.add(voter)
            sums[support] += weight
        out.ballots.append(entry)
    out.against_weight, out.for_weight, out.abstain_weight = sums
    total = int(header["total_weight"])
    turnout = out.for_weight + out.against_weight + out.abstain_weight
    decided = out.for_weight + out.against_weight
    if turnout * BPS < int(header["quorum_bps"]) * total or turnout == 0:
        out.status, out.reason = ProposalStatus.NO_QUORUM, f"{turnout} of {total} shares voted"
    elif out.for_weight * BPS > int(header["pass_threshold_bps"]) * decided:
        out.status, out.reason = ProposalStatus.PASSED, "more for than the threshold"
    else:
        out.status = ProposalStatus.REJECTED
        out.reason = "a tie" if out.for_weight == out.against_weight else "not enough for"
    return out


def header_of(proposal: Proposal) -> dict:
    """The tally document's description of the proposal and its rules."""
    domain = domain_of(proposal.network)
    return {
        "proposal_id": proposal.proposal_id,
        "model_id": proposal.model.tokenomics.chain_model_id,
        "chain_id": domain.chain_id,
        "governor": domain.governor,
        "share_token": proposal.share_token,
        "share_token_id": str(int(proposal.share_token_id)),
        "snapshot_block": proposal.snapshot_block,
        "total_weight": str(int(proposal.total_weight)),
        "opens_at": int(proposal.opens_at.timestamp()),
        "closes_at": int(proposal.closes_at.timestamp()),
        "quorum_bps": proposal.quorum_bps,
        "pass_threshold_bps": proposal.pass_threshold_bps,
        "title": proposal.title,
        "action": proposal.action,
        "params": proposal.params,
    }


def document_hash(document: dict) -> str:
    """keccak-256 of the document's canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "0x" + keccak(text.encode()).hex()


def tally_document(proposal: Proposal) -> tuple[dict, Outcome]:
    """The tally of a closed proposal: every ballot received, re-checked and weighed."""
    header = header_of(proposal)
    rows = list(
        Ballot.objects.filter(proposal=proposal).values_list(
            "voter", "support", "issued_at", "signature"
        )
    )
    ballots = [
        {"voter": v, "support": s, "issued_at": t, "signature": sig} for v, s, t, sig in rows
    ]
    weights = weights_at(
        shares_of(proposal), proposal.snapshot_block, {b["voter"] for b in ballots}
    )
    outcome = count(header, ballots, weights)
    document = {
        "proposal": header,
        "ballots": outcome.ballots,
        "totals": outcome.totals(),
        "outcome": {"status": outcome.status, "reason": outcome.reason},
    }
    return document, outcome


def proposal_tally(*, proposal: Proposal) -> Proposal:
    """Count a proposal whose window closed, publish the tally and queue it on chain (and the
    passed change after it). Once: a tallied proposal is returned as it is."""
    if proposal.status != ProposalStatus.OPEN or proposal.tally_hash:
        return proposal
    if timezone.now() < proposal.closes_at:
        raise DomainError(GovernanceErrorCode.VOTING_CLOSED, "The voting window is still open.")
    document, outcome = tally_document(proposal)
    digest = document_hash(document)
    with transaction.atomic():
        locked = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if locked.tally_hash:
            return locked
        tally_tx = enqueue_call(
            network=locked.network,
            contract_name=GOVERNOR,
            function="recordTally",
            args=[
                document["proposal"]["model_id"],
                locked.proposal_id,
                digest,
                outcome.for_weight,
                outcome.against_weight,
                outcome.abstain_weight,
                outcome.status == ProposalStatus.PASSED,
            ],
            idempotency_key=f"gov:tally:{locked.proposal_id}",
        )
        execution = None
        if outcome.status == ProposalStatus.PASSED and locked.action != ProposalAction.NONE:
            function, args = _execution(locked)
            execution = enqueue_call(
                network=locked.network,
                contract_name=GOVERNOR,
                function=function,
                args=args,
                idempotency_key=f"gov:execute:{locked.proposal_id}",
            )
        locked.status = outcome.status
        locked.for_weight = outcome.for_weight
        locked.against_weight = outcome.against_weight
        locked.abstain_weight = outcome.abstain_weight
        locked.tally, locked.tally_hash, locked.tallied_at = document, digest, timezone.now()
        locked.tally_transaction, locked.execution_transaction = tally_tx, execution
        _history(locked, "tallied: " + outcome.status)
    return locked


def _history(proposal: Proposal, reason: str) -> None:
    """The proposal's audit history gets the row as it is now (the tally, the execution)."""
    proposal._change_reason = reason
    proposal.save()


def _execution(proposal: Proposal) -> tuple[str, list]:
    params, pid = proposal.params, proposal.proposal_id
    if proposal.action == ProposalAction.SET_PRICE:
        return "executeSetPrice", [pid, int(params["token_id"]), int(params["price"])]
    if proposal.action == ProposalAction.SET_ACTIVE:
        return "executeSetActive", [pid, int(params["token_id"]), bool(params["active"])]
    if proposal.action == ProposalAction.SET_PAYEES:
        payees = params["payees"]
        return "executeSetPayees", [
            pid,
            [p["address"] for p in payees],
            [int(p["bps"]) for p in payees],
        ]
    if proposal.action == ProposalAction.PUBLISH_VERSION:
        return "executePublishVersion", [
            pid,
            int(params["number"]),
            "0x" + params["sha256"],
            params["label"],
        ]
    raise ValueError(proposal.action)


def proposals_tally_due() -> int:
    """Tally every open proposal whose window closed (beat); returns how many."""
    due = Proposal.objects.filter(status=ProposalStatus.OPEN, closes_at__lte=timezone.now())
    done = 0
    for proposal in due.select_related("model__tokenomics", "network"):
        try:
            proposal_tally(proposal=proposal)
        except Exception:  # one proposal's trouble (its network gone, say) holds up no other
            logger.exception("could not tally proposal %s", proposal.proposal_id)
            continue
        done += 1
    return done


# --- after the chain: executed changes reach what staff configured ------------------------------


def governance_finish() -> int:
    """Passed proposals whose execution left the outbox: mined means the change is applied to
    the configured offer, payees or version (so the next publish keeps it); reverted or failed
    means the proposal failed with the chain's reason. Returns how many were finished."""
    finished = 0
    waiting = (
        Proposal.objects.filter(status=ProposalStatus.PASSED, execution_transaction__isnull=False)
        .exclude(execution_transaction__status__in=TX_OPEN)
        .select_related("execution_transaction", "model")
    )
    for proposal in waiting:
        try:
            _finish(proposal)
        except Exception:  # one proposal's trouble holds up no other; the next beat retries
            logger.exception("could not finish proposal %s", proposal.proposal_id)
            continue
        finished += 1
    return finished


@transaction.atomic
def _finish(proposal: Proposal) -> None:
    tx = proposal.execution_transaction
    if tx.status != TxStatus.CONFIRMED:
        proposal.status = ProposalStatus.EXECUTION_FAILED
        proposal.failure = (tx.revert_reason or tx.last_error or tx.status)[:2000]
        _history(proposal, "execution failed")
        return
    proposal.status = ProposalStatus.EXECUTED
    if not _applicable(proposal):  # the chain changed; what it names is gone from the config
        proposal.failure = "Executed on chain; the offer or version it names was deleted here "
        proposal.failure += "since, so nothing was changed here."
    else:
        try:
            with transaction.atomic():
                _apply(proposal)
        except ValidationError as error:  # the configuration's rules moved on since it opened
            proposal.failure = "Executed on chain; the portal's configuration refused the "
            proposal.failure += f"change ({' '.join(error.messages)}): change it by hand."
    _history(proposal, "executed on chain")


def _applicable(proposal: Proposal) -> bool:
    """Whether what the change names still exists here (an offer or version may be deleted)."""
    params = proposal.params
    if proposal.action in (ProposalAction.SET_PRICE, ProposalAction.SET_ACTIVE):
        return Offer.objects.filter(pk=params.get("offer")).exists()
    if proposal.action == ProposalAction.PUBLISH_VERSION:
        from models_hub.models import ModelVersion

        return ModelVersion.objects.filter(pk=params.get("version")).exists()
    return True


def _apply(proposal: Proposal) -> None:
    """The executed change in what staff configured, through the tokenomics services (their
    rules and history), so the next publish keeps it."""
    from licensing.services import tokenomics

    params, by = proposal.params, None
    if proposal.action in (ProposalAction.SET_PRICE, ProposalAction.SET_ACTIVE):
        offer = Offer.objects.get(pk=params["offer"])
        if proposal.action == ProposalAction.SET_PRICE:
            offer.price = Decimal(params["price"])
        else:
            offer.active = bool(params["active"])
        offer._change_reason = f"governance: proposal {proposal.proposal_id[:10]}"
        tokenomics.offer_save(offer=offer, by=by)
    elif proposal.action == ProposalAction.SET_PAYEES:
        for payee in Payee.objects.filter(model=proposal.model):
            tokenomics.payee_delete(payee=payee, by=by)
        for number, payee in enumerate(params["payees"], start=1):
            tokenomics.payee_create(
                model=proposal.model,
                address=payee["address"],
                label=f"Payee {number} (by vote)",
                bps=payee["bps"],
                by=by,
            )
    elif proposal.action == ProposalAction.PUBLISH_VERSION:
        from models_hub.models import ModelVersion
        from models_hub.services import version_publish

        version_publish(version=ModelVersion.objects.get(pk=params["version"]))


# --- verification ------------------------------------------------------------------------------


@dataclass
class Verification:
    matches: bool
    problems: list[str]
    recomputed: dict


def verify_tally(*, document: dict, w3, governor_contract=None) -> Verification:
    """Recompute ``document``'s tally from its ballots and the chain: every voter's
    ``balanceOf(voter, shareTokenId)`` at the snapshot block, the totals and the outcome, the
    document's hash; and, given the governor contract, what it recorded for the proposal."""
    problems: list[str] = []
    header = document.get("proposal") or {}
    token = abi.contract_at(w3, abi.LICENSE_TOKEN, header["share_token"])
    token_id, block = int(header["share_token_id"]), int(header["snapshot_block"])
    if int(w3.eth.chain_id) != int(header["chain_id"]):
        problems.append(
            f"the node is chain {w3.eth.chain_id}, the tally is of {header['chain_id']}"
        )
    ballots = document.get("ballots") or []
    voters = sorted({b["voter"] for b in ballots})
    weights = {}
    for voter in voters:
        balance = token.functions.balanceOf(voter, token_id).call(block_identifier=block)
        if balance:
            weights[voter] = int(balance)
    outcome = count(header, ballots, weights)
    for mine, theirs in zip(outcome.ballots, ballots, strict=False):
        if (mine["voter"], mine["issued_at"]) != (theirs["voter"], int(theirs["issued_at"])):
            break
        for key in ("weight", "counted"):
            if str(mine[key]) != str(theirs.get(key)):
                problems.append(
                    f"ballot of {mine['voter']} at {mine['issued_at']}: {key} is "
                    f"{mine[key]} by the chain, {theirs.get(key)} in the document"
                )
    if len(outcome.ballots) != len(ballots):
        problems.append("the document's ballots are not in the tally's order")
    if outcome.totals() != document.get("totals"):
        problems.append(
            f"totals: {outcome.totals()} recomputed, {document.get('totals')} published"
        )
    if outcome.status != (document.get("outcome") or {}).get("status"):
        problems.append(
            f"outcome: {outcome.status} recomputed, {document.get('outcome')} published"
        )
    recomputed = {
        "proposal": header,
        "ballots": outcome.ballots,
        "totals": outcome.totals(),
        "outcome": {"status": outcome.status, "reason": outcome.reason},
    }
    digest = document_hash(document)
    if governor_contract is not None:
        recorded = governor_contract.functions.tallyOf(header["proposal_id"]).call()
        on_chain_hash = "0x" + bytes(recorded[1]).hex()
        if on_chain_hash != digest:
            problems.append(f"the governor recorded hash {on_chain_hash}, the document is {digest}")
        counts = [int(recorded[2]), int(recorded[3]), int(recorded[4])]
        mine = [outcome.for_weight, outcome.against_weight, outcome.abstain_weight]
        if counts != mine:
            problems.append(
                f"the governor recorded {counts} (for, against, abstain), recomputed {mine}"
            )
        if bool(recorded[5]) != (outcome.status == ProposalStatus.PASSED):
            problems.append(f"the governor recorded passed={recorded[5]}")
    return Verification(matches=not problems, problems=problems, recomputed=recomputed)


def bounds_publish(*, model, network: Network) -> list[OutboundTransaction]:
    """Queue the publisher's bounds to the governor (price bounds per offer published there,
    and the payees' split bounds), once per value (idempotency keys carry them)."""
    rules = GovernanceSettings.objects.filter(model=model).first()
    rows = []
    model_id = model.tokenomics.chain_model_id
    if rules is not None:
        rows.append(
            enqueue_call(
                network=network,
                contract_name=GOVERNOR,
                function="setSplitBounds",
                args=[model_id, rules.min_payees_bps, rules.max_payees_bps],
                idempotency_key=(
                    f"gov:split-bounds:{network.pk}:{model_id}:{rules.min_payees_bps}:"
                    f"{rules.max_payees_bps}"
                ),
            )
        )
    for bound in PriceBound.objects.filter(
        offer__model=model, offer__network=network
    ).select_related("offer"):
        published = ChainOffer.objects.filter(
            network=network, token_id=bound.offer.token_id
        ).exists()
        if not published:
            continue
        rows.append(
            enqueue_call(
                network=network,
                contract_name=GOVERNOR,
                function="setPriceBounds",
                args=[int(bound.offer.token_id), int(bound.min_price), int(bound.max_price)],
                idempotency_key=(
                    f"gov:price-bounds:{network.pk}:{bound.offer.token_id}:{bound.min_price}:"
                    f"{bound.max_price}"
                ),
            )
        )
    return rows


# --- the publisher's rules (the admin saves through these) -------------------------------------


def _networks_with_governor(model) -> list[Network]:
    """The networks where ``model``'s shares are on chain and the governor is deployed."""
    model_id = model.tokenomics.chain_model_id if hasattr(model, "tokenomics") else None
    if model_id is None:
        return []
    network_ids = ChainOffer.objects.filter(model_id=model_id, kind=OfferKind.SHARES).values(
        "network"
    )
    return list(
        Network.objects.filter(
            pk__in=network_ids, deployments__contract_name=GOVERNOR, is_active=True
        ).distinct()
    )


@transaction.atomic
def governance_settings_save(*, rules: GovernanceSettings, by=None) -> GovernanceSettings:
    """Save a model's governance rules and queue its split bounds to every network where the
    model's shares are on chain (the governor enforces them there)."""
    tokenomics = getattr(rules.model, "tokenomics", None)
    if tokenomics is None:
        raise ValidationError({"model": "Set up the model's tokenomics (and shares) first."})
    if rules.min_payees_bps > rules.max_payees_bps:
        raise ValidationError(
            {"min_payees_bps": "The least the payees may share is above the most they may."}
        )
    room = payees_room(tokenomics)
    if rules.max_payees_bps > room:
        raise ValidationError(
            {
                "max_payees_bps": f"The platform fee and the contributors leave the payees at "
                f"most {room} bps."
            }
        )
    rules.full_clean()
    rules._change_reason = f"by {by}" if by else ""
    rules.save()
    for network in _networks_with_governor(rules.model):
        bounds_publish(model=rules.model, network=network)
    return rules


@transaction.atomic
def price_bound_save(*, bound: PriceBound, by=None) -> PriceBound:
    """Save the prices holders may vote an offer to, and queue them to the governor where the
    offer is on chain."""
    if bound.offer.kind == OfferKind.SHARES:
        raise ValidationError({"offer": "Ownership shares have no price to vote on."})
    bound.full_clean()
    bound.save()
    for network in _networks_with_governor(bound.offer.model):
        if network.pk == bound.offer.network_id:
            bounds_publish(model=bound.offer.model, network=network)
    return bound
