"""OpenZeppelin's ``StandardMerkleTree`` (npm ``@openzeppelin/merkle-tree`` 1.0.8) in Python.

The same tree, byte for byte, so that Solidity's ``MerkleProof.verify`` and the npm library
accept our roots, proofs and dumps (``licensing/tests/test_merkle.py`` cross-checks with node):

- a leaf is ``keccak256(keccak256(abi.encode(types, values)))`` (hashed twice, so no leaf can be
  read as an inner node of 64 bytes);
- an inner node is ``keccak256(a ++ b)`` of its two children sorted as numbers (commutative,
  which is what ``MerkleProof`` assumes, so a proof needs no left/right flags);
- the leaf hashes are sorted (ascending, as numbers) and laid out as a complete binary tree in
  one array: ``n`` leaves fill indices ``2n-2`` down to ``n-1`` (the first sorted leaf last),
  inner node ``i`` has children ``2i+1`` and ``2i+2``, the root is index 0;
- a proof is the siblings on the way from a leaf to the root;
- the dump is ``{"format": "standard-v1", "leafEncoding": [...], "tree": [...], "values":
  [{"value": [...], "treeIndex": i}, ...]}`` with values in their input order; numbers are
  written as decimal strings (the npm library refuses JavaScript numbers as leaf values),
  bytes as ``0x`` lower-case hex, addresses as given (checked).

Only elementary ABI types are supported as leaf fields (``uintN``, ``intN``, ``address``,
``bool``, ``bytesN``, ``bytes``, ``string``): that is all a usage receipt needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

FORMAT = "standard-v1"


class MerkleError(ValueError):
    """A tree, value or dump that is not valid."""


def _to_bytes(value: str | bytes) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if not isinstance(value, str) or not value.startswith("0x"):
        raise MerkleError(f"expected 0x-prefixed hex, got {value!r}")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise MerkleError(f"not hex: {value!r}") from None


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _abi_value(kind: str, value: Any) -> Any:
    """A leaf field as eth_abi encodes it (from Python values or the dump's JSON values)."""
    if kind.startswith(("uint", "int")):
        if isinstance(value, bool):
            raise MerkleError(f"{kind} value is a bool: {value!r}")
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError:
                raise MerkleError(f"{kind} value is not a number: {value!r}") from None
        if not isinstance(value, int):
            raise MerkleError(f"{kind} value is not an integer: {value!r}")
        return value
    if kind == "address":
        return to_checksum_address(value)
    if kind.startswith("bytes"):
        return _to_bytes(value)
    if kind in ("bool", "string"):
        return value
    raise MerkleError(f"unsupported leaf type {kind!r}")


def _json_value(kind: str, value: Any) -> Any:
    """A leaf field as the dump writes it (an address as given, like the npm library)."""
    checked = _abi_value(kind, value)
    if kind == "address":
        return value
    value = checked
    if kind.startswith(("uint", "int")):
        return str(value)
    if kind.startswith("bytes"):
        return _hex(value)
    return value


def leaf_hash(leaf_encoding: Sequence[str], value: Sequence[Any]) -> bytes:
    """``keccak256(keccak256(abi.encode(types, values)))``."""
    if len(leaf_encoding) != len(value):
        raise MerkleError(f"{len(value)} values for {len(leaf_encoding)} types")
    encoded = abi_encode(
        list(leaf_encoding), [_abi_value(t, v) for t, v in zip(leaf_encoding, value, strict=True)]
    )
    return keccak(keccak(encoded))


def node_hash(a: bytes, b: bytes) -> bytes:
    """keccak256 of the two children, the smaller first (OpenZeppelin's ``_hashPair``)."""
    return keccak(a + b if a <= b else b + a)


def process_proof(leaf: bytes, proof: Sequence[str | bytes]) -> bytes:
    """The root a leaf hash and its proof lead to."""
    computed = leaf
    for sibling in proof:
        node = _to_bytes(sibling)
        if len(node) != 32:
            raise MerkleError("a proof's nodes are 32 bytes")
        computed = node_hash(computed, node)
    return computed


@dataclass(frozen=True)
class StandardMerkleTree:
    """A built tree: its nodes (``tree[0]`` the root), each value with its index in the tree."""

    tree: tuple[bytes, ...]
    values: tuple[tuple[tuple[Any, ...], int], ...]  # (value as JSON writes it, tree index)
    leaf_encoding: tuple[str, ...]

    @classmethod
    def of(
        cls, values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str]
    ) -> StandardMerkleTree:
        """The tree of ``values`` (each a sequence matching ``leaf_encoding``), leaves sorted."""
        if not values:
            raise MerkleError("Expected non-zero number of leaves")
        encoding = tuple(leaf_encoding)
        hashed = [(leaf_hash(encoding, value), i) for i, value in enumerate(values)]
        hashed.sort(key=lambda item: item[0])  # big-endian bytes of one length sort as numbers
        n = len(hashed)
        tree: list[bytes] = [b""] * (2 * n - 1)
        tree_index = [0] * n
        for position, (digest, value_index) in enumerate(hashed):
            tree[len(tree) - 1 - position] = digest
            tree_index[value_index] = len(tree) - 1 - position
        for i in range(len(tree) - 1 - n, -1, -1):
            tree[i] = node_hash(tree[2 * i + 1], tree[2 * i + 2])
        json_values = tuple(
            (tuple(_json_value(t, v) for t, v in zip(encoding, value, strict=True)), tree_index[i])
            for i, value in enumerate(values)
        )
        return cls(tree=tuple(tree), values=json_values, leaf_encoding=encoding)

    @classmethod
    def load(cls, data: dict, *, validate: bool = True) -> StandardMerkleTree:
        """A tree from its dump (npm's ``StandardMerkleTree.dump()`` or ours), validated unless
        ``validate`` is false (a dump we stored ourselves: ``get_proof`` still checks the leaf
        it proves and the proof it gives)."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else data
            raise MerkleError(f"Unknown format {found!r}")
        if "leafEncoding" not in data:
            raise MerkleError("Expected leaf encoding")
        try:
            tree = tuple(_to_bytes(node) for node in data["tree"])
            values = tuple(
                (tuple(item["value"]), int(item["treeIndex"])) for item in data["values"]
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MerkleError(f"malformed dump: {exc}") from None
        loaded = cls(tree=tree, values=values, leaf_encoding=tuple(data["leafEncoding"]))
        if validate:
            loaded.validate()
        return loaded

    @property
    def root(self) -> str:
        return _hex(self.tree[0])

    def __len__(self) -> int:
        return len(self.values)

    def validate(self) -> None:
        """Every value is at its leaf and every inner node is the hash of its children."""
        if not self.tree:
            raise MerkleError("Expected non-zero number of nodes")
        for i in range(len(self.values)):
            self._check_value(i)
        size = len(self.tree)
        for i, node in enumerate(self.tree):
            if len(node) != 32:
                raise MerkleError("Merkle tree nodes must be 32 bytes")
            left, right = 2 * i + 1, 2 * i + 2
            if right >= size:
                if left < size:
                    raise MerkleError("Merkle tree is invalid")
            elif node != node_hash(self.tree[left], self.tree[right]):
                raise MerkleError("Merkle tree is invalid")

    def _check_value(self, index: int) -> int:
        if not 0 <= index < len(self.values):
            raise MerkleError("Index out of bounds")
        value, tree_index = self.values[index]
        if not 0 <= tree_index < len(self.tree) or 2 * tree_index + 1 < len(self.tree):
            raise MerkleError("Index is not a leaf")
        if self.tree[tree_index] != leaf_hash(self.leaf_encoding, value):
            raise MerkleError("Merkle tree does not contain the expected value")
        return tree_index

    def leaf(self, index: int) -> str:
        """The leaf hash of the value at ``index`` (input order)."""
        return _hex(self.tree[self._check_value(index)])

    def get_proof(self, index: int) -> list[str]:
        """The proof of the value at ``index`` (input order): siblings, leaf to root."""
        position = self._check_value(index)
        proof = []
        while position > 0:
            sibling = position - 1 if position % 2 == 0 else position + 1
            proof.append(_hex(self.tree[sibling]))
            position = (position - 1) // 2
        if process_proof(self.tree[self._check_value(index)], proof) != self.tree[0]:
            raise MerkleError("Unable to prove value")
        return proof

    def dump(self) -> dict:
        return {
            "format": FORMAT,
            "leafEncoding": list(self.leaf_encoding),
            "tree": [_hex(node) for node in self.tree],
            "values": [{"value": list(value), "treeIndex": index} for value, index in self.values],
        }

    @staticmethod
    def verify(
        root: str | bytes,
        leaf_encoding: Sequence[str],
        value: Sequence[Any],
        proof: Sequence[str | bytes],
    ) -> bool:
        """Whether ``value`` with ``proof`` leads to ``root``."""
        return process_proof(leaf_hash(leaf_encoding, value), proof) == _to_bytes(root)
