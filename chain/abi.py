"""Compiled contracts: load the committed artifacts, decode reverts.

The artifacts in ``chain/artifacts/`` are written by ``make contracts`` (``chain/compile.mjs``)
and checked against the sources by ``make contracts-check``. This module only reads them; it
needs no compiler and imports no other app of ours. Deploying them is ``chain.plan``'s order,
sent through the outbox by ``chain.deploy`` (node-signed deploys for tests and benches are in
``chain.testing.contracts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"

# The deployable contracts, by artifact name (the test-only ones: chain.testing.contracts).
REGISTRY = "ModelRegistry"
LICENSE_TOKEN = "LicenseToken"  # noqa: S105 - a contract name, not a secret
REVENUE_VAULT = "RevenueVault"
PAY_PER_CALL = "PayPerCall"
MODEL_GOVERNOR = "ModelGovernor"
CONTRACTS = (REGISTRY, REVENUE_VAULT, LICENSE_TOKEN, PAY_PER_CALL, MODEL_GOVERNOR)
# The test-only EIP-3009 token (chain/contracts/test/): the plan deploys it on the local anvil
# only, for the demo's agents to pay with; the sync does not index it (it is not ours to index
# on any real network, where the portal takes real tokens).
TEST_USD3009 = "TestUSD3009"
LOCAL_ONLY_CONTRACTS = (TEST_USD3009,)

# Role ids as the contracts define them (keccak256 of the name; the admin role is zero).
DEFAULT_ADMIN_ROLE = b"\x00" * 32
REGISTRAR_ROLE = Web3.keccak(text="REGISTRAR_ROLE")
PUBLISHER_ROLE = Web3.keccak(text="PUBLISHER_ROLE")
METER_ROLE = Web3.keccak(text="METER_ROLE")
DEPOSITOR_ROLE = Web3.keccak(text="DEPOSITOR_ROLE")
SPLIT_MANAGER_ROLE = Web3.keccak(text="SPLIT_MANAGER_ROLE")
SETTLER_ROLE = Web3.keccak(text="SETTLER_ROLE")
GOVERNOR_ROLE = Web3.keccak(text="GOVERNOR_ROLE")
BOUNDS_ROLE = Web3.keccak(text="BOUNDS_ROLE")
TALLIER_ROLE = Web3.keccak(text="TALLIER_ROLE")

NATIVE = "0x0000000000000000000000000000000000000000"  # the `currency` of the native coin


@dataclass(frozen=True)
class Artifact:
    name: str
    source_name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    compiler: dict[str, Any] = field(repr=False)
    sources_sha256: str = ""

    @property
    def deployed_code_hash(self) -> str:
        """keccak256 of the runtime bytecode, as ``eth_getCode`` would return it (0x-hex).

        Contracts with immutables differ from this on chain (their values are patched in).
        """
        return Web3.keccak(hexstr=self.deployed_bytecode).to_0x_hex()


class ArtifactNotFound(LookupError):
    pass


def artifact_names() -> list[str]:
    return sorted(path.stem for path in ARTIFACTS_DIR.glob("*.json"))


@cache
def load_artifact(name: str) -> Artifact:
    """The committed artifact ``chain/artifacts/<name>.json``."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file() or path.parent != ARTIFACTS_DIR:
        raise ArtifactNotFound(f"no artifact {name!r} in {ARTIFACTS_DIR} (run `make contracts`)")
    data = json.loads(path.read_text(encoding="utf-8"))
    return Artifact(
        name=data["contractName"],
        source_name=data["sourceName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler=data["compiler"],
        sources_sha256=data["sourcesSha256"],
    )


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for artifact ``name`` at ``address``."""
    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)


# --- Reverts ----------------------------------------------------------------------------
ERROR_STRING_SELECTOR = function_signature_to_4byte_selector("Error(string)")
PANIC_SELECTOR = function_signature_to_4byte_selector("Panic(uint256)")
PANIC_CODES = {
    0x00: "generic compiler panic",
    0x01: "assert failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x22: "bad storage byte array encoding",
    0x31: "pop on an empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
    0x51: "call to an uninitialised function",
}


@dataclass(frozen=True)
class DecodedRevert:
    """A revert reason: a custom error by name with its arguments, ``Error(string)``,
    ``Panic(uint256)``, an unknown selector, or an empty revert (``name == ""``)."""

    name: str
    args: dict[str, Any]
    selector: str  # 0x + 8 hex digits, "" when the revert carried no data
    data: str  # the raw revert data, 0x-hex
    known: bool = True

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.args)})" if self.name else ""

    def __str__(self) -> str:
        if not self.known:
            return f"unknown error {self.selector}"
        if not self.name:
            return "reverted without a reason"
        inner = ", ".join(f"{key}={_show(value)}" for key, value in self.args.items())
        return f"{self.name}({inner})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(item) for item in value) + "]"
    return str(value)


def _abi_type(item: dict[str, Any]) -> str:
    kind = item["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(component) for component in item["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@lru_cache(maxsize=1)
def _error_index() -> dict[bytes, tuple[str, list[dict[str, Any]]]]:
    """4-byte selector -> (error name, inputs), from every artifact's ABI."""
    index: dict[bytes, tuple[str, list[dict[str, Any]]]] = {}
    for artifact_name in artifact_names():
        for item in load_artifact(artifact_name).abi:
            if item.get("type") != "error":
                continue
            types = ",".join(_abi_type(arg) for arg in item["inputs"])
            selector = function_signature_to_4byte_selector(f"{item['name']}({types})")
            index.setdefault(selector, (item["name"], item["inputs"]))
    return index


def revert_data(error: Any) -> bytes | None:
    """The revert data carried by a web3 exception (or given as bytes / 0x-hex), else None."""
    if isinstance(error, bytes | bytearray | memoryview):
        return bytes(error)
    if isinstance(error, str):
        return bytes(HexBytes(error)) if error.startswith("0x") else None
    value = getattr(error, "data", None)  # web3's ContractLogicError / ContractCustomError
    if isinstance(value, str) and value.startswith("0x"):
        return bytes(HexBytes(value))
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, dict) and isinstance(value.get("data"), str):
        return bytes(HexBytes(value["data"]))
    for arg in getattr(error, "args", ()):
        if isinstance(arg, dict):
            data = arg.get("data")
            if isinstance(data, str) and data.startswith("0x"):
                return bytes(HexBytes(data))
            if isinstance(data, dict) and isinstance(data.get("data"), str):
                return bytes(HexBytes(data["data"]))
    return None


def decode_revert(error: Any) -> DecodedRevert:
    """Decode a revert: ``error`` is revert data (bytes or 0x-hex) or a web3 exception.

    Custom errors of every artifact in chain/artifacts (OpenZeppelin's included, e.g.
    ``AccessControlUnauthorizedAccount``) are decoded by name with named arguments (bytes as
    ``bytes``, addresses checksummed); ``Error(string)`` gives ``{"message": ...}`` and
    ``Panic(uint256)`` gives ``{"code": ..., "meaning": ...}``. Raises ``ValueError`` when
    ``error`` carries no revert data at all (e.g. a connection error).
    """
    data = revert_data(error)
    if data is None:
        raise ValueError(f"no revert data in {error!r}")
    raw = "0x" + data.hex()
    if not data:
        return DecodedRevert(name="", args={}, selector="", data=raw)
    selector, payload = data[:4], data[4:]
    hex_selector = "0x" + selector.hex()
    try:
        if selector == ERROR_STRING_SELECTOR:
            (message,) = abi_decode(["string"], payload)
            return DecodedRevert("Error", {"message": message}, hex_selector, raw)
        if selector == PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], payload)
            meaning = PANIC_CODES.get(code, "unknown panic code")
            return DecodedRevert("Panic", {"code": code, "meaning": meaning}, hex_selector, raw)
        found = _error_index().get(selector)
        if found is not None:
            name, inputs = found
            values = abi_decode([_abi_type(arg) for arg in inputs], payload)
            args = {
                (arg["name"] or f"arg{i}"): _normalise(arg["type"], value)
                for i, (arg, value) in enumerate(zip(inputs, values, strict=True))
            }
            return DecodedRevert(name, args, hex_selector, raw)
    except Exception:  # noqa: S110 - malformed payload: report the selector as unknown
        pass
    return DecodedRevert(name="", args={}, selector=hex_selector, data=raw, known=False)


def _normalise(abi_type: str, value: Any) -> Any:
    if abi_type == "address":
        return to_checksum_address(value)
    return value
