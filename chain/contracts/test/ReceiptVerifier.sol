// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title ReceiptVerifier
/// @notice Test only: checks a usage receipt against a settlement root the way a contract
///         would, with OpenZeppelin's MerkleProof and the StandardMerkleTree leaf
///         keccak256(bytes.concat(keccak256(abi.encode(...)))) (licensing/merkle.py).
contract ReceiptVerifier {
    function leafOf(
        bytes32 receiptId,
        address holder,
        uint256 tokenId,
        uint256 units,
        uint64 timestamp,
        bytes32 inputHash
    ) public pure returns (bytes32) {
        return keccak256(
            bytes.concat(keccak256(abi.encode(receiptId, holder, tokenId, units, timestamp, inputHash)))
        );
    }

    function verify(
        bytes32[] calldata proof,
        bytes32 root,
        bytes32 receiptId,
        address holder,
        uint256 tokenId,
        uint256 units,
        uint64 timestamp,
        bytes32 inputHash
    ) external pure returns (bool) {
        bytes32 leaf = leafOf(receiptId, holder, tokenId, units, timestamp, inputHash);
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }
}
