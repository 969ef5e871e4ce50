// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.26;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title TestUSD3009
/// @notice Test and local-demo only: an ERC-20 with EIP-3009 transfers by signed authorization
///         (OpenZeppelin 5.7's ERC3009: random 32-byte nonces), shaped like USDC v2.2: 6
///         decimals, EIP-712 domain "Test USD Coin" version "2". ANYONE MAY MINT: never deploy it
///         on a network where it could be mistaken for money (`deploy_contracts` deploys it on
///         the local anvil, chain id 31337, only).
/// @dev OpenZeppelin's ERC3009 takes (v, r, s) and so accepts only EOA signatures. The
///      overloads here take `bytes signature` and check it with `SignatureChecker`, so an
///      EIP-1271 contract wallet can pay too (USDC v2.2 does the same): an account with code is
///      asked `isValidSignature(digest, signature)`, any other is recovered with ECDSA. The
///      digest is the EIP-712 hash of the same typed data in either form.
contract TestUSD3009 is ERC3009 {
    constructor() ERC20("Test USD Coin", "TUSDC") EIP712("Test USD Coin", "2") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mint test dollars to anyone, by anyone (see the contract's notice).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice `transferWithAuthorization` with the signature as bytes (EOA or EIP-1271).
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) public {
        bytes32 structHash = keccak256(
            abi.encode(
                TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce
            )
        );
        _requireSigned(from, structHash, signature);
        _transferWithAuthorization(from, to, value, validAfter, validBefore, nonce);
    }

    /// @notice `receiveWithAuthorization` with the signature as bytes: only `to` may call it.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) public {
        bytes32 structHash = keccak256(
            abi.encode(
                RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce
            )
        );
        _requireSigned(from, structHash, signature);
        require(to == _msgSender(), ERC20InvalidReceiver(to));
        _transferWithAuthorization(from, to, value, validAfter, validBefore, nonce);
    }

    /// @notice `cancelAuthorization` with the signature as bytes (EOA or EIP-1271).
    function cancelAuthorization(address authorizer, bytes32 nonce, bytes memory signature) public {
        bytes32 structHash = keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce));
        _requireSigned(authorizer, structHash, signature);
        _cancelAuthorization(authorizer, nonce);
    }

    function _requireSigned(address signer, bytes32 structHash, bytes memory signature)
        private
        view
    {
        bytes32 digest = _hashTypedDataV4(structHash);
        require(
            SignatureChecker.isValidSignatureNow(signer, digest, signature),
            ERC3009InvalidSignature()
        );
    }
}
