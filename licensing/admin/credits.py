"""The credit ledger, read-only and for superusers (it changes only through its services:
``licensing.services.credits``, ``licensing.idempotency``)."""

from __future__ import annotations

from django.contrib import admin

from chain.admin import ReadOnlyPlatformAdmin
from chain.paginators import CappedCountPaginator
from licensing.models import (
    CreditAccount,
    CreditLedgerEntry,
    CreditReservation,
    IdempotentRequest,
)


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyPlatformAdmin):
    list_display = [
        "holder",
        "token_id",
        "network",
        "available",
        "reserved",
        "unsettled",
        "deficit",
    ]
    list_filter = ["network"]
    search_fields = ["holder", "=token_id"]
    list_select_related = ["network"]


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(ReadOnlyPlatformAdmin):
    list_display = ["created_at", "account", "kind", "units", "reference"]
    list_filter = ["kind"]
    search_fields = ["account__holder", "reference"]
    list_select_related = ["account"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(CreditReservation)
class CreditReservationAdmin(ReadOnlyPlatformAdmin):
    list_display = ["pk", "account", "units", "consumed", "status", "created_at", "expires_at"]
    list_filter = ["status"]
    search_fields = ["account__holder"]
    list_select_related = ["account"]
    paginator = CappedCountPaginator
    show_full_result_count = False


@admin.register(IdempotentRequest)
class IdempotentRequestAdmin(ReadOnlyPlatformAdmin):
    list_display = ["caller", "key", "status", "response_status", "created_at"]
    list_filter = ["status"]
    search_fields = ["caller", "key"]
    paginator = CappedCountPaginator
    show_full_result_count = False
