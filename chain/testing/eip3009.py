"""EIP-3009 authorizations signed in tests and benches, as an x402 agent's wallet signs them.

``Authorization`` holds what the payer signs (EIP-712 ``TransferWithAuthorization`` over the
token's domain); ``sign`` signs it with a local key (an EOA payer, or the owner of a
``TestWallet``, whose EIP-1271 check accepts its owner's signature of the same digest);
``settle_args`` lays it out as ``PayPerCall.settle`` takes it. ``cancel_signature`` signs an
authorization's cancellation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import to_checksum_address

TRANSFER = "TransferWithAuthorization"
RECEIVE = "ReceiveWithAuthorization"  # the same fields; only ``to`` may submit it
AUTHORIZATION_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "validAfter", "type": "uint256"},
    {"name": "validBefore", "type": "uint256"},
    {"name": "nonce", "type": "bytes32"},
]
CANCEL_FIELDS = [{"name": "authorizer", "type": "address"}, {"name": "nonce", "type": "bytes32"}]


def domain_of(token) -> dict:
    """The token's EIP-712 domain, as it reports it (ERC-5267 ``eip712Domain``)."""
    _fields, name, version, chain_id, contract, _salt, _extensions = (
        token.functions.eip712Domain().call()
    )
    return {"name": name, "version": version, "chainId": chain_id, "verifyingContract": contract}


def sign_typed(typed_data: dict, key) -> bytes:
    """The 65-byte signature (r, s, v) of EIP-712 ``typed_data`` by ``key``."""
    signable = encode_typed_data(full_message=typed_data)
    return bytes(Account.sign_message(signable, key).signature)


def cancel_signature(token, *, authorizer: str, nonce: bytes, key) -> bytes:
    """``authorizer``'s signature of ``CancelAuthorization(authorizer, nonce)`` on ``token``."""
    typed = {
        "types": {"CancelAuthorization": CANCEL_FIELDS},
        "primaryType": "CancelAuthorization",
        "domain": domain_of(token),
        "message": {"authorizer": to_checksum_address(authorizer), "nonce": nonce},
    }
    return sign_typed(typed, key)


@dataclass(frozen=True)
class Authorization:
    """One ``TransferWithAuthorization`` of ``value`` from ``payer`` to ``to`` on ``token``."""

    token: Any  # the token's web3 contract (its domain is read from it)
    payer: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: bytes

    @classmethod
    def new(cls, token, *, payer: str, to: str, value: int, now: int, ttl: int = 300):
        """A fresh authorization (a random 32-byte nonce), valid from before ``now`` for ``ttl``."""
        return cls(
            token=token,
            payer=to_checksum_address(payer),
            to=to_checksum_address(to),
            value=value,
            valid_after=now - 60,
            valid_before=now + ttl,
            nonce=os.urandom(32),
        )

    def but(self, **changes) -> Authorization:
        return replace(self, **changes)

    def typed_data(self, primary_type: str = TRANSFER) -> dict:
        """The EIP-712 message (``TRANSFER`` or ``RECEIVE``) in the token's own domain."""
        return {
            "types": {primary_type: AUTHORIZATION_FIELDS},
            "primaryType": primary_type,
            "domain": domain_of(self.token),
            "message": {
                "from": self.payer,
                "to": self.to,
                "value": self.value,
                "validAfter": self.valid_after,
                "validBefore": self.valid_before,
                "nonce": self.nonce,
            },
        }

    def sign(self, key, primary_type: str = TRANSFER) -> bytes:
        """The 65-byte signature of the typed data by ``key`` (the payer's, or its wallet
        owner's)."""
        return sign_typed(self.typed_data(primary_type), key)

    def token_args(self, signature: bytes) -> tuple:
        """The token's bytes-signature ``transferWithAuthorization`` arguments."""
        return (
            self.payer,
            self.to,
            self.value,
            self.valid_after,
            self.valid_before,
            self.nonce,
            signature,
        )

    def settle_args(self, model_id: bytes, signature: bytes, receipt_id: bytes) -> tuple:
        """``PayPerCall.settle(modelId, token, from, value, validAfter, validBefore, nonce,
        signature, receiptId)``."""
        return (
            model_id,
            self.token.address,
            self.payer,
            self.value,
            self.valid_after,
            self.valid_before,
            self.nonce,
            signature,
            receipt_id,
        )
