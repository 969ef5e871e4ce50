"""Writes for the chain app: networks, deployments and the transaction outbox.

Every transaction the portal sends is a row here first (``enqueue_call`` / ``enqueue_deploy``),
keyed by an idempotency key, and is sent by ``chain.sender`` in a worker.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from eth_abi import encode as abi_encode
from eth_abi.exceptions import EncodingError
from eth_utils import function_signature_to_4byte_selector, is_address, to_checksum_address
from web3 import Web3

from chain.abi import ArtifactNotFound, load_artifact
from chain.choices import TX_OPEN, TxStatus
from chain.client import web3_for
from chain.models import Deployment, Network, OutboundTransaction
from chain.operator import operator_account

ANVIL_CHAIN_ID = 31337


class IdempotencyConflict(ValidationError):
    """The key was used before for a different transaction."""


def network_ensure(*, name: str, confirmation_depth: int | None = None) -> Network:
    """The network row for ``name``, created from its node (chain id) when missing."""
    network = Network.objects.filter(name=name).first()
    if network is not None:
        return network
    url = settings.CHAIN_RPC_URLS.get(name)
    if not url:
        raise ValidationError(f"no RPC URL for network {name!r}: set CHAIN_RPC_URLS")
    chain_id = web3_for(url).eth.chain_id
    if confirmation_depth is None:
        confirmation_depth = 2 if chain_id == ANVIL_CHAIN_ID else 12
    depth = confirmation_depth
    network = Network(name=name, chain_id=chain_id, confirmation_depth=depth)
    network.full_clean()
    network.save()
    return network


def _plain(value: Any) -> Any:
    """Arguments as JSON keeps them: bytes as 0x-hex, tuples as lists."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


@lru_cache(maxsize=64)
def _factory(contract_name: str, sources_sha256: str):
    """A contract factory for encoding (no node): one per artifact build, not per call."""
    artifact = load_artifact(contract_name)
    return _ENCODER.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)


_ENCODER = Web3()
_ELEMENTARY = re.compile(r"^(address|bool|string|bytes\d*|u?int\d*)((\[\d*\])*)$")


@lru_cache(maxsize=512)
def _plain_function(contract_name: str, sources_sha256: str, function: str):
    """(selector, input types) of ``function`` when its name is not overloaded and its inputs
    are elementary types or arrays of them (no structs); else None (web3 encodes those)."""
    items = [
        item
        for item in load_artifact(contract_name).abi
        if item.get("type") == "function" and item.get("name") == function
    ]
    if len(items) != 1:
        return None
    types = [arg["type"] for arg in items[0]["inputs"]]
    if not all(_ELEMENTARY.match(kind) for kind in types):
        return None
    return function_signature_to_4byte_selector(f"{function}({','.join(types)})"), types


def _normal(kind: str, value: Any) -> Any:
    """``value`` as eth_abi takes it for ``kind``, checked as strictly as web3 checks it
    (``ValueError`` otherwise: web3 then encodes it, or says what is wrong)."""
    if kind.endswith("]"):
        inner, size = kind[: kind.rindex("[")], kind[kind.rindex("[") + 1 : -1]
        if not isinstance(value, list | tuple) or (size and len(value) != int(size)):
            raise ValueError(kind)
        return [_normal(inner, item) for item in value]
    if kind == "address":
        if not (isinstance(value, str) and is_address(value)) or value != to_checksum_address(
            value
        ):
            raise ValueError("not a checksummed address")  # web3 says so, or accepts it
        return value
    if kind.startswith("bytes"):
        if isinstance(value, str) and value.startswith("0x"):
            value = bytes.fromhex(value[2:])
        if not isinstance(value, bytes | bytearray) or (
            kind != "bytes" and len(value) != int(kind[5:])
        ):
            raise ValueError(kind)
        return bytes(value)
    if kind.startswith(("uint", "int")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(kind)
        return value
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(kind)
    if kind == "string" and not isinstance(value, str):
        raise ValueError(kind)
    return value


def _encode_plain(contract_name: str, sources_sha256: str, function: str, args: list):
    """The calldata straight from eth_abi for a plain function (a tenth of web3's cost: the
    outbox encodes every call); None when web3 must do it."""
    plain = _plain_function(contract_name, sources_sha256, function)
    if plain is None:
        return None
    selector, types = plain
    try:
        if len(args) != len(types):
            return None
        values = [_normal(kind, value) for kind, value in zip(types, args, strict=True)]
        return "0x" + (selector + abi_encode(types, values)).hex()
    except (ValueError, TypeError, OverflowError, EncodingError):
        return None


def _encode(contract_name: str, function: str | None, args: list) -> str:
    try:
        artifact = load_artifact(contract_name)
    except ArtifactNotFound as exc:
        raise ValidationError(str(exc)) from None
    if function is not None:
        data = _encode_plain(contract_name, artifact.sources_sha256, function, args)
        if data is not None:
            return data
    contract = _factory(contract_name, artifact.sources_sha256)
    try:
        if function is None:
            return contract.constructor(*args).data_in_transaction
        return contract.encode_abi(function, args=args)
    except Exception as exc:  # web3 raises several kinds for a bad name or argument
        target = f"{contract_name}.{function or 'constructor'}"
        raise ValidationError(f"cannot encode {target}{tuple(args)!r}: {exc}") from None


@transaction.atomic
def _enqueue(
    *,
    network: Network,
    key: str,
    to: str,
    contract_name: str,
    function: str,
    args: list,
    data: str,
    value: int,
    sender: str | None,
) -> OutboundTransaction:
    sender = to_checksum_address(sender or operator_account().address)
    row = OutboundTransaction(
        network=network,
        idempotency_key=key,
        sender=sender,
        to=to,
        contract_name=contract_name,
        function=function,
        args=_plain(args),
        data=data,
        value=value,
    )
    # Field checks only: ``network`` is the row in hand (no query to find it again), the one
    # check constraint (a known status) is what clean_fields checks already, and the key's
    # uniqueness is the database's to check in the insert itself (a read first would lose the
    # race to a concurrent enqueue of the same key). The common case, a new key, is one insert.
    row.full_clean(exclude=["network"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:  # the key was used: the same transaction again, or a conflict
        existing = OutboundTransaction.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        same = (existing.network_id, existing.to, existing.data, int(existing.value)) == (
            network.pk,
            to,
            data,
            value,
        )
        if not same:
            raise IdempotencyConflict(
                f"idempotency key {key!r} was used for another transaction"
            ) from None
        return existing
    _wake_sender(network.pk)
    return row


def _wake_sender(network_id: int, *, countdown: float | None = None) -> None:
    """Queue a sender run for the network once the transaction commits (at once outside one)."""
    from chain.tasks import outbox_send_task  # the task module imports this one

    transaction.on_commit(
        lambda: outbox_send_task.apply_async(args=[network_id], countdown=countdown)
    )


def enqueue_call(
    *,
    network: Network,
    contract_name: str,
    function: str,
    args: list | tuple = (),
    value: int = 0,
    idempotency_key: str,
    sender: str | None = None,
    address: str | None = None,
) -> OutboundTransaction:
    """Queue a call of ``function`` on our deployed ``contract_name`` (once per key): at the
    network's deployment of it, or at ``address`` when the call is bound to one instance (an
    x402 authorization names the settler it pays)."""
    if address is None:
        deployment = Deployment.objects.filter(network=network, contract_name=contract_name).first()
        if deployment is None:
            raise ValidationError(f"{contract_name} is not deployed on {network.name}")
        address = deployment.address
    args = list(args)
    return _enqueue(
        network=network,
        key=idempotency_key,
        to=address,
        contract_name=contract_name,
        function=function,
        args=args,
        data=_encode(contract_name, function, args),
        value=value,
        sender=sender,
    )


def enqueue_deploy(
    *, network: Network, contract_name: str, args: list | tuple = (), idempotency_key: str
) -> OutboundTransaction:
    """Queue the deployment of ``contract_name`` with constructor ``args`` (once per key)."""
    args = list(args)
    return _enqueue(
        network=network,
        key=idempotency_key,
        to="",
        contract_name=contract_name,
        function="",
        args=args,
        data=_encode(contract_name, None, args),
        value=0,
        sender=None,
    )


def outbox_retry(*, row: OutboundTransaction) -> bool:
    """Send a failed or reverted transaction again (a new attempt, the same key)."""
    updated = OutboundTransaction.objects.filter(
        pk=row.pk, status__in=[TxStatus.FAILED, TxStatus.REVERTED]
    ).update(
        status=TxStatus.PENDING,
        attempts=0,
        last_error="",
        revert_reason="",
        nonce=None,
        tx_hash="",
        replaced_hashes=[],
        next_attempt_at=row.created_at,
    )
    if updated:
        _wake_sender(row.network_id)
    return bool(updated)


@transaction.atomic
def deployment_record(
    *, network: Network, contract_name: str, row: OutboundTransaction
) -> Deployment:
    """Record (or move) the deployment a confirmed creation transaction made."""
    if row.status != TxStatus.CONFIRMED or not is_address(row.contract_address):
        raise ValidationError(f"transaction #{row.pk} did not create a contract")
    w3 = web3_for(network.rpc_url)
    code = w3.eth.get_code(to_checksum_address(row.contract_address))
    deployment, _ = Deployment.objects.update_or_create(
        network=network,
        contract_name=contract_name,
        defaults={
            "address": to_checksum_address(row.contract_address),
            "deploy_block": row.block_number,
            "tx_hash": row.tx_hash,
            "code_hash": Web3.keccak(code).to_0x_hex(),
            "sources_sha256": load_artifact(contract_name).sources_sha256,
        },
    )
    return deployment


def open_transactions(*, network: Network):
    return OutboundTransaction.objects.filter(network=network, status__in=TX_OPEN)


# --- background work: what the tasks and admin actions call -------------------------------

SENDER_COME_BACK_AFTER = 5  # seconds: how soon the sender looks again while transactions are open


def outbox_send(*, network: Network):
    """One sender run for ``network``; while transactions stay open, queue the next run."""
    from chain.sender import outbox_process

    result = outbox_process(network=network)
    if result.leased and open_transactions(network=network).exists():
        _wake_sender(network.pk, countdown=SENDER_COME_BACK_AFTER)
    return result


def outbox_wake_open() -> int:
    """Queue a sender run for every network with open transactions (the periodic safety net)."""
    network_ids = list(
        OutboundTransaction.objects.filter(status__in=TX_OPEN)
        .order_by("network_id")  # not Meta.ordering, which would defeat distinct()
        .values_list("network_id", flat=True)
        .distinct()
    )
    for network_id in network_ids:
        _wake_sender(network_id)
    return len(network_ids)


def chain_sync_enqueue(*, network: Network) -> None:
    """Queue a sync of ``network`` once the transaction commits."""
    from chain.tasks import chain_sync_task  # the task module imports this one

    network_id = network.pk
    transaction.on_commit(lambda: chain_sync_task.delay(network_id))


def chain_sync_enqueue_all() -> int:
    """Queue a sync of every active network with deployments; returns how many."""
    networks = list(Network.objects.filter(is_active=True, deployments__isnull=False).distinct())
    for network in networks:
        chain_sync_enqueue(network=network)
    return len(networks)
