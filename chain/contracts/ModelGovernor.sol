// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {LicenseToken} from "./LicenseToken.sol";
import {ModelRegistry} from "./ModelRegistry.sol";
import {RevenueVault} from "./RevenueVault.sol";

/// @title ModelGovernor
/// @notice Share holders govern their model: they vote off chain (EIP-712 ballots weighted by
///         shares at a snapshot block, tallied by the portal), the tallier records each tally
///         here with the hash of its ballots, and a passed proposal is executed once, within
///         the bounds the publisher set: a new price for one offer, pausing or resuming one
///         offer's sales, new payees for the model's revenue split, or a new model version.
/// @dev The governor holds LicenseToken's GOVERNOR_ROLE, RevenueVault's SPLIT_MANAGER_ROLE and
///      ModelRegistry's REGISTRAR_ROLE; those contracts' own checks still apply to what it
///      calls. A proposal is executed at most once, whatever its action, and only after its
///      tally was recorded as passed. The tallier is trusted for the tally itself (this contract
///      does not count ballots); `ballotsHash` lets anyone check the published ballots later.
contract ModelGovernor is AccessControl {
    /// @notice Sets the price bounds of offers and the split bounds of models (the portal's
    ///         operator, acting for the publisher).
    bytes32 public constant BOUNDS_ROLE = keccak256("BOUNDS_ROLE");
    /// @notice Records tallies and executes passed proposals (the portal's operator).
    bytes32 public constant TALLIER_ROLE = keccak256("TALLIER_ROLE");

    /// @notice `ProposalExecuted.action` values.
    uint8 public constant ACTION_SET_PRICE = 1;
    uint8 public constant ACTION_SET_PAYEES = 2;
    uint8 public constant ACTION_SET_ACTIVE = 3;
    uint8 public constant ACTION_PUBLISH_VERSION = 4;

    uint16 public constant BPS = 10_000;

    struct PriceBounds {
        uint256 minPrice;
        uint256 maxPrice;
        bool set;
    }

    struct SplitBounds {
        uint16 minPayeesBps;
        uint16 maxPayeesBps;
        bool set;
    }

    struct Tally {
        bytes32 modelId;
        bytes32 ballotsHash;
        uint256 forVotes;
        uint256 againstVotes;
        uint256 abstainVotes;
        bool passed;
        bool executed;
    }

    LicenseToken public immutable licenseToken;
    RevenueVault public immutable vault;
    ModelRegistry public immutable registry;

    mapping(uint256 offerId => PriceBounds) private _priceBounds;
    mapping(bytes32 modelId => SplitBounds) private _splitBounds;
    mapping(bytes32 proposalId => Tally) private _tallies;

    /// @notice The price a governed `executeSetPrice` may set for `offerId` (of `modelId`).
    event PriceBoundsSet(
        bytes32 indexed modelId, uint256 indexed offerId, uint256 minPrice, uint256 maxPrice
    );
    /// @notice The range the sum of `modelId`'s payees' basis points must stay in when its
    ///         share holders set them (`executeSetPayees`).
    event SplitBoundsSet(bytes32 indexed modelId, uint16 minPayeesBps, uint16 maxPayeesBps);
    /// @param ballotsHash The portal's hash of the proposal's counted ballots (its published
    ///        tally can be checked against it).
    event ProposalTallied(
        bytes32 indexed modelId,
        bytes32 indexed proposalId,
        bytes32 ballotsHash,
        uint256 forVotes,
        uint256 againstVotes,
        uint256 abstainVotes,
        bool passed
    );
    /// @notice A passed proposal was executed. The change itself is the target's own event in
    ///         the same transaction, emitted before this one: `OfferConfigured` (1 and 3),
    ///         `PayeesConfigured` (2) or `VersionPublished` (4).
    /// @param action 1 = set price, 2 = set payees, 3 = set active, 4 = publish version.
    event ProposalExecuted(bytes32 indexed modelId, bytes32 indexed proposalId, uint8 action);

    error ZeroAddress();
    error ZeroModelId();
    error ZeroProposalId();
    // Same signatures (argument names included) as LicenseToken's: `abi.decode_revert` names
    // an error's arguments by selector, whichever contract reverted.
    error UnknownOffer(uint256 id);
    error SharesHaveNoPrice(uint256 id);
    error InvalidBounds(uint256 minimum, uint256 maximum);
    error TallyAlreadyRecorded(bytes32 proposalId);
    error ProposalNotPassed(bytes32 proposalId);
    error AlreadyExecuted(bytes32 proposalId);
    error WrongModel(bytes32 proposalId, bytes32 modelId);
    error NoPriceBounds(uint256 offerId);
    error PriceOutOfBounds(uint256 offerId, uint256 price, uint256 minPrice, uint256 maxPrice);
    error NoSplitBounds(bytes32 modelId);
    error SplitOutOfBounds(
        bytes32 modelId, uint256 totalBps, uint16 minPayeesBps, uint16 maxPayeesBps
    );

    /// @param admin Holds DEFAULT_ADMIN_ROLE (grants BOUNDS_ROLE and TALLIER_ROLE).
    /// @param licenseToken_ The LicenseToken; it must grant this contract GOVERNOR_ROLE.
    /// @param vault_ The RevenueVault; it must grant this contract SPLIT_MANAGER_ROLE.
    /// @param registry_ The ModelRegistry; it must grant this contract REGISTRAR_ROLE.
    constructor(address admin, address licenseToken_, address vault_, address registry_) {
        if (
            admin == address(0) || licenseToken_ == address(0) || vault_ == address(0)
                || registry_ == address(0)
        ) revert ZeroAddress();
        licenseToken = LicenseToken(licenseToken_);
        vault = RevenueVault(vault_);
        registry = ModelRegistry(registry_);
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // --- Bounds (the publisher's) ---------------------------------------------------------

    /// @notice Let governed price changes of offer `offerId` set a price in
    ///         [`minPrice`, `maxPrice`] (replaces earlier bounds). The offer must exist and
    ///         not be a SHARES offer.
    function setPriceBounds(uint256 offerId, uint256 minPrice, uint256 maxPrice)
        external
        onlyRole(BOUNDS_ROLE)
    {
        (bytes32 modelId, LicenseToken.Kind kind) = _offer(offerId);
        if (kind == LicenseToken.Kind.SHARES) revert SharesHaveNoPrice(offerId);
        if (minPrice > maxPrice) revert InvalidBounds(minPrice, maxPrice);
        _priceBounds[offerId] = PriceBounds(minPrice, maxPrice, true);
        emit PriceBoundsSet(modelId, offerId, minPrice, maxPrice);
    }

    /// @notice Let governed payee changes of `modelId` give its payees, together, between
    ///         `minPayeesBps` and `maxPayeesBps` basis points (replaces earlier bounds). The
    ///         vault's own ceiling (10000 minus its maximum platform fee) still applies.
    function setSplitBounds(bytes32 modelId, uint16 minPayeesBps, uint16 maxPayeesBps)
        external
        onlyRole(BOUNDS_ROLE)
    {
        if (modelId == bytes32(0)) revert ZeroModelId();
        if (minPayeesBps > maxPayeesBps || maxPayeesBps > BPS) {
            revert InvalidBounds(minPayeesBps, maxPayeesBps);
        }
        _splitBounds[modelId] = SplitBounds(minPayeesBps, maxPayeesBps, true);
        emit SplitBoundsSet(modelId, minPayeesBps, maxPayeesBps);
    }

    // --- Tallies --------------------------------------------------------------------------

    /// @notice Record the off-chain tally of proposal `proposalId` about `modelId`, once.
    /// @param ballotsHash The hash of the counted ballots, as the portal publishes them.
    /// @param passed Whether the proposal passed by the rules it was put to the vote with.
    function recordTally(
        bytes32 modelId,
        bytes32 proposalId,
        bytes32 ballotsHash,
        uint256 forVotes,
        uint256 againstVotes,
        uint256 abstainVotes,
        bool passed
    ) external onlyRole(TALLIER_ROLE) {
        if (modelId == bytes32(0)) revert ZeroModelId();
        if (proposalId == bytes32(0)) revert ZeroProposalId();
        Tally storage tally = _tallies[proposalId];
        if (tally.modelId != bytes32(0)) revert TallyAlreadyRecorded(proposalId);
        tally.modelId = modelId;
        tally.ballotsHash = ballotsHash;
        tally.forVotes = forVotes;
        tally.againstVotes = againstVotes;
        tally.abstainVotes = abstainVotes;
        tally.passed = passed;
        emit ProposalTallied(
            modelId, proposalId, ballotsHash, forVotes, againstVotes, abstainVotes, passed
        );
    }

    // --- Execution ------------------------------------------------------------------------

    /// @notice Set offer `offerId`'s price to `price`, as passed proposal `proposalId` of the
    ///         offer's model decided. The offer's price bounds must be set and hold `price`.
    function executeSetPrice(bytes32 proposalId, uint256 offerId, uint256 price)
        external
        onlyRole(TALLIER_ROLE)
    {
        bytes32 modelId = _startExecution(proposalId);
        _requireOfferOf(proposalId, modelId, offerId);
        PriceBounds storage bounds = _priceBounds[offerId];
        if (!bounds.set) revert NoPriceBounds(offerId);
        if (price < bounds.minPrice || price > bounds.maxPrice) {
            revert PriceOutOfBounds(offerId, price, bounds.minPrice, bounds.maxPrice);
        }
        licenseToken.governSetPrice(offerId, price);
        emit ProposalExecuted(modelId, proposalId, ACTION_SET_PRICE);
    }

    /// @notice Pause (`active` false) or resume offer `offerId`'s sales, as passed proposal
    ///         `proposalId` of the offer's model decided.
    function executeSetActive(bytes32 proposalId, uint256 offerId, bool active)
        external
        onlyRole(TALLIER_ROLE)
    {
        bytes32 modelId = _startExecution(proposalId);
        _requireOfferOf(proposalId, modelId, offerId);
        licenseToken.governSetActive(offerId, active);
        emit ProposalExecuted(modelId, proposalId, ACTION_SET_ACTIVE);
    }

    /// @notice Replace the model's payees with `accounts` and their `bps`, as passed proposal
    ///         `proposalId` decided. The model's split bounds must be set and hold the sum of
    ///         `bps`; the vault's checks (lengths, at most 10 payees, no zero address or bps,
    ///         its ceiling) still apply.
    function executeSetPayees(
        bytes32 proposalId,
        address[] calldata accounts,
        uint16[] calldata bps
    ) external onlyRole(TALLIER_ROLE) {
        bytes32 modelId = _startExecution(proposalId);
        SplitBounds storage bounds = _splitBounds[modelId];
        if (!bounds.set) revert NoSplitBounds(modelId);
        uint256 total;
        for (uint256 i; i < bps.length; ++i) {
            total += bps[i];
        }
        if (total < bounds.minPayeesBps || total > bounds.maxPayeesBps) {
            revert SplitOutOfBounds(modelId, total, bounds.minPayeesBps, bounds.maxPayeesBps);
        }
        vault.configurePayees(modelId, accounts, bps);
        emit ProposalExecuted(modelId, proposalId, ACTION_SET_PAYEES);
    }

    /// @notice Publish `version` of the model with its artifact's sha256, as passed proposal
    ///         `proposalId` decided (the registry's checks apply: registered model, write-once
    ///         version, non-zero hash).
    function executePublishVersion(
        bytes32 proposalId,
        uint64 version,
        bytes32 artifactSha256,
        string calldata label
    ) external onlyRole(TALLIER_ROLE) {
        bytes32 modelId = _startExecution(proposalId);
        registry.publishVersion(modelId, version, artifactSha256, label);
        emit ProposalExecuted(modelId, proposalId, ACTION_PUBLISH_VERSION);
    }

    // --- Views ----------------------------------------------------------------------------

    /// @notice Offer `offerId`'s price bounds (`set` false: none, governed prices refused).
    function priceBounds(uint256 offerId)
        external
        view
        returns (uint256 minPrice, uint256 maxPrice, bool set)
    {
        PriceBounds storage bounds = _priceBounds[offerId];
        return (bounds.minPrice, bounds.maxPrice, bounds.set);
    }

    /// @notice `modelId`'s split bounds (`set` false: none, governed payees refused).
    function splitBounds(bytes32 modelId)
        external
        view
        returns (uint16 minPayeesBps, uint16 maxPayeesBps, bool set)
    {
        SplitBounds storage bounds = _splitBounds[modelId];
        return (bounds.minPayeesBps, bounds.maxPayeesBps, bounds.set);
    }

    /// @notice The recorded tally of `proposalId` (all zero when none was recorded) and
    ///         whether the proposal was executed.
    function tallyOf(bytes32 proposalId)
        external
        view
        returns (
            bytes32 modelId,
            bytes32 ballotsHash,
            uint256 forVotes,
            uint256 againstVotes,
            uint256 abstainVotes,
            bool passed,
            bool executed
        )
    {
        Tally storage tally = _tallies[proposalId];
        return (
            tally.modelId,
            tally.ballotsHash,
            tally.forVotes,
            tally.againstVotes,
            tally.abstainVotes,
            tally.passed,
            tally.executed
        );
    }

    // --- Internals ------------------------------------------------------------------------

    /// @dev Mark a recorded, passed, not yet executed proposal executed (before any call out);
    ///      returns its model.
    function _startExecution(bytes32 proposalId) private returns (bytes32 modelId) {
        Tally storage tally = _tallies[proposalId];
        if (!tally.passed) revert ProposalNotPassed(proposalId);
        if (tally.executed) revert AlreadyExecuted(proposalId);
        tally.executed = true;
        return tally.modelId;
    }

    function _offer(uint256 offerId)
        private
        view
        returns (bytes32 modelId, LicenseToken.Kind kind)
    {
        LicenseToken.Offer memory offer = licenseToken.offers(offerId);
        if (offer.modelId == bytes32(0)) revert UnknownOffer(offerId);
        return (offer.modelId, offer.kind);
    }

    /// @dev Offer `offerId` must exist and be of `modelId` (`WrongModel` names the offer's).
    function _requireOfferOf(bytes32 proposalId, bytes32 modelId, uint256 offerId) private view {
        (bytes32 offerModel,) = _offer(offerId);
        if (offerModel != modelId) revert WrongModel(proposalId, offerModel);
    }
}
