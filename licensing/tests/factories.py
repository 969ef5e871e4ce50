"""Tenant matrix rows for licensing's admins (see portal/tests/factories.py)."""

from __future__ import annotations

from chain import abi
from chain.choices import OfferKind
from chain.models import Deployment, Network
from chain.services import enqueue_call
from licensing.choices import LicenseOperationKind, RevocationReason
from licensing.models import Currency, LicenseOperation, LicenseTerms, Offer, PublishStep
from licensing.services.operations import reason_code_bytes
from licensing.services.terms import terms_create
from licensing.services.tokenomics import offer_create
from models_hub.tests.factories import model_row
from portal.tests.factories import tenant_row_factory

DAY = 86_400
HOLDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil's account #1 (a public test key)
TOKEN_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


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
    """A network of the organization's own (chain ids far from real chains'), with a
    LicenseToken recorded on it (never deployed: rows here are not sent)."""
    network, created = Network.objects.get_or_create(
        name=f"net-{organization.slug}"[:40],
        defaults={"chain_id": 3_000_000_000 + organization.pk},
    )
    if created:
        Deployment.objects.create(
            network=network,
            contract_name=abi.LICENSE_TOKEN,
            address=TOKEN_ADDRESS,
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
