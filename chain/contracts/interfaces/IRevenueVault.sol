// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @notice What LicenseToken calls on RevenueVault.
interface IRevenueVault {
    /// @notice Credit `amount` of `currency` (address(0) = native coin) paid for `modelId`.
    ///         Native: sent as msg.value. ERC-20: already transferred to the vault.
    function deposit(bytes32 modelId, address currency, uint256 amount) external payable;

    /// @notice Shares of `modelId` moved (mint: from = 0; burn: to = 0). Called by the share
    ///         token after balances changed, so per-share accounting follows the holders.
    function onSharesMoved(bytes32 modelId, address from, address to, uint256 amount) external;
}
