"""Tenant matrix rows for the model registry (see portal/tests/factories.py)."""

from __future__ import annotations

import io

from models_hub import services
from models_hub.choices import Task
from models_hub.models import AIModel, ModelVersion
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
