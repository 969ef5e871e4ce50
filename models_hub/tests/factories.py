"""Tenant matrix rows for the model registry (see portal/tests/factories.py)."""

from __future__ import annotations

import io

from models_hub import services
from models_hub.choices import Task
from models_hub.models import AIModel, InferenceJob, ModelVersion, PayPerCallOffer
from portal.tests.factories import tenant_row_factory


@tenant_row_factory(AIModel)
def model_row(organization, marker: str) -> AIModel:
    return services.model_create(
        organization=organization, name=f"{marker} model", task=Task.CLASSIFICATION
    )


@tenant_row_factory(ModelVersion)
def version_row(organization, marker: str) -> ModelVersion:
    # rejected: every action (deletion included) has something to act on
    model = model_row(organization, f"{marker} versioned")
    row = services.version_upload(
        model=model, version="1.0.0", fileobj=io.BytesIO(b"not a model"), filename="m.joblib"
    )
    return services.version_validate(version_id=row.pk)


_iris: dict = {}


def iris():
    """The demo iris classifier and its rows (trained once per test process)."""
    if not _iris:
        from models_hub.demo_models import train

        _iris["trained"] = train("iris")
    return _iris["trained"]


def published_version(organization, name: str) -> ModelVersion:
    """A model of ``organization`` with a ready, published version (the iris classifier)."""
    from models_hub.demo_models import serialize

    estimator, _ = iris()
    model = services.model_create(organization=organization, name=name, task=Task.CLASSIFICATION)
    row = services.version_upload(
        model=model,
        version="1.0.0",
        fileobj=io.BytesIO(serialize(estimator, "joblib")),
        filename="iris.joblib",
    )
    services.version_validate(version_id=row.pk)
    row.refresh_from_db()
    services.version_publish(version=row)
    return row


@tenant_row_factory(InferenceJob)
def job_row(organization, marker: str) -> InferenceJob:
    # queued: the cancel action has something to act on
    from models_hub.tests import jobs_kit

    version = published_version(organization, f"{marker} batch")
    _, rows = iris()
    return jobs_kit.submit(version, jobs_kit.csv_bytes(rows.head(20)))


@tenant_row_factory(PayPerCallOffer)
def pay_per_call_row(organization, marker: str) -> PayPerCallOffer:
    from chain.models import Deployment
    from licensing.models import Currency
    from licensing.tests.factories import matrix_network

    network = matrix_network()
    Deployment.objects.get_or_create(  # the settler agents pay, on the matrix's network
        network=network,
        contract_name="PayPerCall",
        defaults={"address": "0x" + "5e" * 20, "deploy_block": 1, "code_hash": "0x"},
    )
    currency, _ = Currency.objects.get_or_create(
        network=network,
        symbol="TUSDC",
        defaults={
            "address": "0x" + "3c" * 20,
            "decimals": 6,
            "eip3009": True,
            "eip712_name": "Test USD Coin",
            "eip712_version": "2",
        },
    )
    model = model_row(organization, f"{marker} per call")
    return PayPerCallOffer.objects.create(
        model=model, network=network, currency=currency, price=1000
    )
