"""Reads for the batch-job pages: which model versions a caller may run a job on.

A version is offered when the caller could address it through the predict API (a published
ready version of a listed model of an active organization, or any published ready version of
their own organization's models) and ``licensing.entitlement.check`` allows them now. The
entitlement check is cached per (caller, model), so a model's versions cost one check.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from licensing import entitlement
from licensing.entitlement import CREDITS, LICENSE, PASS, PUBLISHER, Caller, Decision, Right
from models_hub.models import AIModel, ModelVersion
from models_hub.selectors import PUBLIC_VERSION
from portal.choices import OrganizationStatus

RIGHT_LABELS = {
    PUBLISHER: "your organization's model",
    LICENSE: "your license",
    PASS: "your access pass",
    CREDITS: "your credits",
}


@dataclass(frozen=True)
class Runnable:
    """A version the caller may run a job on now, and the right it would run under."""

    version: ModelVersion
    right: Right

    @property
    def right_label(self) -> str:
        return RIGHT_LABELS.get(self.right.kind, self.right.kind)


def _addressable(caller: Caller):
    visible = Q(model__listed=True, model__organization__status=OrganizationStatus.ACTIVE)
    if caller.organization_ids:
        visible |= Q(model__organization_id__in=caller.organization_ids)
    return (
        ModelVersion.objects.filter(PUBLIC_VERSION)
        .filter(visible)
        .select_related("model__organization")
        .order_by("model__organization__name", "model__name", "model_id", "-sort_key")
    )


def versions_runnable(*, caller: Caller) -> list[Runnable]:
    """The versions ``caller`` may run a job on now: by organization, model, newest first."""
    runnable = []
    for version in _addressable(caller):
        decision = entitlement.check(caller=caller, version=version)
        if decision.allowed:
            runnable.append(Runnable(version=version, right=decision.right))
    return runnable


@dataclass(frozen=True)
class Refusal:
    """A version the caller asked for (``?version=`` or ``?model=``) but may not run, and why."""

    model: AIModel
    version: ModelVersion | None
    decision: Decision | None  # None: the model has no published version


def refusal_for(*, caller: Caller, version_id=None, model_address: str = "") -> Refusal | None:
    """Why the asked-for version (or a model's newest) is not runnable, if the caller may see
    it at all (another tenant's unlisted model is not named)."""
    versions = _addressable(caller)
    if version_id is not None:
        version = versions.filter(pk=version_id).first()
        if version is None:
            return None
        model = version.model
    else:
        org_slug, _, slug = model_address.partition("/")
        visible = Q(listed=True, organization__status=OrganizationStatus.ACTIVE)
        if caller.organization_ids:
            visible |= Q(organization_id__in=caller.organization_ids)
        model = (
            AIModel.objects.filter(visible, organization__slug=org_slug, slug=slug)
            .select_related("organization")
            .first()
        )
        if model is None:
            return None
        version = versions.filter(model=model).first()
    if version is None:
        return Refusal(model=model, version=None, decision=None)
    return Refusal(
        model=model, version=version, decision=entitlement.check(caller=caller, version=version)
    )
