"""The committed artifacts match the sources, and the Python loader reads them."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from chain import abi
from chain.testing import contracts
from chain.testing.required import require_service

CHAIN_DIR = Path(abi.__file__).resolve().parent
ROOT = CHAIN_DIR.parent
NODE_MODULES = ROOT / "node_modules"
NODE = shutil.which("node")


def _require_compiler() -> None:
    require_service(
        NODE is not None and (NODE_MODULES / "solc").is_dir(),
        "node and npm's solc are needed to recompile (npm ci)",
    )


def _run_compile(chain_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [NODE, str(chain_dir / "compile.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _json_files(directory: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in directory.glob("*.json")}


def test_committed_artifacts_match_a_fresh_compile(tmp_path):
    _require_compiler()
    result = _run_compile(CHAIN_DIR, "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    fresh = _json_files(tmp_path)
    committed = _json_files(abi.ARTIFACTS_DIR)
    assert sorted(fresh) == sorted(committed), "artifacts added or removed: run `make contracts`"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale artifacts {stale}: run `make contracts` and commit chain/artifacts"


def test_check_fails_when_a_source_changes(tmp_path):
    """``compile.mjs --check`` must catch an edited source (run on a copy of chain/)."""
    _require_compiler()
    copy = tmp_path / "chain"
    copy.mkdir()
    shutil.copy2(CHAIN_DIR / "compile.mjs", copy / "compile.mjs")
    shutil.copytree(CHAIN_DIR / "contracts", copy / "contracts")
    shutil.copytree(abi.ARTIFACTS_DIR, copy / "artifacts")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)

    registry = copy / "contracts" / "ModelRegistry.sol"
    registry.write_text(
        registry.read_text().replace("versionCount += 1;", "versionCount += 2;"), "utf-8"
    )
    (copy / "artifacts" / "Leftover.json").write_text("{}\n")

    result = _run_compile(copy, "--check")
    assert result.returncode == 1, result.stderr
    assert "differs: chain/artifacts/ModelRegistry.json" in result.stderr
    assert "stale (no source): chain/artifacts/Leftover.json" in result.stderr
    assert "LicenseToken.json" not in result.stderr  # its sources did not change


def test_artifacts_record_pinned_settings_and_source_hashes():
    names = abi.artifact_names()
    assert set(abi.CONTRACTS) | set(contracts.TEST_CONTRACTS) <= set(names)
    for name in names:
        data = json.loads((abi.ARTIFACTS_DIR / f"{name}.json").read_text())
        assert data["contractName"] == name
        assert data["sourceName"].startswith("contracts/")
        settings = data["compiler"]["settings"]
        assert data["compiler"]["version"].startswith("0.8.37+commit.")
        assert settings["evmVersion"] == "cancun"
        assert settings["optimizer"] == {"enabled": True, "runs": 200}
        assert data["bytecode"].startswith("0x6")
        assert data["deployedBytecode"].startswith("0x6")
        # The recorded hash covers exactly the sources on disk (ours and OpenZeppelin's).
        digest = hashlib.sha256()
        for source in data["sources"]:
            base = CHAIN_DIR if source.startswith("contracts/") else NODE_MODULES
            text_hash = hashlib.sha256((base / source).read_bytes()).hexdigest()
            digest.update(f"{source}\0{text_hash}\n".encode())
        assert data["sourcesSha256"] == digest.hexdigest(), f"{name}: sources changed"


def test_load_artifact():
    token = abi.load_artifact(abi.LICENSE_TOKEN)
    assert token.name == "LicenseToken"
    assert token.source_name == "contracts/LicenseToken.sol"
    functions = {item["name"] for item in token.abi if item["type"] == "function"}
    assert {"purchase", "configureOffer", "expiresAt", "isValid", "burnCredits"} <= functions
    assert token.deployed_code_hash.startswith("0x")
    assert len(token.deployed_code_hash) == 66
    with pytest.raises(abi.ArtifactNotFound):
        abi.load_artifact("NoSuchContract")
    with pytest.raises(abi.ArtifactNotFound):
        abi.load_artifact("../artifacts/LicenseToken")


def _error(signature: str, types: list[str], values: list) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def test_decode_revert_custom_errors_strings_panics_and_unknown():
    account = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    role = abi.PUBLISHER_ROLE
    data = _error(
        "AccessControlUnauthorizedAccount(address,bytes32)", ["address", "bytes32"], [account, role]
    )
    decoded = abi.decode_revert(data)
    assert decoded.name == "AccessControlUnauthorizedAccount"
    assert decoded.args == {"account": account, "neededRole": bytes(role)}
    assert decoded.known
    assert decoded.selector == "0x" + data[:4].hex()
    assert str(decoded).startswith("AccessControlUnauthorizedAccount(account=0x7099")

    hex_data = (
        "0x" + _error("PriceAboveMax(uint256,uint256,uint256)", ["uint256"] * 3, [7, 5, 4]).hex()
    )
    assert abi.decode_revert(hex_data).args == {"id": 7, "price": 5, "maxPrice": 4}

    message = abi.decode_revert(_error("Error(string)", ["string"], ["nope"]))
    assert (message.name, message.args) == ("Error", {"message": "nope"})
    panic = abi.decode_revert(_error("Panic(uint256)", ["uint256"], [0x11]))
    assert panic.args == {"code": 0x11, "meaning": "arithmetic overflow or underflow"}

    unknown = abi.decode_revert(bytes.fromhex("deadbeef") + b"\x00" * 32)
    assert not unknown.known
    assert unknown.selector == "0xdeadbeef"
    assert str(unknown) == "unknown error 0xdeadbeef"
    empty = abi.decode_revert(b"")
    assert empty.name == ""
    assert str(empty) == "reverted without a reason"
    with pytest.raises(ValueError, match="no revert data"):
        abi.decode_revert(ConnectionError("down"))
