"""The computed status of a row queued through the outbox (``licensing.services.status``) as a
list filter: publishing steps and license operations share it."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from chain.choices import TxStatus
from licensing.choices import PublishStepStatus
from licensing.services.status import INDEXED
from licensing.services.tokenomics import DEAD_TX

_CONFIRMED = Q(transaction__status=TxStatus.CONFIRMED)
FILTERS = {
    # an operation refused before it was queued has no transaction
    PublishStepStatus.QUEUED: Q(transaction__isnull=True) | Q(transaction__status=TxStatus.PENDING),
    PublishStepStatus.SENT: Q(transaction__status=TxStatus.SUBMITTED),
    PublishStepStatus.MINED: _CONFIRMED & Q(**{INDEXED: False}),
    PublishStepStatus.CONFIRMED: _CONFIRMED & Q(**{INDEXED: True}),
    PublishStepStatus.FAILED: Q(transaction__status__in=DEAD_TX),
}


class TxStatusFilter(admin.SimpleListFilter):
    """Rows by ``tx_status``: queued, sent, mined, confirmed by the sync, failed (the queryset
    must carry ``with_indexed``)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return PublishStepStatus.choices

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(FILTERS[value]) if value in FILTERS else queryset
