// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @notice What RevenueVault reads from LicenseToken: a model's share token and balances.
interface IShareSource {
    /// @return tokenId The model's SHARES offer id (0 when it has none).
    /// @return supply Shares in existence (0 until the cap table is minted).
    function shareInfo(bytes32 modelId) external view returns (uint256 tokenId, uint256 supply);

    function balanceOf(address account, uint256 id) external view returns (uint256);
}
