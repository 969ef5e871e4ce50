"""Publishing a model to a network: plan what the chain lacks and queue it through the outbox.

``model_publish`` compares what staff configured with what the chain has, or will have, and
queues one transaction per difference, in this order, in one database transaction:

1. ``registerModel`` (or ``updateModel`` when the publisher or metadata URI changed). The
   publisher, who receives a model's revenue remainder while it has no share holders, is the
   organization's treasury address, or the operator's address when the treasury is empty;
2. ``publishVersion`` for every published ready version, numbered by its ``sort_key``
   (``MAJOR * 10^8 + MINOR * 10^4 + PATCH``: unique per model, ordered like the versions, and
   at most 999,999,999,999, far inside a uint64), labelled with its version string;
3. ``configureOffer`` for each offer of the model on that network whose on-chain configuration
   (``onchain_offer_config``) differs; an inactive offer the chain never had is not listed;
4. ``configurePayees`` when ``onchain_payees`` differs from the vault's list;
5. ``mintShares`` of the ownership-shares offer to the cap table, once per network. A shares
   offer without a maximum supply gets the cap table's total first, so the chain caps it.

"What the chain has" is, per target (the model's entry, a version number, an offer's token id,
the payees, the share mint), the state of the newest step that has not failed and that the sync
has not indexed yet (queued, sent or mined: it will land), else the projections the sync wrote
(``ChainModel``, ``PublishedVersion``, ``ChainOffer``, ``ChainPayees``, ``HoldingChange``).
So publishing twice queues nothing, and a changed offer queues exactly one ``configureOffer``.

Each step's idempotency key is ``publish:{network}:{model pk}:{kind}:{target}:{digest}:{n}``:
the digest covers the call (function and arguments) and ``n`` counts earlier steps with the same
prefix, so a state the chain had before (a price changed and changed back) is sent again, and a
retry is a new attempt. Publishing locks the model's ``ModelTokenomics`` row, so two staff
publishing at once cannot queue the same step twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from web3 import Web3

from chain import abi
from chain.choices import OfferKind
from chain.models import Deployment, Network
from chain.operator import operator_account
from chain.services import enqueue_call
from licensing.choices import PublishStepKind, PublishStepStatus
from licensing.models import (
    ChainModel,
    ChainOffer,
    ChainPayees,
    HoldingChange,
    ModelTokenomics,
    Offer,
    PublishedVersion,
    PublishStep,
    ShareAllocation,
)
from licensing.models.tokenomics import BPS, PAID_KINDS
from licensing.services.status import INDEXED, tx_status, with_indexed
from licensing.services.tokenomics import (
    DEAD_TX,
    MAX_ONCHAIN_PAYEES,
    offer_save,
    onchain_offer_config,
    onchain_payees,
    tokenomics_for,
)
from models_hub.models import AIModel, ModelVersion

REQUIRED_CONTRACTS = (abi.REGISTRY, abi.LICENSE_TOKEN, abi.REVENUE_VAULT)
MODEL_TARGET, PAYEES_TARGET = "model", "payees"


def _refuse(message: str, code: str) -> ValidationError:
    return ValidationError(message, code=code)


def _hex32(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


def _json(value: Any) -> Any:
    """``value`` as JSON gives it back (tuples as lists), so states compare with stored ones."""
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class Call:
    """One transaction of a plan: the target it sets on chain, the call, and the state it sets
    (kept in the step's payload, to compare with the next plan)."""

    kind: str
    target: str
    contract: str
    function: str
    args: tuple
    state: dict
    offer: Offer | None = None
    version: ModelVersion | None = None

    def describe(self) -> str:
        """The call for people ("configureOffer: Pro license")."""
        if self.offer is not None and self.kind == PublishStepKind.OFFER:
            what = f"{self.offer.tier_name} ({self.offer.get_kind_display().lower()})"
        elif self.version is not None:
            what = f"version {self.version.version} as {self.state['version']}"
        elif self.kind == PublishStepKind.PAYEES:
            what = f"{len(self.state['payees'])} payee(s)"
        elif self.kind == PublishStepKind.SHARES:
            what = f"{len(self.state['holders'])} holder(s)"
        else:
            what = f"publisher {self.state['publisher']}"
        return f"{self.function}: {what}"

    @property
    def digest(self) -> str:
        plain = [self.function, [_plain_arg(arg) for arg in self.args]]
        return hashlib.sha256(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:16]


def _plain_arg(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_plain_arg(item) for item in value]
    return value


@dataclass
class Publication:
    """What one publish of a model on a network works from."""

    model: AIModel
    network: Network
    tokenomics: ModelTokenomics
    addresses: dict[str, str]  # contract name -> address on the network
    by: Any = None
    offers: list[Offer] = field(default_factory=list)
    known: dict[str, dict] = field(default_factory=dict)  # target -> state the chain has/gets

    @property
    def model_id(self) -> str:
        return self.tokenomics.chain_model_id


# --- checks ---


def _deployments(network: Network) -> dict[str, str]:
    rows = Deployment.objects.filter(network=network, contract_name__in=REQUIRED_CONTRACTS)
    found = dict(rows.values_list("contract_name", "address"))
    missing = [name for name in REQUIRED_CONTRACTS if name not in found]
    if missing:
        raise _refuse(
            f"{network.name} has no {', '.join(missing)} deployment: deploy the contracts there "
            f"first (manage.py deploy_contracts --network {network.name}).",
            "contracts_not_deployed",
        )
    return found


def _operator_address() -> str:
    try:
        return operator_account().address
    except ImproperlyConfigured as exc:
        raise _refuse(
            f"The portal cannot sign transactions: {exc}", "operator_key_missing"
        ) from None


def _publication(model: AIModel, network: Network, by) -> Publication:
    """The publication's rows, locked and checked (a ``ValidationError`` names what is wrong)."""
    tokenomics = tokenomics_for(model=model, lock=True)
    if not network.is_active:
        raise _refuse(f"{network.name} is not active.", "network_inactive")
    if not model.organization.is_active:
        raise _refuse(f"{model.organization} is suspended.", "organization_inactive")
    addresses = _deployments(network)
    _operator_address()
    offers = Offer.objects.filter(model=model, network=network).select_related("currency", "terms")
    return Publication(
        model=model,
        network=network,
        tokenomics=tokenomics,
        addresses=addresses,
        by=by,
        offers=list(offers.order_by("kind", "pk")),
    )


def _versions(model: AIModel) -> list[ModelVersion]:
    from models_hub.selectors import PUBLIC_VERSION

    versions = list(model.versions.filter(PUBLIC_VERSION).order_by("sort_key"))
    if not versions:
        raise _refuse(
            f"{model} has no published ready version: publish a version before listing the "
            "model on chain.",
            "nothing_to_list",
        )
    return versions


def _check_offers(pub: Publication) -> None:
    for offer in pub.offers:
        listed = offer.active or f"offer:{int(offer.token_id)}" in pub.known
        if listed and offer.kind in PAID_KINDS and not (offer.terms and offer.terms.content_hash):
            raise _refuse(
                f"{offer}: its license terms have no content hash, so buyers could not see on "
                "chain what they agree to. Save the terms again (or pick hashed terms).",
                "terms_not_hashed",
            )


def _shares_offer(pub: Publication) -> Offer | None:
    return next((o for o in pub.offers if o.kind == OfferKind.SHARES), None)


def _cap_table(pub: Publication, shares: Offer) -> list[ShareAllocation]:
    """The cap table, checked; a shares offer without a maximum supply gets its total."""
    lines = list(ShareAllocation.objects.filter(model=pub.model).order_by("holder"))
    if not lines:
        raise _refuse(
            f"{shares}: the model has no cap table. Add its ownership shares (owners do) "
            "before publishing the shares offer.",
            "cap_table_empty",
        )
    total = sum(int(line.amount) for line in lines)
    if not shares.max_supply:
        shares.max_supply = total
        offer_save(offer=shares, by=pub.by)
    elif total > shares.max_supply:
        raise _refuse(
            f"{shares}: the cap table allocates {total} shares, more than the offer's maximum "
            f"supply of {shares.max_supply}.",
            "cap_table_over_max_supply",
        )
    return lines


def _payees(pub: Publication) -> list[list]:
    payees = [[address, bps] for address, bps in onchain_payees(pub.model)]
    if len(payees) > MAX_ONCHAIN_PAYEES:
        raise _refuse(
            f"The vault pays at most {MAX_ONCHAIN_PAYEES} accounts per model; {pub.model} has "
            f"{len(payees)} (payees and the latest published version's contributors).",
            "too_many_payees",
        )
    room = BPS - pub.tokenomics.platform_fee_bps
    total = sum(bps for _, bps in payees)
    if total > room:
        raise _refuse(
            f"Payees and contributors would get {total / 100:.2f}% of each payment; the vault "
            f"allows at most {room / 100:.2f}% beside the platform's fee.",
            "payees_over_bounds",
        )
    return payees


# --- what the chain has (or will have) ---


def _offer_state(config: dict) -> dict:
    """An ``OfferConfig`` (``onchain_offer_config``'s keys) in one comparable JSON form."""
    return {
        "modelId": str(config["modelId"]).lower(),
        "kind": int(config["kind"]),
        "price": str(int(config["price"])),
        "currency": str(config["currency"]).lower(),
        "duration": int(config["duration"]),
        "maxSupply": str(int(config["maxSupply"])),
        "transferable": bool(config["transferable"]),
        "termsHash": str(config["termsHash"]).lower(),
        "active": bool(config["active"]),
    }


def _chain_offer_state(row: ChainOffer) -> dict:
    return _offer_state(
        {
            "modelId": row.model_id,
            "kind": row.kind,
            "price": row.price,
            "currency": row.currency,
            "duration": row.duration,
            "maxSupply": row.max_supply,
            "transferable": row.transferable,
            "termsHash": row.terms_hash,
            "active": row.active,
        }
    )


def _projected(pub: Publication) -> dict[str, dict]:
    """The state of every target as the sync projected it."""
    network, model_id = pub.network, pub.model_id
    token = pub.addresses[abi.LICENSE_TOKEN]
    known: dict[str, dict] = {}
    entry = ChainModel.objects.filter(network=network, model_id=model_id).first()
    if entry is not None:
        known[MODEL_TARGET] = _register_state(entry.publisher, entry.metadata_uri)
    for row in PublishedVersion.objects.filter(network=network, model_id=model_id):
        known[f"version:{row.version}"] = {"version": row.version, "sha256": row.artifact_sha256}
    token_ids = [offer.token_id for offer in pub.offers]
    offers = ChainOffer.objects.filter(network=network, token_address=token, token_id__in=token_ids)
    for row in offers:
        known[f"offer:{int(row.token_id)}"] = _chain_offer_state(row)
    payees = ChainPayees.objects.filter(network=network, model_id=model_id)
    latest = payees.order_by("-block_number", "-log_index").first()
    if latest is not None:
        known[PAYEES_TARGET] = {"payees": _json(latest.pairs())}
    shares = _shares_offer(pub)
    if shares is not None:
        moves = HoldingChange.objects.filter(
            network=network, token_address=token, token_id=shares.token_id
        )
        if moves.exists():
            known[f"shares:{int(shares.token_id)}"] = {"minted": True}
    return known


def _known(pub: Publication) -> dict[str, dict]:
    """Projections, overridden by the newest step per target that has not failed and that the
    sync has not indexed yet (it will land, so the chain will have its state)."""
    known = _projected(pub)
    steps = PublishStep.objects.filter(model=pub.model, network=pub.network)
    steps = with_indexed(steps.exclude(transaction__status__in=DEAD_TX))
    for step in steps.order_by("pk"):
        target = step.payload.get("target")
        if target is not None and not getattr(step, INDEXED):
            known[target] = step.payload.get("state")
    return known


# --- the plan ---


def _register_state(publisher: str, metadata_uri: str) -> dict:
    return {"publisher": Web3.to_checksum_address(publisher), "metadata_uri": metadata_uri}


def _register_calls(pub: Publication) -> list[Call]:
    treasury = pub.model.organization.treasury_address
    state = _register_state(treasury or _operator_address(), pub.tokenomics.metadata_uri)
    have = pub.known.get(MODEL_TARGET)
    if have == state:
        return []
    function = "registerModel" if have is None else "updateModel"
    args = (_hex32(pub.model_id), state["publisher"], state["metadata_uri"])
    return [Call(PublishStepKind.REGISTER, MODEL_TARGET, abi.REGISTRY, function, args, state)]


def _version_calls(pub: Publication) -> list[Call]:
    calls = []
    for version in _versions(pub.model):
        number, target = version.sort_key, f"version:{version.sort_key}"
        state = {"version": number, "sha256": version.sha256.lower()}
        have = pub.known.get(target)
        if have is not None and have["sha256"] != state["sha256"]:
            raise _refuse(
                f"Version number {number} of {pub.model} is on {pub.network.name} with another "
                f"artifact hash ({have['sha256'][:12]}…): version hashes are write-once.",
                "version_number_taken",
            )
        if have is None:
            args = (_hex32(pub.model_id), number, _hex32(state["sha256"]), version.version)
            calls.append(
                Call(
                    PublishStepKind.VERSION,
                    target,
                    abi.REGISTRY,
                    "publishVersion",
                    args,
                    state,
                    version=version,
                )
            )
    return calls


def _offer_calls(pub: Publication) -> list[Call]:
    calls = []
    for offer in pub.offers:
        target = f"offer:{int(offer.token_id)}"
        config = onchain_offer_config(offer)
        state = _offer_state(config)
        have = pub.known.get(target)
        if have == state or (have is None and not offer.active):
            continue
        args = (
            int(offer.token_id),
            (
                _hex32(config["modelId"]),
                config["kind"],
                config["price"],
                Web3.to_checksum_address(config["currency"]),
                config["duration"],
                config["maxSupply"],
                config["transferable"],
                _hex32(config["termsHash"]),
                config["active"],
            ),
        )
        call = Call(
            PublishStepKind.OFFER, target, abi.LICENSE_TOKEN, "configureOffer", args, state, offer
        )
        calls.append(call)
    return calls


def _payees_calls(pub: Publication) -> list[Call]:
    payees = _payees(pub)
    state = {"payees": _json(payees)}
    if pub.known.get(PAYEES_TARGET, {"payees": []}) == state:
        return []
    accounts = [address for address, _ in payees]
    bps = [share for _, share in payees]
    args = (_hex32(pub.model_id), accounts, bps)
    vault = abi.REVENUE_VAULT
    return [Call(PublishStepKind.PAYEES, PAYEES_TARGET, vault, "configurePayees", args, state)]


def _shares_calls(pub: Publication, offer_calls: list[Call]) -> list[Call]:
    shares = _shares_offer(pub)
    if shares is None:
        return []
    target, offer_target = f"shares:{int(shares.token_id)}", f"offer:{int(shares.token_id)}"
    configured = offer_target in pub.known or any(c.target == offer_target for c in offer_calls)
    if target in pub.known or not configured:
        return []
    lines = ShareAllocation.objects.filter(model=pub.model).order_by("holder")
    holders = [[Web3.to_checksum_address(line.holder), str(int(line.amount))] for line in lines]
    args = (
        int(shares.token_id),
        [holder for holder, _ in holders],
        [int(amount) for _, amount in holders],
    )
    state = {"holders": holders}
    return [
        Call(PublishStepKind.SHARES, target, abi.LICENSE_TOKEN, "mintShares", args, state, shares)
    ]


def _plan(pub: Publication) -> list[Call]:
    """Every call the chain needs, in publishing order (checks first: nothing is half-planned)."""
    pub.known = _known(pub)
    shares = _shares_offer(pub)
    if shares is not None and (shares.active or f"offer:{int(shares.token_id)}" in pub.known):
        _cap_table(pub, shares)  # may give the shares offer its maximum supply
    _check_offers(pub)
    offers = _offer_calls(pub)
    return [
        *_register_calls(pub),
        *_version_calls(pub),
        *offers,
        *_payees_calls(pub),
        *_shares_calls(pub, offers),
    ]


def _queue(pub: Publication, call: Call) -> PublishStep:
    network = pub.network
    prefix = f"publish:{network.name}:{pub.model.pk}:{call.kind}:{call.target}:{call.digest}:"
    attempt = PublishStep.objects.filter(transaction__idempotency_key__startswith=prefix).count()
    row = enqueue_call(
        network=network,
        contract_name=call.contract,
        function=call.function,
        args=list(call.args),
        idempotency_key=f"{prefix}{attempt}",
    )
    by = pub.by if getattr(pub.by, "is_authenticated", False) else None
    step = PublishStep(
        model=pub.model,
        network=network,
        kind=call.kind,
        offer=call.offer,
        version=call.version,
        payload={"target": call.target, "function": call.function, "state": _json(call.state)},
        transaction=row,
        requested_by=by,
    )
    step.full_clean()
    step.save()
    return step


@transaction.atomic
def model_publish(*, model: AIModel, network: Network, by=None) -> list[PublishStep]:
    """Queue what ``network`` lacks of ``model`` (see the module doc); returns the new steps
    (none when the chain has, or will have, everything as configured)."""
    pub = _publication(model, network, by)
    return [_queue(pub, call) for call in _plan(pub)]


def model_publish_plan(*, model: AIModel, network: Network) -> list[Call]:
    """What ``model_publish`` would queue now (nothing is written: the savepoint rolls back)."""
    with transaction.atomic():
        calls = _plan(_publication(model, network, None))
        transaction.set_rollback(True)
    return calls


@transaction.atomic
def step_retry(*, step: PublishStep, by=None) -> PublishStep | None:
    """Plan a failed step's target again (a new attempt, from the configuration as it is now,
    once staff fixed the cause); None when the chain has it by now and nothing is needed."""
    step = PublishStep.objects.select_related("transaction", "network", "model").get(pk=step.pk)
    status, _ = tx_status(step.transaction, step.network)
    if status != PublishStepStatus.FAILED:
        label = PublishStepStatus(status).label.lower()
        raise _refuse(f"Only a failed step can be retried; this one is {label}.", "step_not_failed")
    target = step.payload.get("target")
    later = PublishStep.objects.filter(
        model=step.model, network=step.network, payload__target=target, pk__gt=step.pk
    )
    if later.exists():
        raise _refuse(
            "This step was planned again since: retry the latest attempt instead.",
            "step_superseded",
        )
    pub = _publication(step.model, step.network, by)
    call = next((c for c in _plan(pub) if c.target == target), None)
    return _queue(pub, call) if call is not None else None


# --- reads for the admin ---


def publishable_networks():
    """Active networks where the three contracts publishing needs are deployed."""
    deployed = Count("deployments", filter=Q(deployments__contract_name__in=REQUIRED_CONTRACTS))
    networks = Network.objects.filter(is_active=True).annotate(contracts=deployed)
    return networks.filter(contracts=len(REQUIRED_CONTRACTS)).order_by("name")


@dataclass(frozen=True)
class StepView:
    """A step with its status as the admin shows it."""

    step: PublishStep
    status: str
    reason: str

    @property
    def status_label(self) -> str:
        return PublishStepStatus(self.status).label


def step_views(steps) -> list[StepView]:
    """Each step's status (one query for the whole list)."""
    rows = with_indexed(steps).select_related("transaction", "network", "offer", "version")
    views = []
    for step in rows:
        status = tx_status(step.transaction, step.network, is_indexed=getattr(step, INDEXED))
        views.append(StepView(step, *status))
    return views


def latest_steps(*, model: AIModel) -> list[StepView]:
    """The newest step per network and target of ``model``, by network then publishing order."""
    steps = PublishStep.objects.filter(model=model).order_by("-pk")
    newest: dict[tuple[int, str], int] = {}
    for pk, network_id, target in steps.values_list("pk", "network_id", "payload__target"):
        newest.setdefault((network_id, target), pk)
    views = step_views(PublishStep.objects.filter(pk__in=newest.values()).order_by("pk"))
    return sorted(views, key=lambda view: (view.step.network.name, view.step.pk))
