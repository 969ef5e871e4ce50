// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @notice What PayPerCall calls on an EIP-3009 token: USDC v2.2's overload that takes the
///         signature as bytes (an EOA's 65 bytes, or whatever an EIP-1271 wallet accepts), and
///         the nonce state every EIP-3009 token has.
interface IERC3009Bytes {
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) external;

    /// @notice Whether `authorizer` used (or cancelled) `nonce`.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);
}
