"""The outbox sender: one per (network, address) at a time, holding a lease.

A tick (``outbox_process``):

1. takes the sender's lease with a conditional update (another holder means: return at once);
2. recovers the next nonce from the node (its pending count) and from our own submitted rows,
   so a restarted sender, or a transaction sent from the same key elsewhere, never reuses one;
3. follows submitted transactions: a receipt (for the current hash or one it replaced) ends
   them as confirmed, or reverted with the reason decoded by replaying the call; one whose nonce
   was used by another transaction fails; one without a receipt after
   ``CHAIN_TX_STUCK_AFTER`` seconds is replaced (same nonce, fees raised by a quarter);
4. sends pending rows in id order: gas estimated (a revert there ends the row as reverted, no
   gas spent), EIP-1559 fees, signed with the operator key, receipt awaited briefly; transient
   errors (connection, timeout, node busy) are retried with exponential backoff.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import (
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)

from chain.abi import decode_revert
from chain.choices import TxStatus
from chain.client import web3_for
from chain.models import Network, OutboundTransaction, SenderState
from chain.operator import operator_account
from chain.reverts import mined_revert

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=120)
GAS_MARGIN = 1.2
FEE_BUMP = 1.25  # nodes accept a replacement from +10%; a quarter clears every common rule
TRANSIENT = (RequestException, TimeoutError, ConnectionError, OSError)


@dataclass
class TickResult:
    """What one tick did (for logs, the command's progress and tests)."""

    leased: bool = True
    sent: list[int] = field(default_factory=list)
    confirmed: list[int] = field(default_factory=list)
    reverted: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    retried: list[int] = field(default_factory=list)


@dataclass
class Tick:
    """One tick under the lease: the node, the network, the signing account, the lease's row
    (its ``next_nonce``) and what the tick did."""

    w3: Web3
    network: Network
    account: LocalAccount
    state: SenderState
    result: TickResult


@dataclass(frozen=True)
class Fees:
    """EIP-1559 fees of a transaction: the priority fee (tip) and the fee cap."""

    tip: int
    fee_cap: int

    def replacing(self, row: OutboundTransaction) -> Fees:
        """These fees, raised to a quarter over ``row``'s own (what a replacement needs)."""
        tip = max(self.tip, int(int(row.max_priority_fee_per_gas or 0) * FEE_BUMP) + 1)
        fee_cap = max(self.fee_cap, int(int(row.max_fee_per_gas or 0) * FEE_BUMP) + 1, tip)
        return Fees(tip, fee_cap)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]


def _take_lease(network: Network, address: str, owner: str) -> SenderState | None:
    state, _ = SenderState.objects.get_or_create(network=network, address=address)
    now = timezone.now()
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
    taken = (
        SenderState.objects.filter(pk=state.pk)
        .filter(free)
        .update(lease_owner=owner, lease_expires_at=now + LEASE)
    )
    if not taken:
        return None
    state.refresh_from_db()
    return state


def _release_lease(state: SenderState, owner: str) -> None:
    SenderState.objects.filter(pk=state.pk, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None, next_nonce=state.next_nonce
    )


def outbox_process(
    *, network: Network, account: LocalAccount | None = None, max_send: int = 50
) -> TickResult:
    """One tick of the sender for ``network`` and the operator account (see the module doc)."""
    account = account or operator_account()
    address = to_checksum_address(account.address)
    owner = _owner()
    state = _take_lease(network, address, owner)
    if state is None:
        return TickResult(leased=False)
    result = TickResult()
    try:
        tick = Tick(web3_for(network.rpc_url), network, account, state, result)
        _follow_submitted(tick)
        _send_pending(tick, max_send)
    except TRANSIENT as exc:
        logger.warning("outbox for %s on %s: node unavailable: %s", address, network.name, exc)
    finally:
        _release_lease(state, owner)
    return result


# --- nonces ---


def _recover_nonce(tick: Tick) -> int:
    """The next nonce: never below the node's pending count nor our highest submitted nonce."""
    address = tick.account.address
    node = tick.w3.eth.get_transaction_count(address, "pending")
    ours = OutboundTransaction.objects.filter(
        network=tick.network, sender=address, status=TxStatus.SUBMITTED
    ).aggregate(top=Max("nonce"))["top"]
    return max(node, ours + 1 if ours is not None else 0)


# --- following submitted transactions ---


def _receipt_of(w3: Web3, row: OutboundTransaction):
    for tx_hash in reversed(row.all_hashes):
        try:
            return tx_hash, w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            continue
    return None, None


def _follow_submitted(tick: Tick) -> None:
    rows = OutboundTransaction.objects.filter(
        network=tick.network, sender=tick.account.address, status=TxStatus.SUBMITTED
    ).order_by("nonce")
    latest = None  # the account's mined nonce count, read once and only when needed
    for row in rows:
        mined_hash, receipt = _receipt_of(tick.w3, row)
        if receipt is not None:
            _finish_mined(tick, row, mined_hash, receipt)
            continue
        if latest is None:
            latest = tick.w3.eth.get_transaction_count(row.sender, "latest")
        if latest > row.nonce:
            error = "nonce used by another transaction"
            _end(row, TxStatus.FAILED, tick.result.failed, error=error)
        elif timezone.now() - row.submitted_at > timedelta(seconds=settings.CHAIN_TX_STUCK_AFTER):
            _replace(tick, row)


def _finish_mined(tick: Tick, row: OutboundTransaction, mined_hash, receipt) -> None:
    if mined_hash != row.tx_hash:  # an earlier hash of this row was mined after all
        row.replaced_hashes = [h for h in row.all_hashes if h != mined_hash]
        row.tx_hash = mined_hash
    row.block_number = receipt["blockNumber"]
    row.gas_used = receipt["gasUsed"]
    row.contract_address = receipt.get("contractAddress") or ""
    if receipt["status"] == 1:
        _end(row, TxStatus.CONFIRMED, tick.result.confirmed)
    else:
        reason = _replay_reason(tick.w3, row, receipt)
        _end(row, TxStatus.REVERTED, tick.result.reverted, reason=reason)


def _replay_reason(w3, row, receipt) -> str:
    """Why a mined transaction of ours reverted (``chain.reverts.mined_revert``)."""
    call = {"from": row.sender, "data": row.data, "value": int(row.value), "gas": row.gas_limit}
    if row.to:
        call["to"] = row.to
    found = mined_revert(
        w3, tx_hash=receipt["transactionHash"], call=call, block_number=receipt["blockNumber"]
    )
    if found is None:
        return "reverted on chain (out of gas, or the state changed before it was mined)"
    return str(found)


def _replace(tick: Tick, row: OutboundTransaction) -> None:
    fees = _fees(tick.w3).replacing(row)
    try:
        new_hash = _sign_and_send(tick, row, nonce=row.nonce, gas=row.gas_limit, fees=fees)
    except Web3RPCError as exc:
        _retry_later(row, exc, tick.result)
        return
    row.replaced_hashes = [*row.replaced_hashes, row.tx_hash]
    row.tx_hash = new_hash
    row.max_priority_fee_per_gas, row.max_fee_per_gas = fees.tip, fees.fee_cap
    row.submitted_at = timezone.now()
    row.attempts += 1
    row.save()
    tick.result.replaced.append(row.pk)
    logger.info("outbox #%s replaced with %s (fee cap %s)", row.pk, new_hash, fees.fee_cap)


# --- sending pending transactions ---


def _fees(w3: Web3) -> Fees:
    base = w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0
    tip = w3.eth.max_priority_fee
    return Fees(tip, 2 * base + tip)


def _sign_and_send(
    tick: Tick, row: OutboundTransaction, *, nonce: int, gas: int, fees: Fees
) -> str:
    tx = {
        "type": 2,
        "chainId": tick.network.chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxPriorityFeePerGas": fees.tip,
        "maxFeePerGas": fees.fee_cap,
        "value": int(row.value),
        "data": row.data,
    }
    if row.to:
        tx["to"] = row.to
    signed = tick.account.sign_transaction(tx)
    return tick.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()


def _send_pending(tick: Tick, max_send: int) -> None:
    rows = list(
        OutboundTransaction.objects.filter(
            network=tick.network,
            sender=tick.account.address,
            status=TxStatus.PENDING,
            next_attempt_at__lte=timezone.now(),
        ).order_by("id")[:max_send]
    )
    if not rows:
        return
    network = tick.network
    try:
        chain_id = tick.w3.eth.chain_id
        tick.state.next_nonce = _recover_nonce(tick)
        fees = _fees(tick.w3)
    except TRANSIENT as exc:  # the node is down: every due row backs off
        for row in rows:
            _retry_later(row, exc, tick.result)
        return
    if chain_id != network.chain_id:
        message = f"{network.name}'s node reports chain id {chain_id}, not {network.chain_id}"
        raise ValueError(message)
    for row in rows:
        if not _send_one(tick, row, fees):
            break  # the node is unwell: the rest wait for the next tick
    _await_receipts(tick)


def _estimate_gas(tick: Tick, row: OutboundTransaction) -> int | None:
    """The gas to send ``row`` with; None when the row ended (reverted) or waits (retry)."""
    call = {"from": row.sender, "data": row.data, "value": int(row.value)}
    if row.to:
        call["to"] = row.to
    try:
        # against the pending state: a row that depends on one sent earlier in this tick (a
        # version hash after its model's registration) must see it even before it is mined
        return int(tick.w3.eth.estimate_gas(call, "pending") * GAS_MARGIN)
    except ContractLogicError as exc:  # custom errors included
        _end(row, TxStatus.REVERTED, tick.result.reverted, reason=_reason(exc))
    except TRANSIENT as exc:
        _retry_later(row, exc, tick.result)
    except Web3RPCError as exc:
        try:
            reason = str(decode_revert(exc))
        except ValueError:  # no revert data: the node failed, not the call
            _retry_later(row, exc, tick.result)
        else:
            _end(row, TxStatus.REVERTED, tick.result.reverted, reason=reason)
    return None


def _send_one(tick: Tick, row: OutboundTransaction, fees: Fees) -> bool:
    """Send one pending row; False when the node is unwell (the rest wait for the next tick)."""
    gas = _estimate_gas(tick, row)
    if gas is None:  # a row that reverted lets the next go; one that waits means the node is unwell
        return row.status == TxStatus.REVERTED
    state = tick.state
    try:
        tx_hash = _sign_and_send(tick, row, nonce=state.next_nonce, gas=gas, fees=fees)
    except TRANSIENT as exc:
        _retry_later(row, exc, tick.result)
        return False
    except Web3RPCError as exc:
        if "nonce too low" in str(exc).lower():
            state.next_nonce = _recover_nonce(tick)
        _retry_later(row, exc, tick.result)
        return False
    row.status = TxStatus.SUBMITTED
    row.nonce = state.next_nonce
    row.tx_hash = tx_hash
    row.gas_limit = gas
    row.max_priority_fee_per_gas, row.max_fee_per_gas = fees.tip, fees.fee_cap
    row.submitted_at = timezone.now()
    row.attempts += 1
    row.save()
    state.next_nonce += 1
    tick.result.sent.append(row.pk)
    return True


def _await_receipts(tick: Tick) -> None:
    wait = settings.CHAIN_TX_RECEIPT_WAIT
    for row in OutboundTransaction.objects.filter(pk__in=tick.result.sent).order_by("nonce"):
        try:
            receipt = tick.w3.eth.wait_for_transaction_receipt(
                row.tx_hash, timeout=wait, poll_latency=0.1
            )
        except TimeExhausted:
            continue  # the next tick follows it
        _finish_mined(tick, row, row.tx_hash, receipt)


# --- endings and retries ---


def _reason(exc) -> str:
    try:
        return str(decode_revert(exc))
    except ValueError:
        return str(exc)[:500]


def _end(row, status, bucket: list, *, reason: str = "", error: str = "") -> None:
    row.status = status
    row.revert_reason = reason[:2000]
    if error:
        row.last_error = error[:2000]
    row.finished_at = timezone.now()
    row.save()
    bucket.append(row.pk)
    log = logger.info if status == TxStatus.CONFIRMED else logger.warning
    log("outbox #%s %s %s", row.pk, status, reason or error)


def _retry_later(row, exc, result: TickResult) -> None:
    row.attempts += 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if row.attempts >= settings.CHAIN_TX_MAX_ATTEMPTS and row.status == TxStatus.PENDING:
        _end(row, TxStatus.FAILED, result.failed, error=row.last_error)
        return
    row.next_attempt_at = timezone.now() + timedelta(seconds=min(2**row.attempts, 300))
    row.save()
    result.retried.append(row.pk)
