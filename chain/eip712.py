"""The EIP-712 pieces the portal hashes itself, on its hot paths (x402 verification, governance
tallies): the domain separator of a ``(name, version, chainId, verifyingContract)`` domain and
the digest a wallet signs. Everything else about typed data stays with eth_account."""

from __future__ import annotations

from functools import lru_cache

from eth_abi import encode as abi_encode
from eth_hash.auto import keccak

DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)


@lru_cache(maxsize=512)
def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    """The domain's ``hashStruct`` (what OpenZeppelin's ``EIP712._domainSeparatorV4`` is)."""
    return keccak(
        abi_encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH,
                keccak(name.encode()),
                keccak(version.encode()),
                chain_id,
                verifying_contract,
            ],
        )
    )


def digest(separator: bytes, struct_hash: bytes) -> bytes:
    """``keccak256("\\x19\\x01" ‖ domainSeparator ‖ hashStruct(message))``: what is signed."""
    return keccak(b"\x19\x01" + separator + struct_hash)
