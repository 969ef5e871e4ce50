"""Pay-per-call for agents: the predict API's paywall (``models_hub.x402.protocol`` for the wire).

A predict request without an API key, a session or a right to a model that has an active
``PayPerCallOffer`` is answered 402 with the offer's requirements (``paywall_answer``). A retry
carrying ``PAYMENT-SIGNATURE`` is paid for (``pay``):

1. the payload is decoded and verified locally (``protocol.verify``: the x402 package's ``exact``
   EVM checks on the portal's own node);
2. its authorization is recorded once (``PaymentAuthorization``, unique per network, token,
   payer and nonce): the same header again is a retry and gets the first answer; another
   header with a used nonce is ``payment_nonce_used``;
3. the estimator answers; the settlement (``PayPerCall.settle``) is queued in the portal's
   outbox under the authorization's own idempotency key (one transaction, whatever retries);
4. with ``X402_AWAIT_SETTLEMENT`` (the default) the call waits for the transaction to be mined:
   mined, the answer is returned with ``PAYMENT-RESPONSE`` and a usage receipt is written;
   reverted or failed, the answer is 402 ``payment_settlement_failed`` and no result is given.
   Without it, the answer goes out once verified and the settlement follows.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from web3 import Web3

from chain.choices import TX_OPEN, TxStatus
from chain.client import web3_for
from chain.models import Deployment, OutboundTransaction
from chain.services import enqueue_call
from licensing.services.receipts import receipt_record_paid_call
from models_hub.choices import PaymentStatus
from models_hub.errors import PaymentErrorCode
from models_hub.models import ModelVersion, PaymentAuthorization, PayPerCallOffer
from models_hub.x402 import protocol
from portal.errors import DomainError

SETTLER = "PayPerCall"


@dataclass(frozen=True)
class Paid:
    """A verified payment for one call, not yet recorded (``settle`` records it with its
    settlement), or a retry of a recorded one (``authorization``; ``replay`` is its first answer
    once settled)."""

    offer: PayPerCallOffer
    version: ModelVersion
    rows: int
    input_hash: str
    digest: str  # sha256 of the PAYMENT-SIGNATURE header
    verified: protocol.Authorization | None = None
    authorization: PaymentAuthorization | None = None
    replay: dict | None = None


def offer_for(version: ModelVersion) -> PayPerCallOffer | None:
    """The model's active pay-per-call offer on an active network with the settler deployed.
    Kept per process for ``ENTITLEMENT_CACHE_SECONDS`` like the entitlement check (a change
    in the admin reaches other processes within that long; this one's at once)."""
    return _cached(("offer", version.model_id), lambda: _offer_for(version.model_id))


def _offer_for(model_id: int) -> PayPerCallOffer | None:
    offers = PayPerCallOffer.objects.filter(
        model_id=model_id, active=True, network__is_active=True
    ).select_related("network", "currency", "model__organization", "model__tokenomics")
    for offer in offers:
        if Deployment.objects.filter(network=offer.network, contract_name=SETTLER).exists():
            return offer
    return None


_hot: dict[tuple, tuple[float, int, object]] = {}
_generation = 0


def _cached(key: tuple, compute):
    ttl = settings.ENTITLEMENT_CACHE_SECONDS
    now = time.monotonic()
    hit = _hot.get(key)
    if hit is not None and now - hit[0] < ttl and hit[1] == _generation:
        return hit[2]
    generation = _generation
    value = compute()
    if ttl > 0 and generation == _generation:
        if len(_hot) > 4096:
            _hot.clear()
        _hot[key] = (now, generation, value)
    return value


def forget_offers() -> None:
    """Drop what this process keeps of pay-per-call offers (a change was saved)."""
    global _generation
    _generation += 1
    _hot.clear()


_domains: dict[tuple[int, str], tuple[str, str]] = {}
EIP712_DOMAIN_ABI = [
    {
        "name": "eip712Domain",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "fields", "type": "bytes1"},
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
            {"name": "salt", "type": "bytes32"},
            {"name": "extensions", "type": "uint256[]"},
        ],
    }
]


def token_domain(offer: PayPerCallOffer) -> tuple[str, str]:
    """The token's EIP-712 name and version, read once per process from the token itself
    (ERC-5267 ``eip712Domain``), so what agents sign is what the token checks."""
    currency = offer.currency
    key = (offer.network.chain_id, currency.address.lower())
    if key not in _domains:
        w3 = web3_for(_rpc_url(offer))
        token = w3.eth.contract(
            address=Web3.to_checksum_address(currency.address), abi=EIP712_DOMAIN_ABI
        )
        _fields, name, version, *_ = token.functions.eip712Domain().call()
        _domains[key] = (name, version)
    return _domains[key]


def paywall_of(offer: PayPerCallOffer) -> protocol.Paywall:
    """What ``offer`` asks of agents: its token (and that token's EIP-712 domain), price and
    the settler to pay (kept like the offer itself)."""
    return _cached(("paywall", offer.pk, offer.price, offer.per_row), lambda: _paywall(offer))


def _paywall(offer: PayPerCallOffer) -> protocol.Paywall:
    currency = offer.currency
    settler = Deployment.objects.get(network=offer.network, contract_name=SETTLER)
    name, version = token_domain(offer)
    return protocol.Paywall(
        chain_id=offer.network.chain_id,
        asset=Web3.to_checksum_address(currency.address),
        eip712_name=name,
        eip712_version=version,
        pay_to=Web3.to_checksum_address(settler.address),
        price=int(offer.price),
        per_row=offer.per_row,
        timeout_seconds=offer.timeout_seconds,
    )


def required(*, offer: PayPerCallOffer, rows: int, url: str, error: str | None = None):
    """The 402 answer's ``PaymentRequired`` for a call of ``rows`` rows."""
    model = offer.model
    accepts = [protocol.requirements(paywall_of(offer), rows=rows)]
    description = f"{model.name}: {rows} row(s) predicted"
    return protocol.payment_required(url=url, description=description, accepts=accepts, error=error)


def pay(*, offer: PayPerCallOffer, version: ModelVersion, rows: int, header: str, input_hash: str):
    """Verify the payment in ``header`` for a call of ``rows`` rows (nothing is written: the
    call is predicted, then ``settle`` records the payment and queues its settlement at once)."""
    payload = protocol.decode_payment(header)
    sender = _check_operator()
    paywall = paywall_of(offer)
    accepted = payload.accepted
    if str(accepted.network) != paywall.network:
        raise DomainError(PaymentErrorCode.PAYMENT_WRONG_NETWORK)
    if str(accepted.asset).lower() != paywall.asset.lower():
        raise DomainError(PaymentErrorCode.PAYMENT_WRONG_ASSET)
    paid = Paid(
        offer=offer,
        version=version,
        rows=rows,
        input_hash=input_hash,
        digest=hashlib.sha256(header.encode()).hexdigest(),
    )
    try:
        verified = protocol.verify(
            payload=payload,
            paywall=paywall,
            rows=rows,
            model_id=offer.model.tokenomics.chain_model_id,
            sender=sender,
            w3=web3_for(_rpc_url(offer)),
        )
    except DomainError:
        # refused: unless it is one the portal took already (a retry after a timeout, whose
        # nonce the chain shows used once settled): then the first answer, or nonce used
        earlier = _earlier(offer, payload.payload.get("authorization") or {})
        if earlier is None:
            raise
        return _retry(earlier, paid)
    return replace(paid, verified=verified)


def _check_operator() -> str:
    """The portal must be able to settle before it answers: no operator key, no paid call.
    Returns the outbox's sender (who settles)."""
    from django.core.exceptions import ImproperlyConfigured

    from chain.operator import operator_account

    try:
        return operator_account().address
    except ImproperlyConfigured:
        raise DomainError(
            PaymentErrorCode.PAYMENT_SETTLEMENT_FAILED,
            "The portal cannot settle payments now (no operator key is configured); nothing "
            "was charged.",
        ) from None


def _rpc_url(offer: PayPerCallOffer) -> str:
    return settings.CHAIN_RPC_URLS.get(offer.network.name, settings.CHAIN_RPC_URL)


def _earlier(offer, authorization: dict) -> PaymentAuthorization | None:
    payer, nonce = authorization.get("from"), authorization.get("nonce")
    if not (isinstance(payer, str) and isinstance(nonce, str) and Web3.is_address(payer)):
        return None
    return PaymentAuthorization.objects.filter(
        network=offer.network,
        token=Web3.to_checksum_address(offer.currency.address),
        payer=Web3.to_checksum_address(payer),
        nonce=nonce.lower(),
    ).first()


def _retry(earlier: PaymentAuthorization, paid: Paid) -> Paid:
    """The same authorization again: the same header for the same rows is a retry (the first
    answer, once settled: nothing is charged again); anything else replays a used nonce."""
    if earlier.payload_hash != paid.digest or earlier.input_hash != paid.input_hash:
        raise DomainError(PaymentErrorCode.PAYMENT_NONCE_USED)
    if earlier.status == PaymentStatus.FAILED:
        raise DomainError(PaymentErrorCode.PAYMENT_SETTLEMENT_FAILED, earlier.failure or None)
    replay = earlier.answer if earlier.status == PaymentStatus.SETTLED else None
    return replace(paid, authorization=earlier, replay=replay)  # settling: wait for it again


def settle(*, paid: Paid, answer: dict) -> PaymentAuthorization:
    """Record the verified payment and queue its settlement (``PayPerCall.settle``, once per
    authorization: its own idempotency key) in one transaction; with
    ``X402_AWAIT_SETTLEMENT``, wait for it. Raises ``payment_settlement_failed`` when it fails.
    A concurrent call with the same authorization that recorded it first makes this one its
    retry."""
    row = paid.authorization
    if row is None:
        row = _record(paid, answer)
    if not settings.X402_AWAIT_SETTLEMENT:
        return row
    return _await(row)


def _record(paid: Paid, answer: dict) -> PaymentAuthorization:
    offer, verified = paid.offer, paid.verified
    token = Web3.to_checksum_address(offer.currency.address)
    row = PaymentAuthorization(
        offer=offer,
        version=paid.version,
        network=offer.network,
        token=token,
        payer=verified.payer,
        nonce="0x" + verified.nonce.hex(),
        amount=verified.value,
        rows=paid.rows,
        payload_hash=paid.digest,
        input_hash=paid.input_hash,
        status=PaymentStatus.SETTLING,
        answer=answer,
    )
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            row.transaction = enqueue_call(
                network=offer.network,
                contract_name=SETTLER,
                function="settle",
                args=protocol.settle_args(
                    model_id=offer.model.tokenomics.chain_model_id,
                    token=token,
                    authorization=verified,
                    receipt_id=row.receipt_id,
                ),
                idempotency_key=f"x402:{offer.network_id}:{row.payer}:{row.nonce}",
                address=verified.to,  # the settler the payer authorized (verified = payTo)
            )
            PaymentAuthorization.objects.filter(pk=row.pk).update(transaction=row.transaction)
    except IntegrityError:  # the same authorization, sent twice at once: the other one won
        earlier = _earlier(offer, {"from": verified.payer, "nonce": row.nonce})
        if earlier is None:
            raise
        return _retry(earlier, paid).authorization
    return row


def _await(row: PaymentAuthorization) -> PaymentAuthorization:
    deadline = time.monotonic() + settings.X402_SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        tx = OutboundTransaction.objects.get(pk=row.transaction_id)
        if tx.status not in TX_OPEN:
            return _settled(row, tx)
        time.sleep(0.05)
    raise DomainError(
        PaymentErrorCode.PAYMENT_SETTLEMENT_FAILED,
        "The settlement is still pending: send the same PAYMENT-SIGNATURE again to get the "
        "answer once it is mined (it is charged once).",
    )


def _settled(row: PaymentAuthorization, tx: OutboundTransaction) -> PaymentAuthorization:
    if tx.status == TxStatus.CONFIRMED:
        with transaction.atomic():
            settled = PaymentAuthorization.objects.filter(
                pk=row.pk, status=PaymentStatus.SETTLING
            ).update(status=PaymentStatus.SETTLED, settled_at=timezone.now())
            if settled:  # once: the receipt of the paid call, under the id settled on chain
                receipt_record_paid_call(
                    receipt_id=row.receipt_id,
                    holder=row.payer,
                    network_id=row.network_id,
                    units=row.rows if row.offer.per_row else 1,
                    input_hash=row.input_hash,
                )
        row.refresh_from_db()
        return row
    reason = tx.last_error or f"the settlement transaction {tx.get_status_display().lower()}"
    PaymentAuthorization.objects.filter(pk=row.pk).update(
        status=PaymentStatus.FAILED, failure=reason[:2000]
    )
    raise DomainError(PaymentErrorCode.PAYMENT_SETTLEMENT_FAILED, f"Settlement failed: {reason}")


def payments_finish() -> int:
    """Finish the payments whose settlement left the outbox (beat, and the queued mode's only
    way to settled): a mined one is settled and receipted, a failed one is failed; returns
    how many were finished."""
    finished = 0
    settling = PaymentAuthorization.objects.filter(
        status=PaymentStatus.SETTLING, transaction__isnull=False
    ).exclude(transaction__status__in=TX_OPEN)
    for row in settling.select_related("transaction", "offer"):
        with contextlib.suppress(DomainError):  # failed: recorded on the row
            _settled(row, row.transaction)
        finished += 1
    return finished


# --- the publisher's side: selling a model per call --------------------------------------------
FIELDS = ("model", "network", "currency", "price", "per_row", "timeout_seconds", "active")


@transaction.atomic
def pay_per_call_offer_save(*, offer: PayPerCallOffer, data: dict) -> PayPerCallOffer:
    """Create or change a model's pay-per-call offer: the token must be an EIP-3009 ERC-20 on
    the offer's network (``Currency.eip3009``), and the network must have the settler."""
    from django.core.exceptions import ValidationError

    for name in FIELDS:
        if name in data:
            setattr(offer, name, data[name])
    errors = {}
    currency, network = offer.currency if offer.currency_id else None, offer.network_id
    if currency is not None and network and currency.network_id != network:
        errors["currency"] = "The token is on another network than the offer."
    elif currency is not None and not currency.eip3009:
        errors["currency"] = (
            "Agents pay with EIP-3009 authorizations: pick a token flagged EIP-3009 (with its "
            "EIP-712 domain) in Currencies."
        )
    if (
        network
        and not Deployment.objects.filter(network_id=network, contract_name=SETTLER).exists()
    ):
        errors["network"] = (
            f"{SETTLER} is not deployed on this network (manage.py deploy_contracts)."
        )
    if errors:
        raise ValidationError(errors)
    offer.full_clean()
    offer.save()
    transaction.on_commit(forget_offers)
    return offer
