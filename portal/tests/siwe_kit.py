"""Sign-In with Ethereum from a test: a wallet (a fresh key), the portal's challenge, the
message signed, and the verify call, each step open to tampering."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from siwe import SiweMessage
from siwe.siwe import ISO8601Datetime

NONCE_URL = "/api/auth/siwe/nonce"
VERIFY_URL = "/api/auth/siwe/verify"


def iso(moment: datetime) -> str:
    return ISO8601Datetime.from_datetime(moment.astimezone(UTC))


@dataclass
class Wallet:
    """A key of this test run (never a secret: made and thrown away by the test)."""

    account: object = field(default_factory=Account.create)

    @property
    def address(self) -> str:
        return self.account.address

    def sign(self, message: str) -> str:
        return "0x" + self.account.sign_message(encode_defunct(text=message)).signature.hex()


def challenge(client, chain_id: int, address: str | None = None):
    body = {"chain_id": chain_id}
    if address is not None:
        body["address"] = address
    return client.post(NONCE_URL, body, content_type="application/json")


def message_from(fields: dict, address: str, **changes) -> str:
    """The EIP-4361 message of a challenge's ``fields``, with ``changes`` to any field."""
    values = {
        "scheme": fields["scheme"],
        "domain": fields["domain"],
        "address": address,
        "statement": fields["statement"],
        "uri": fields["uri"],
        "version": "1",
        "chain_id": fields["chain_id"],
        "nonce": fields["nonce"],
        "issued_at": fields["issued_at"],
        "expiration_time": fields["expiration_time"],
    }
    values.update(changes)
    values = {key: value for key, value in values.items() if value is not None}
    return SiweMessage(**values).prepare_message()


def verify(client, message: str, signature: str, **extra):
    body = {"message": message, "signature": signature, **extra}
    return client.post(VERIFY_URL, body, content_type="application/json")


def sign_in(client, wallet: Wallet, chain_id: int, **extra):
    """The whole flow; returns the verify response."""
    fields = challenge(client, chain_id, wallet.address).json()
    return verify(client, fields["message"], wallet.sign(fields["message"]), **extra)
