"""Tenant matrix rows for licensing's admins (see portal/tests/factories.py)."""

from __future__ import annotations

from licensing.models import LicenseTerms, PublishStep
from licensing.services.terms import terms_create
from portal.tests.factories import tenant_row_factory


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
