// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IPublisherRegistry} from "./interfaces/IPublisherRegistry.sol";

/// @title ModelRegistry
/// @notice Model ids (bytes32) with their publisher and metadata URI, and the sha256 of each
///         published version's artifact. Only REGISTRAR_ROLE writes; every change is an event.
/// @dev A version's artifact hash is write-once: a published version cannot be re-pointed at
///      other bytes. Publish a new version number instead.
contract ModelRegistry is AccessControl, IPublisherRegistry {
    bytes32 public constant REGISTRAR_ROLE = keccak256("REGISTRAR_ROLE");

    struct Model {
        address publisher;
        uint64 registeredAt;
        uint32 versionCount;
        string metadataURI;
    }

    mapping(bytes32 modelId => Model) private _models;
    mapping(bytes32 modelId => mapping(uint64 version => bytes32 sha256Hash)) private _artifacts;

    event ModelRegistered(bytes32 indexed modelId, address indexed publisher, string metadataURI);
    event ModelUpdated(bytes32 indexed modelId, address indexed publisher, string metadataURI);
    event VersionPublished(
        bytes32 indexed modelId, uint64 indexed version, bytes32 artifactSha256, string label
    );

    error ZeroModelId();
    error ZeroAddress();
    error ZeroArtifactHash();
    error ModelAlreadyRegistered(bytes32 modelId);
    error ModelNotRegistered(bytes32 modelId);
    error VersionAlreadyPublished(bytes32 modelId, uint64 version, bytes32 artifactSha256);

    /// @param admin Holds DEFAULT_ADMIN_ROLE (grants and revokes REGISTRAR_ROLE).
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Register a new model id with its publisher (who receives a model's revenue
    ///         remainder in RevenueVault while the model has no share holders).
    function registerModel(bytes32 modelId, address publisher, string calldata metadataURI)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (modelId == bytes32(0)) revert ZeroModelId();
        if (publisher == address(0)) revert ZeroAddress();
        Model storage model = _models[modelId];
        if (model.publisher != address(0)) revert ModelAlreadyRegistered(modelId);
        model.publisher = publisher;
        model.registeredAt = uint64(block.timestamp);
        model.metadataURI = metadataURI;
        emit ModelRegistered(modelId, publisher, metadataURI);
    }

    /// @notice Change a registered model's publisher and metadata URI.
    function updateModel(bytes32 modelId, address publisher, string calldata metadataURI)
        external
        onlyRole(REGISTRAR_ROLE)
    {
        if (publisher == address(0)) revert ZeroAddress();
        Model storage model = _requireModel(modelId);
        model.publisher = publisher;
        model.metadataURI = metadataURI;
        emit ModelUpdated(modelId, publisher, metadataURI);
    }

    /// @notice Record the sha256 of a version's artifact file. Write-once per version number.
    /// @param label A human label ("1.2.0"); only emitted, not stored.
    function publishVersion(
        bytes32 modelId,
        uint64 version,
        bytes32 artifactSha256,
        string calldata label
    ) external onlyRole(REGISTRAR_ROLE) {
        if (artifactSha256 == bytes32(0)) revert ZeroArtifactHash();
        Model storage model = _requireModel(modelId);
        bytes32 existing = _artifacts[modelId][version];
        if (existing != bytes32(0)) revert VersionAlreadyPublished(modelId, version, existing);
        _artifacts[modelId][version] = artifactSha256;
        model.versionCount += 1;
        emit VersionPublished(modelId, version, artifactSha256, label);
    }

    /// @notice The model's publisher, or address(0) when the id is not registered.
    function publisherOf(bytes32 modelId) external view returns (address) {
        return _models[modelId].publisher;
    }

    function isRegistered(bytes32 modelId) external view returns (bool) {
        return _models[modelId].publisher != address(0);
    }

    function modelOf(bytes32 modelId)
        external
        view
        returns (address publisher, string memory metadataURI, uint64 registeredAt, uint32 versionCount)
    {
        Model storage model = _models[modelId];
        return (model.publisher, model.metadataURI, model.registeredAt, model.versionCount);
    }

    /// @notice The artifact sha256 of a version, or bytes32(0) when it was never published.
    function artifactHashOf(bytes32 modelId, uint64 version) external view returns (bytes32) {
        return _artifacts[modelId][version];
    }

    function _requireModel(bytes32 modelId) private view returns (Model storage model) {
        model = _models[modelId];
        if (model.publisher == address(0)) revert ModelNotRegistered(modelId);
    }
}
