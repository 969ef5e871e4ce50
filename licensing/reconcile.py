"""Reconciliation: compare projections with the chain's own views, at the indexed block.

Each check reads the contract at the block every cursor has reached (so events not yet indexed
cannot make a false alarm) and records a ``Mismatch`` per disagreeing key; a key that agrees
again is marked resolved.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from chain import abi
from chain.client import web3_for
from chain.models import Deployment, SyncCursor
from licensing.choices import LedgerKind, MismatchKind
from licensing.models import Holding, License, Mismatch, VaultEntry


@dataclass
class ReconcileReport:
    block: int
    checked: int = 0
    mismatches: int = 0
    resolved: int = 0


def _contracts(w3, network) -> dict:
    addresses = dict(
        Deployment.objects.filter(network=network).values_list("contract_name", "address")
    )
    return {name: abi.contract_at(w3, name, address) for name, address in addresses.items()}


def _vault_expected(network) -> dict[tuple[str, str], int]:
    signs = {LedgerKind.CREDITED: 1, LedgerKind.CLAIMED: 1, LedgerKind.WITHDRAWN: -1}
    expected: dict[tuple[str, str], int] = defaultdict(int)
    for account, currency, kind, amount in VaultEntry.objects.filter(network=network).values_list(
        "account", "currency", "kind", "amount"
    ):
        expected[(account, currency)] += signs[kind] * int(amount)
    return expected


def reconcile(*, network) -> ReconcileReport:
    """Check licenses' expiries, holdings' balances and vault balances against the chain."""
    block = SyncCursor.objects.filter(network=network).aggregate(low=Min("last_block"))["low"]
    if block is None or block < 0:
        return ReconcileReport(block=-1)
    w3 = web3_for(network.rpc_url)
    contracts = _contracts(w3, network)
    token, vault = contracts.get(abi.LICENSE_TOKEN), contracts.get(abi.REVENUE_VAULT)
    report = ReconcileReport(block=block)
    found: dict[tuple[str, str], tuple[str, str]] = {}
    at = {"block_identifier": block}
    if token is not None:
        for row in License.objects.filter(network=network, block_number__lte=block):
            chain_expiry = token.functions.expiresAt(int(row.token_id), row.holder).call(**at)
            key = f"{row.token_id}/{row.holder}"
            found[(MismatchKind.EXPIRY, key)] = (str(row.expires_at), str(chain_expiry))
        for row in Holding.objects.filter(network=network):
            chain_balance = token.functions.balanceOf(row.holder, int(row.token_id)).call(**at)
            key = f"{row.token_id}/{row.holder}"
            found[(MismatchKind.BALANCE, key)] = (str(row.balance), str(chain_balance))
    if vault is not None:
        for (account, currency), amount in _vault_expected(network).items():
            chain_amount = vault.functions.creditedOf(account, currency).call(**at)
            key = f"{account}/{currency}"
            found[(MismatchKind.CREDITED, key)] = (str(amount), str(chain_amount))
    _record(network, found, block, report)
    return report


@transaction.atomic
def _record(network, found, block, report: ReconcileReport) -> None:
    now = timezone.now()
    open_rows = {
        (row.kind, row.key): row
        for row in Mismatch.objects.filter(network=network, resolved_at__isnull=True)
    }
    for (kind, key), (projected, on_chain) in found.items():
        report.checked += 1
        existing = open_rows.get((kind, key))
        if projected == on_chain:
            if existing is not None:
                existing.resolved_at = now
                existing.save(update_fields=["resolved_at"])
                report.resolved += 1
            continue
        report.mismatches += 1
        if existing is None:
            Mismatch.objects.create(
                network=network,
                kind=kind,
                key=key,
                projected=projected,
                on_chain=on_chain,
                block_number=block,
            )
        else:
            existing.projected, existing.on_chain, existing.block_number = (
                projected,
                on_chain,
                block,
            )
            existing.save(update_fields=["projected", "on_chain", "block_number"])
