// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @notice What RevenueVault needs from ModelRegistry: who publishes a model.
interface IPublisherRegistry {
    /// @return The model's publisher, or address(0) when the model is not registered.
    function publisherOf(bytes32 modelId) external view returns (address);
}
