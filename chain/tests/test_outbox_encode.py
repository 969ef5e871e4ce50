"""The outbox's calldata: eth_abi directly for plain functions (elementary types and arrays of
them), web3 for the rest; both must give the same bytes, and what web3 refuses is refused."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from web3 import Web3
from web3.exceptions import Web3Exception

from chain import abi
from chain.services import _encode, _encode_plain

ALICE = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"  # anvil #1
BOB = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"  # anvil #2
MODEL = "0x" + "ab" * 32

CALLS = [
    ("RevenueVault", "configurePayees", [MODEL, [ALICE, BOB], [1000, 500]]),
    ("RevenueVault", "setPlatform", [ALICE, 250]),
    ("RevenueVault", "withdraw", [BOB]),
    ("LicenseToken", "extend", [ALICE, 7, 2**63]),
    ("LicenseToken", "revoke", [ALICE, 7, bytes(32)]),
    ("LicenseToken", "setURI", ["ipfs://x/{id}.json"]),
    ("LicenseToken", "pause", []),
    (
        "PayPerCall",
        "settle",
        [MODEL, BOB, ALICE, 10**6, 0, 2**40, "0x" + "01" * 32, "0x" + "ee" * 65, "0x" + "02" * 32],
    ),
]


def _web3(name: str, function: str, args: list) -> str:
    contract = Web3().eth.contract(abi=abi.load_artifact(name).abi)
    return contract.encode_abi(function, args=args)


@pytest.mark.parametrize(("name", "function", "args"), CALLS, ids=[c[1] for c in CALLS])
def test_the_calldata_is_what_web3_encodes(name, function, args):
    sources = abi.load_artifact(name).sources_sha256
    assert _encode_plain(name, sources, function, args) is not None  # eth_abi's own path
    assert _encode(name, function, args) == _web3(name, function, args)


@pytest.mark.parametrize(
    "args",
    [
        [ALICE.lower(), 7, 1],  # web3 takes only checksummed addresses
        [ALICE, -1, 1],  # a negative uint
        [ALICE, 7, 2**64],  # past uint64
        [ALICE, "7", 1],  # a string for a uint
        [ALICE, True, 1],  # a bool for a uint
        [ALICE, 7],  # an argument short
    ],
)
def test_what_web3_refuses_is_refused(args):
    with pytest.raises(Web3Exception):
        _web3("LicenseToken", "extend", args)
    with pytest.raises(ValidationError, match=r"cannot encode LicenseToken\.extend"):
        _encode("LicenseToken", "extend", args)


def test_a_short_bytes32_is_refused_like_web3_does():
    with pytest.raises(ValidationError):
        _encode("LicenseToken", "revoke", [ALICE, 7, b"short"])
