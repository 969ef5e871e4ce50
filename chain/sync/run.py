"""The sync of one network: passes over its deployed contracts, restarted after a reorg.

A pass first checks the kept hashes (``reorg.check_reorg``), then walks each contract's cursor up
to the head in ranges sized by ``ranges.RangeSizer``, writing each range's batch with its cursor
(``batch.write_batch``). A reorg noticed while a batch is written rolls back and the pass starts
again; an error is shown on the cursors and raised.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from web3 import Web3

from chain import abi
from chain.client import web3_for
from chain.models import BlockRecord, Deployment, IndexedEvent, Network, SyncCursor
from chain.sync.batch import write_batch
from chain.sync.context import SyncPass, SyncStats
from chain.sync.ranges import RangeRefused, RangeSizer, get_logs
from chain.sync.reorg import ReorgDetected, check_reorg

Progress = Callable[[str, int, int], None]  # (contract name, block reached, head)
MAX_PASSES = 5  # a reorg noticed mid-run rolls back, then the pass restarts


@dataclass
class SyncRun:
    """One ``sync_network`` call: the node and network, how far to index (``to_block``, else
    the head), where to index again from (``from_block``, the first pass only), whom to tell."""

    w3: Web3
    network: Network
    to_block: int | None = None
    from_block: int | None = None
    progress: Progress | None = None
    stats: SyncStats = field(default_factory=SyncStats)


def sync_network(
    *,
    network: Network,
    to_block: int | None = None,
    from_block: int | None = None,
    progress: Progress | None = None,
    w3: Web3 | None = None,
) -> SyncStats:
    """Index every deployed contract of ``network`` (but the local-only test token) up to the
    head (or ``to_block``)."""
    run = SyncRun(
        w3=w3 or web3_for(network.rpc_url),
        network=network,
        to_block=to_block,
        from_block=from_block,
        progress=progress,
    )
    try:
        for _attempt in range(MAX_PASSES):
            try:
                _sync_pass(run)
                run.from_block = None
                break
            except ReorgDetected:
                check_reorg(run.w3, network, run.stats)
    except Exception as exc:  # shown on the cursors in the admin, then raised for the task
        SyncCursor.objects.filter(network=network).update(
            last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    _finalize(network, run.stats.head)
    return run.stats


def _sync_pass(run: SyncRun) -> None:
    head = run.w3.eth.block_number if run.to_block is None else run.to_block
    run.stats.head = head
    check_reorg(run.w3, run.network, run.stats)
    sync_pass = SyncPass(w3=run.w3, network=run.network, stats=run.stats, head=head)
    sizer = RangeSizer(
        settings.CHAIN_SYNC_INITIAL_SPAN, settings.CHAIN_SYNC_MAX_SPAN, settings.CHAIN_SYNC_SPARSE
    )
    deployments = Deployment.objects.filter(network=run.network).exclude(
        contract_name__in=abi.LOCAL_ONLY_CONTRACTS  # a test token: not ours to index
    )
    for deployment in deployments.order_by("contract_name"):
        cursor = cursor_for(run.network, deployment)
        sizer.next_contract()
        if run.from_block is not None and run.from_block - 1 < cursor.last_block:
            cursor.last_block = max(run.from_block, deployment.deploy_block) - 1
            cursor.save(update_fields=["last_block", "updated_at"])  # rows are idempotent
        _index_contract(sync_pass, sizer, cursor, deployment, run.progress)


def _index_contract(
    sync_pass: SyncPass,
    sizer: RangeSizer,
    cursor: SyncCursor,
    deployment: Deployment,
    progress: Progress | None,
) -> None:
    """Walk one contract's cursor up to the pass's head, a range at a time."""
    head, start = sync_pass.head, cursor.last_block + 1
    while start <= head:
        end = min(start + sizer.span - 1, head)
        try:
            logs = get_logs(sync_pass.w3, deployment.address, start, end, sync_pass.stats)
        except RangeRefused as refused:
            if end == start:
                raise RuntimeError(f"the provider refuses even one block: {refused}") from None
            sizer.refused(start, end, refused.message)
            continue
        sizer.served(end - start + 1, len(logs))
        write_batch(sync_pass, cursor, logs, end)
        if progress is not None:
            progress(deployment.contract_name, end, head)
        start = end + 1


def cursor_for(network: Network, deployment: Deployment) -> SyncCursor:
    """The cursor of ``deployment``'s contract (started afresh when it was redeployed)."""
    cursor, created = SyncCursor.objects.get_or_create(
        network=network,
        contract_name=deployment.contract_name,
        defaults={"address": deployment.address, "last_block": deployment.deploy_block - 1},
    )
    if not created and cursor.address != deployment.address:  # redeployed: start afresh
        cursor.address = deployment.address
        cursor.last_block = deployment.deploy_block - 1
        cursor.save()
    return cursor


def _finalize(network: Network, head: int) -> None:
    SyncCursor.objects.filter(network=network).exclude(last_error="").update(last_error="")
    final_below = head - network.confirmation_depth
    IndexedEvent.objects.filter(network=network, final=False, block_number__lte=final_below).update(
        final=True
    )
    keep_from = final_below - network.confirmation_depth - 1
    BlockRecord.objects.filter(network=network, number__lt=keep_from).delete()
