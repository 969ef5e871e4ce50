"""Tenant matrix rows for licensing (see portal/tests/factories.py): the tokenomics an
organization configures, and the chain state projected for its models.

Every row names its organization's model, whose name carries the marker. Projection rows are
tied to the organization only through the joins (``listing``: the model's bytes32 id;
``offer``: the offer's network and token id), as the sync writes them; each row that records an
event points at an ``IndexedEvent`` of its own.
"""

from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime

from eth_utils import to_checksum_address

from chain import abi
from chain.choices import OfferKind, TxStatus
from chain.models import Deployment, IndexedEvent, Network, OutboundTransaction
from chain.services import enqueue_call
from licensing.choices import (
    ContributorRole,
    LedgerKind,
    LicenseOperationKind,
    RevocationReason,
    UsageUnit,
)
from licensing.models import (
    AgentPayment,
    ChainModel,
    ChainOffer,
    ChainPayees,
    Contributor,
    CreditEntry,
    Currency,
    GovernanceSettings,
    Holding,
    License,
    LicenseOperation,
    LicenseTerms,
    ModelTokenomics,
    Offer,
    Payee,
    Payment,
    PriceBound,
    Proposal,
    PublishedVersion,
    PublishStep,
    Sale,
    Seat,
    ShareAllocation,
    VaultEntry,
)
from licensing.services import tokenomics as services
from licensing.services.operations import reason_code_bytes
from licensing.services.terms import terms_create
from licensing.services.tokenomics import offer_create
from models_hub import services as models_services
from models_hub.choices import Task
from models_hub.models import AIModel
from models_hub.tests.factories import model_row
from portal.tests.factories import tenant_row_factory

MATRIX_NETWORK = "matrix"
MATRIX_CHAIN_ID = 990_001
ETH = 10**18
ZERO = "0x" + "0" * 40
TOKEN_ADDRESS = "0x" + "17" * 20
VAULT_ADDRESS = "0x" + "7a" * 20
VAULT = "RevenueVault"
PAID_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EXPIRES_AT = int(datetime(2027, 1, 31, tzinfo=UTC).timestamp())


def address() -> str:
    """A random (lowercase) account address."""
    return "0x" + secrets.token_hex(20)


def checksum(account: str) -> str:
    return to_checksum_address(account)


def matrix_network() -> Network:
    """The network the matrix's organizations sell on (a platform row both share)."""
    network, _ = Network.objects.get_or_create(
        name=MATRIX_NETWORK, defaults={"chain_id": MATRIX_CHAIN_ID, "confirmation_depth": 2}
    )
    return network


def native_currency(network: Network) -> Currency:
    currency, _ = Currency.objects.get_or_create(
        network=network, address="", defaults={"symbol": "ETH", "decimals": 18}
    )
    return currency


def plain_terms_row(organization, marker: str, *, transferable: bool = False) -> LicenseTerms:
    """License terms of ``organization`` (written directly: the terms service is not ours)."""
    return LicenseTerms.objects.create(
        organization=organization,
        name=f"{marker} terms",
        commercial_use=True,
        transferable=transferable,
        content_hash="0x" + secrets.token_hex(32),
    )


def model_of(organization, marker: str, what: str):
    """A model of ``organization`` named with the marker (numbered from the second one)."""
    name = f"{marker} {what} model"
    taken = AIModel.objects.filter(organization=organization, name__startswith=name).count()
    return models_services.model_create(
        organization=organization,
        name=f"{name} {taken + 1}" if taken else name,
        task=Task.CLASSIFICATION,
    )


def offer_of(model, *, kind: OfferKind = OfferKind.LICENSE, tier: str = "") -> Offer:
    """A valid offer of ``kind`` on the matrix network (a paid one in ETH under new terms)."""
    network = matrix_network()
    fields = {"model": model, "network": network, "kind": kind, "tier_name": tier or kind.label}
    if kind != OfferKind.SHARES:
        fields |= {"price": ETH // 20, "currency": native_currency(network)}
        fields["terms"] = plain_terms_row(model.organization, model.name)
    if kind == OfferKind.ACCESS_PASS:
        fields["duration"] = 30 * 86_400
    if kind == OfferKind.CREDITS:
        fields |= {"credits_per_unit": 100, "usage_unit": UsageUnit.CALL}
    return services.offer_create(**fields)


def listed_model(organization, marker: str):
    """The model whose rows the matrix's licensing factories share, one per organization (so
    the matrix stays quick and a model autocomplete fits on one page)."""
    name = f"{marker} listed model"
    found = AIModel.objects.filter(organization=organization, name=name).first()
    return found or models_services.model_create(
        organization=organization, name=name, task=Task.CLASSIFICATION
    )


def offer_for(organization, marker: str, what: str, kind=OfferKind.LICENSE) -> Offer:
    """The listed model's offer named ``what`` (made on first use)."""
    model = listed_model(organization, marker)
    tier = f"{marker} {what}"
    found = Offer.objects.filter(model=model, tier_name=tier).first()
    return found or offer_of(model, kind=kind, tier=tier)


def event_row(network: Network, name: str, *, contract: str = "LicenseToken", **kwargs):
    """An indexed event of ``name`` (a random transaction unless ``tx_hash`` is given)."""
    values = {
        "tx_hash": "0x" + secrets.token_hex(32),
        "log_index": 0,
        "block_number": 7,
        "args": {},
        **kwargs,
    }
    return IndexedEvent.objects.create(
        network=network,
        chain_id=network.chain_id,
        contract_name=contract,
        address=VAULT_ADDRESS if contract == VAULT else TOKEN_ADDRESS,
        name=name,
        block_hash="0x" + secrets.token_hex(32),
        **values,
    )


# --- what staff configure ---


@tenant_row_factory(ModelTokenomics)
def tokenomics_row(organization, marker: str) -> ModelTokenomics:
    return services.tokenomics_for(model=listed_model(organization, marker))


@tenant_row_factory(Offer)
def offer_row(organization, marker: str) -> Offer:
    return offer_for(organization, marker, "tier")


@tenant_row_factory(Payee)
def payee_row(organization, marker: str) -> Payee:
    model = listed_model(organization, marker)
    return services.payee_create(model=model, address=address(), label=f"{marker} payee", bps=500)


@tenant_row_factory(Contributor)
def contributor_row(organization, marker: str) -> Contributor:
    model = listed_model(organization, marker)
    version = model.versions.first() or models_services.version_upload(
        model=model, version="1.0.0", fileobj=io.BytesIO(b"not a model"), filename="m.joblib"
    )
    return services.contributor_create(
        version=version,
        address=address(),
        name=f"{marker} contributor",
        role=ContributorRole.DATA,
        share_bps=2_500,
    )


@tenant_row_factory(ShareAllocation)
def share_allocation_row(organization, marker: str) -> ShareAllocation:
    model = listed_model(organization, marker)
    return services.share_allocation_create(
        model=model, holder=address(), label=f"{marker} holder", amount=1_000
    )


# --- what the chain says about the organization's models ---


def _listing(organization, marker: str) -> ModelTokenomics:
    return services.tokenomics_for(model=listed_model(organization, marker))


@tenant_row_factory(ChainModel)
def chain_model_row(organization, marker: str) -> ChainModel:
    listing = _listing(organization, marker)
    network = matrix_network()
    found = ChainModel.objects.filter(network=network, model_id=listing.chain_model_id).first()
    return found or ChainModel.objects.create(
        event=event_row(network, "ModelRegistered", contract="ModelRegistry"),
        network=network,
        model_id=listing.chain_model_id,
        publisher=address(),
        metadata_uri=f"ipfs://{marker}",
    )


@tenant_row_factory(PublishedVersion)
def published_version_row(organization, marker: str) -> PublishedVersion:
    listing = _listing(organization, marker)
    network = matrix_network()
    return PublishedVersion.objects.create(
        event=event_row(network, "VersionPublished", contract="ModelRegistry"),
        network=network,
        model_id=listing.chain_model_id,
        version=1,
        artifact_sha256=secrets.token_hex(32),
        label=f"{marker} 1.0.0",
    )


def chain_offer_of(offer: Offer) -> ChainOffer:
    config = services.onchain_offer_config(offer)
    return ChainOffer.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        model_id=config["modelId"],
        kind=offer.kind,
        price=config["price"],
        currency=config["currency"],
        duration=config["duration"],
        max_supply=config["maxSupply"],
        transferable=config["transferable"],
        terms_hash=config["termsHash"],
        active=config["active"],
        block_number=7,
    )


@tenant_row_factory(ChainOffer)
def chain_offer_row(organization, marker: str) -> ChainOffer:
    configured = ChainOffer.objects.filter(listing__model__organization=organization).count()
    return chain_offer_of(offer_for(organization, marker, f"configured {configured + 1}"))


@tenant_row_factory(License)
def license_row(organization, marker: str) -> License:
    offer = offer_for(organization, marker, "pass", kind=OfferKind.ACCESS_PASS)
    return License.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=address(),
        expires_at=EXPIRES_AT,
        terms_hash=offer.terms.content_hash,
        block_number=7,
    )


@tenant_row_factory(Holding)
def holding_row(organization, marker: str) -> Holding:
    offer = offer_for(organization, marker, "held")
    return Holding.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=address(),
        balance=2,
    )


@tenant_row_factory(CreditEntry)
def credit_entry_row(organization, marker: str) -> CreditEntry:
    offer = offer_for(organization, marker, "credits", kind=OfferKind.CREDITS)
    return CreditEntry.objects.create(
        event=event_row(offer.network, "TransferSingle"),
        network=offer.network,
        token_id=offer.token_id,
        holder=address(),
        delta=100,
    )


@tenant_row_factory(Sale)
def sale_row(organization, marker: str) -> Sale:
    offer = offer_for(organization, marker, "sold")
    return Sale.objects.create(
        event=event_row(offer.network, "Purchased"),
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        model_id=services.tokenomics_for(model=offer.model).chain_model_id,
        buyer=address(),
        amount=1,
        paid=offer.price,
        currency=ZERO,
        sold_at=PAID_AT,
    )


def payment_of(listing: ModelTokenomics, *, amount: int = ETH, payee: str = "") -> Payment:
    """A payment split by the vault: the platform's fee and one payee's part credited in the
    same transaction (``Credited`` events before their ``PaymentSplit``), the rest to holders."""
    network = matrix_network()
    tx = "0x" + secrets.token_hex(32)
    fee, to_payee = amount // 20, amount // 10
    for index, (account, part) in enumerate([(address(), fee), (payee or address(), to_payee)]):
        credited = event_row(network, "Credited", contract=VAULT, tx_hash=tx, log_index=index)
        VaultEntry.objects.create(
            event=credited,
            network=network,
            account=account,
            currency=ZERO,
            model_id=listing.chain_model_id,
            kind=LedgerKind.CREDITED,
            amount=part,
        )
    return Payment.objects.create(
        event=event_row(network, "PaymentSplit", contract=VAULT, tx_hash=tx, log_index=2),
        network=network,
        model_id=listing.chain_model_id,
        currency=ZERO,
        amount=amount,
        fee=fee,
        to_payees=to_payee,
        to_holders=amount - fee - to_payee,
        to_residual=0,
        paid_at=PAID_AT,
    )


@tenant_row_factory(Payment)
def payment_row(organization, marker: str) -> Payment:
    return payment_of(_listing(organization, marker))


@tenant_row_factory(ChainPayees)
def chain_payees_row(organization, marker: str) -> ChainPayees:
    listing = _listing(organization, marker)
    network = matrix_network()
    event = event_row(network, "PayeesConfigured", contract=VAULT)
    return ChainPayees.objects.create(
        event=event,
        network=network,
        model_id=listing.chain_model_id,
        accounts=[checksum(address()), checksum(address())],
        bps=[500, 250],
        block_number=event.block_number,
        log_index=event.log_index,
    )


@tenant_row_factory(VaultEntry)
def vault_entry_row(organization, marker: str) -> VaultEntry:
    listing = _listing(organization, marker)
    network = matrix_network()
    return VaultEntry.objects.create(
        event=event_row(network, "HolderClaimed", contract=VAULT),
        network=network,
        account=address(),
        currency=ZERO,
        model_id=listing.chain_model_id,
        kind=LedgerKind.CLAIMED,
        amount=ETH // 100,
    )


@tenant_row_factory(AgentPayment)
def agent_payment_row(organization, marker: str) -> AgentPayment:
    listing = _listing(organization, marker)
    network = matrix_network()
    event = event_row(network, "AgentPaid", contract=abi.PAY_PER_CALL)
    return AgentPayment.objects.create(
        event=event,
        network=network,
        model_id=listing.chain_model_id,
        currency=checksum("0x" + "3c" * 20),
        payer=checksum(address()),
        amount=1_250_000,
        nonce="0x" + secrets.token_hex(32),
        receipt_id="0x" + secrets.token_hex(32),
        tx_hash=event.tx_hash,
        log_index=event.log_index,
        block_number=event.block_number,
        paid_at=PAID_AT,
    )


# --- publishing, for the rules that publishing fixes ---


def outbox_row(network: Network, status: str = TxStatus.PENDING) -> OutboundTransaction:
    """An outbox transaction (never sent: the rules only look at its status)."""
    return OutboundTransaction.objects.create(
        network=network,
        idempotency_key=f"test-{secrets.token_hex(8)}",
        sender="0x" + "11" * 20,
        data="0x",
        status=status,
    )


def publish_step_of(
    model, kind: str, *, offer: Offer | None = None, status: str = TxStatus.PENDING
) -> PublishStep:
    """A publishing step of ``kind`` queued (by default) in the outbox."""
    network = offer.network if offer is not None else matrix_network()
    return PublishStep.objects.create(
        model=model,
        network=network,
        kind=kind,
        offer=offer,
        transaction=outbox_row(network, status),
    )


def ready_version_of(model, artifact: bytes, *, version: str = "1.0.0", publish: bool = True):
    """A version of ``model`` from a real estimator's ``artifact``, validated in this process
    and (by default) published: the version whose contributors share the contributors' part."""
    row = models_services.version_upload(
        model=model, version=version, fileobj=io.BytesIO(artifact), filename="model.joblib"
    )
    models_services.version_validate(version_id=row.pk)
    row.refresh_from_db()
    if publish:
        models_services.version_publish(version=row)
    return row


DAY = 86_400
HOLDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's account #1 (a public test key)
OPS_TOKEN_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


@tenant_row_factory(LicenseTerms)
def terms_row(organization, marker: str) -> LicenseTerms:
    # nobody holds it: the matrix's change POST edits it in place
    return terms_create(
        organization=organization,
        name=f"{marker} terms",
        commercial_use=True,
        territory=["DE", "FR"],
        legal_text=f"# {marker} license\n\nUse it well.",
    )


def network_row(organization, marker: str) -> Network:
    """A network for the organization's rows (chain ids far from real chains'), with a
    LicenseToken recorded on it (never deployed: rows here are not sent). Networks are platform
    rows that every organization's offer form lists, so the name carries no marker."""
    network, created = Network.objects.get_or_create(
        name=f"net-{organization.pk}",
        defaults={"chain_id": 3_000_000_000 + organization.pk},
    )
    if created:
        Deployment.objects.create(
            network=network,
            contract_name=abi.LICENSE_TOKEN,
            address=OPS_TOKEN_ADDRESS,
            deploy_block=0,
            code_hash="0x",
        )
    return network


def license_offer_row(organization, marker: str) -> Offer:
    """A 30-day license tier of a model of ``organization``, priced in the native coin."""
    network = network_row(organization, marker)
    currency, _ = Currency.objects.get_or_create(network=network, symbol="ETH", address="")
    return offer_create(
        model=model_row(organization, f"{marker} licensed"),
        network=network,
        kind=OfferKind.LICENSE,
        tier_name=f"{marker} tier",
        price=10**16,
        currency=currency,
        duration=30 * DAY,
        terms=terms_row(organization, f"{marker} offered"),
    )


@tenant_row_factory(LicenseOperation)
def license_operation_row(organization, marker: str) -> LicenseOperation:
    # a revocation staff asked for, queued and not sent (the services check the projections,
    # which need a synced chain: licensing/tests/test_license_operations.py has those)
    offer = license_offer_row(organization, marker)
    reason = RevocationReason.TERMS_BREACH
    queued = enqueue_call(
        network=offer.network,
        contract_name=abi.LICENSE_TOKEN,
        function="revoke",
        args=[HOLDER, int(offer.token_id), reason_code_bytes(reason)],
        idempotency_key=f"matrix-revoke:{offer.pk}",
        sender=HOLDER,
    )
    return LicenseOperation.objects.create(
        offer=offer,
        kind=LicenseOperationKind.REVOKE,
        holder=HOLDER,
        reason=reason,
        note=f"{marker} note",
        transaction=queued,
    )


# --- publishing (licensing/admin/publishing.py) ---


@tenant_row_factory(PublishStep)
def publish_step_row(organization, marker: str) -> PublishStep:
    """A registry step that reverted (so the matrix's Retry action has something to act on)."""
    from chain.choices import TxStatus
    from chain.models import Network, OutboundTransaction
    from licensing.choices import PublishStepKind
    from models_hub import services as models_services
    from models_hub.choices import Task

    network, _ = Network.objects.get_or_create(
        name="matrix-publishing", defaults={"chain_id": 990_002, "confirmation_depth": 2}
    )
    model = models_services.model_create(
        organization=organization, name=f"{marker} published model", task=Task.CLASSIFICATION
    )
    transaction = OutboundTransaction.objects.create(
        network=network,
        idempotency_key=f"matrix:publish:{organization.slug}:{model.pk}",
        sender="0x" + "11" * 20,
        to="0x" + "22" * 20,
        contract_name="ModelRegistry",
        function="registerModel",
        data="0x",
        status=TxStatus.REVERTED,
        revert_reason="AccessControlUnauthorizedAccount(account=0x1111…, neededRole=0x…)",
    )
    return PublishStep.objects.create(
        model=model,
        network=network,
        kind=PublishStepKind.REGISTER,
        payload={"target": "model", "function": "registerModel", "state": {}},
        transaction=transaction,
    )


# --- seats (licensing/admin/seats.py) ---


def treasury_of(organization) -> str:
    """The organization's treasury, given one (a random address) if it has none."""
    if not organization.treasury_address:
        organization.treasury_address = checksum(address())
        organization.save(update_fields=["treasury_address"])
    return organization.treasury_address


def treasury_license(organization, marker: str, *, seats: int = 3) -> License:
    """A valid license of an offer whose terms give ``seats`` wallets, held by the treasury."""
    offer = offer_for(organization, marker, "seated")
    LicenseTerms.objects.filter(pk=offer.terms_id).update(seats=seats)
    return License.objects.create(
        network=offer.network,
        token_address=TOKEN_ADDRESS,
        token_id=offer.token_id,
        holder=treasury_of(organization),
        expires_at=EXPIRES_AT,
        block_number=7,
    )


@tenant_row_factory(Seat)
def seat_row(organization, marker: str) -> Seat:
    from licensing.services.seats import seat_add

    license = treasury_license(organization, marker)
    wallet = checksum(address())
    label = f"{marker} seat"
    return seat_add(organization=organization, license=license, wallet=wallet, label=label)


# --- governance ---


@tenant_row_factory(GovernanceSettings)
def governance_settings_row(organization, marker: str) -> GovernanceSettings:
    model = listed_model(organization, marker)
    services.tokenomics_for(model=model)
    return GovernanceSettings.objects.get_or_create(model=model)[0]


@tenant_row_factory(PriceBound)
def price_bound_row(organization, marker: str) -> PriceBound:
    offer = offer_for(organization, marker, "bounded")
    return PriceBound.objects.create(offer=offer, min_price=ETH // 100, max_price=ETH)


@tenant_row_factory(Proposal)
def proposal_row(organization, marker: str) -> Proposal:
    """A tallied proposal (written directly: opening one needs shares on a chain)."""
    from datetime import timedelta

    from django.utils import timezone

    from licensing.choices import ProposalStatus

    model = listed_model(organization, marker)
    opens = timezone.now() - timedelta(days=4)
    return Proposal.objects.create(
        model=model,
        network=matrix_network(),
        proposal_id="0x" + secrets.token_hex(32),
        title=f"{marker} proposal",
        share_token=TOKEN_ADDRESS,
        share_token_id=3,
        snapshot_block=7,
        total_weight=1000,
        opens_at=opens,
        closes_at=opens + timedelta(days=3),
        quorum_bps=2000,
        pass_threshold_bps=5000,
        status=ProposalStatus.REJECTED,
        for_weight=100,
        against_weight=300,
    )
