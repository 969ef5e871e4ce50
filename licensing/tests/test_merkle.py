"""``licensing.merkle`` against npm ``@openzeppelin/merkle-tree``: the same roots, proofs and
dumps for several sizes, our dump loaded by the npm library, and what a bad proof or dump gives."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from chain.testing.required import require_service
from licensing.merkle import MerkleError, StandardMerkleTree, leaf_hash

SCRIPT = Path(__file__).with_name("merkle_reference.js")
ROOT = Path(__file__).resolve().parents[2]
LEAF = ["bytes32", "address", "uint256", "uint256", "uint64", "bytes32"]


def _values(n: int) -> list[list]:
    """``n`` receipt-like leaves, with big and small numbers (and a repeated holder)."""
    holders = ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x" + "ab" * 20]
    return [
        [
            "0x" + f"{i + 1:064x}",
            holders[i % 2],
            str(i % 3 + 4),
            str(10**30 + i if i % 5 == 0 else i + 1),
            str(1_700_000_000 + i),
            "0x" + bytes([i % 256]).hex() * 32,
        ]
        for i in range(n)
    ]


def _node(payload: dict) -> dict:
    node = shutil.which("node")
    require_service(node is not None, "node is not installed")
    require_service(
        (ROOT / "node_modules/@openzeppelin/merkle-tree").is_dir(),
        "npm ci installs @openzeppelin/merkle-tree",
    )
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 100])
def test_root_proofs_and_dump_equal_the_npm_library(size):
    # given
    values = _values(size)
    tree = StandardMerkleTree.of(values, LEAF)
    # when
    reference = _node({"leafEncoding": LEAF, "values": values, "dump": tree.dump()})
    # then: the npm tree of the same values is ours, node for node
    built = reference["built"]
    assert built["root"] == tree.root
    assert built["dump"] == tree.dump()
    assert built["proofs"] == [tree.get_proof(i) for i in range(size)]
    # and our dump loads in the npm library with the same root and proofs, which it verifies
    assert reference["loaded"]["root"] == tree.root
    assert reference["loaded"]["proofs"] == built["proofs"]
    assert all(reference["loaded"]["verified"])
    for i, value in enumerate(values):
        assert StandardMerkleTree.verify(tree.root, LEAF, value, tree.get_proof(i))


def test_npm_dump_loads_here():
    values = _values(7)
    dump = _node({"leafEncoding": LEAF, "values": values})["built"]["dump"]
    loaded = StandardMerkleTree.load(dump)
    assert loaded.root == StandardMerkleTree.of(values, LEAF).root


def test_a_changed_value_or_proof_does_not_verify():
    values = _values(7)
    tree = StandardMerkleTree.of(values, LEAF)
    proof = tree.get_proof(3)
    tampered = list(values[3])
    tampered[3] = str(int(tampered[3]) + 1)
    assert not StandardMerkleTree.verify(tree.root, LEAF, tampered, proof)
    assert not StandardMerkleTree.verify(tree.root, LEAF, values[3], proof[:-1])
    assert not StandardMerkleTree.verify(tree.root, LEAF, values[3], tree.get_proof(4))


def test_a_single_leaf_is_its_own_root():
    tree = StandardMerkleTree.of(_values(1), LEAF)
    assert tree.get_proof(0) == []
    assert tree.root == "0x" + leaf_hash(LEAF, _values(1)[0]).hex()


def test_bad_input_is_refused():
    with pytest.raises(MerkleError):
        StandardMerkleTree.of([], LEAF)
    with pytest.raises(MerkleError):
        StandardMerkleTree.of([["0x01"]], LEAF)  # too few values
    dump = StandardMerkleTree.of(_values(3), LEAF).dump()
    with pytest.raises(MerkleError, match="format"):
        StandardMerkleTree.load({**dump, "format": "simple-v1"})
    dump["values"][0]["value"][3] = "999"
    with pytest.raises(MerkleError, match="expected value"):
        StandardMerkleTree.load(dump)
