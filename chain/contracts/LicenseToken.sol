// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IRevenueVault} from "./interfaces/IRevenueVault.sol";
import {IShareSource} from "./interfaces/IShareSource.sol";

/// @title LicenseToken
/// @notice ERC-1155 rights to models: one token id per offer. An offer sells licenses, timed
///         access passes, usage credits, or (never sold) ownership shares of one model.
///         Payments go straight to the RevenueVault, credited to the offer's model.
/// @dev Expiry is per (token id, holder), ERC-5643 style (`expiresAt(id, holder)`):
///      - timed offers (LICENSE / ACCESS_PASS with duration > 0): each unit bought adds
///        `duration` seconds, counted from the current expiry while it is in the future and from
///        now otherwise. A transfer moves the sender's remaining time pro rata to the units
///        moved (`remaining * value / balanceBefore`, floored) onto the recipient's expiry.
///      - perpetual offers (LICENSE / ACCESS_PASS with duration 0): expiry 0 means valid; a
///        revocation sets it to the revocation time; a later purchase (or grant) clears it.
///        A revoked holder cannot transfer the token.
///      - CREDITS and SHARES never expire (expiry stays 0).
///      Pausing blocks purchases and transfers; privileged mints (grant, mintShares), extensions
///      and credit burns by the meter stay possible so operators can repair state during an
///      incident.
contract LicenseToken is ERC1155, AccessControl, Pausable, ReentrancyGuardTransient, IShareSource {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;

    /// @notice Configures offers, grants, extends, revokes, mints the cap table, pauses and
    ///         unpauses.
    bytes32 public constant PUBLISHER_ROLE = keccak256("PUBLISHER_ROLE");
    /// @notice Burns usage credits when usage is settled (with the receipts' Merkle root).
    bytes32 public constant METER_ROLE = keccak256("METER_ROLE");
    /// @notice Changes one offer's price or active flag as its share holders decided (the
    ///         ModelGovernor, which checks the vote and the publisher's bounds).
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    enum Kind {
        LICENSE,
        ACCESS_PASS,
        CREDITS,
        SHARES
    }

    /// @notice What the publisher sets for an offer (see `configureOffer`).
    struct OfferConfig {
        bytes32 modelId;
        Kind kind;
        uint128 price; // per unit, in `currency`'s smallest unit
        address currency; // address(0) = the native coin, else an ERC-20
        uint64 duration; // seconds per unit for timed kinds; 0 = perpetual
        uint128 maxSupply; // 0 = unlimited
        bool transferable;
        bytes32 termsHash;
        bool active;
    }

    struct Offer {
        bytes32 modelId;
        address currency;
        uint64 duration;
        Kind kind;
        bool transferable;
        bool active;
        bool sharesMinted;
        uint128 price;
        uint128 maxSupply;
        bytes32 termsHash;
    }

    IRevenueVault public immutable vault;

    mapping(uint256 id => Offer) private _offers;
    mapping(uint256 id => uint256) private _supply;
    mapping(uint256 id => mapping(address holder => uint64)) private _expiry;
    mapping(bytes32 modelId => uint256 id) private _shareTokenOf;

    event OfferConfigured(
        uint256 indexed id,
        bytes32 indexed modelId,
        Kind kind,
        uint256 price,
        address currency,
        uint64 duration,
        uint256 maxSupply,
        bool transferable,
        bytes32 termsHash,
        bool active
    );
    /// @param paid Total paid (price * amount) in `currency`; `newExpiry` 0 = no expiry.
    event Purchased(
        address indexed buyer,
        uint256 indexed id,
        bytes32 indexed modelId,
        uint256 amount,
        uint256 paid,
        address currency,
        uint64 newExpiry,
        bytes32 termsHash
    );
    event Granted(
        address indexed to, uint256 indexed id, uint256 amount, uint64 newExpiry, bytes32 termsHash
    );
    event Revoked(address indexed holder, uint256 indexed id, bytes32 reason, uint64 expiry);
    /// @notice The publisher moved a holder's expiry later without minting (`extend`).
    event Extended(address indexed holder, uint256 indexed id, uint64 expiry, bytes32 termsHash);
    /// @notice Time moved with a transfer of a timed token (not emitted when nothing moved).
    event ExpiryTransferred(
        uint256 indexed id,
        address indexed from,
        address indexed to,
        uint64 secondsMoved,
        uint64 fromExpiry,
        uint64 toExpiry
    );
    event CreditsBurned(
        address indexed holder, uint256 indexed id, uint256 amount, bytes32 receiptRoot
    );
    /// @notice The cap table was minted (one TransferSingle per holder precedes this event).
    event SharesMinted(uint256 indexed id, bytes32 indexed modelId, uint256 supply);
    event BaseURIUpdated(string uri);

    error ZeroAddress();
    error ZeroAmount();
    error InvalidOfferId();
    error ZeroModelId();
    error UnknownOffer(uint256 id);
    error OfferFieldImmutable(uint256 id, string field);
    error DurationNotAllowed(uint256 id, Kind kind);
    error SharesHaveNoPrice(uint256 id);
    error ModelAlreadyHasShares(bytes32 modelId, uint256 shareTokenId);
    error MaxSupplyBelowSupply(uint256 id, uint256 maxSupply, uint256 supply);
    error OfferInactive(uint256 id);
    error SharesNotPurchasable(uint256 id);
    error PriceAboveMax(uint256 id, uint256 price, uint256 maxPrice);
    error WrongPayment(uint256 expected, uint256 sent);
    error MaxSupplyExceeded(uint256 id, uint256 supply, uint256 amount, uint256 maxSupply);
    error NonTransferable(uint256 id);
    error LicenseNotValid(address holder, uint256 id);
    error InvalidExpiry(uint256 id, uint64 expiry);
    error NotGrantable(uint256 id);
    error NotRevocable(uint256 id);
    error NothingToRevoke(address holder, uint256 id);
    error NotExtendable(uint256 id);
    error NothingToExtend(address holder, uint256 id);
    error ExpiryNotLater(uint256 id, uint64 expiry, uint64 current);
    error NotCredits(uint256 id);
    error NotShares(uint256 id);
    error SharesAlreadyMinted(uint256 id);
    error LengthMismatch(uint256 holders, uint256 amounts);
    error EmptyCapTable(uint256 id);

    /// @param admin Holds DEFAULT_ADMIN_ROLE (grants PUBLISHER_ROLE, METER_ROLE and
    ///        GOVERNOR_ROLE, sets the URI).
    /// @param vault_ The RevenueVault; it must grant this contract DEPOSITOR_ROLE and name it
    ///        with `setShareToken` before the first purchase.
    /// @param uri_ ERC-1155 metadata URI template (clients substitute `{id}`).
    constructor(address admin, IRevenueVault vault_, string memory uri_) ERC1155(uri_) {
        if (admin == address(0) || address(vault_) == address(0)) revert ZeroAddress();
        vault = vault_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // --- Offers ---------------------------------------------------------------------------

    /// @notice Create or update offer `id` (any non-zero id chosen by the caller, so a retried
    ///         transaction is idempotent). Once created, `modelId`, `kind` and whether the
    ///         offer is timed (duration > 0) are fixed; `maxSupply` cannot drop below supply.
    ///         CREDITS and SHARES have no duration; SHARES have no price, and a model has at
    ///         most one SHARES offer.
    function configureOffer(uint256 id, OfferConfig calldata config)
        external
        onlyRole(PUBLISHER_ROLE)
    {
        if (id == 0) revert InvalidOfferId();
        bytes32 modelId = config.modelId;
        if (modelId == bytes32(0)) revert ZeroModelId();
        Kind kind = config.kind;
        Offer storage offer = _offers[id];
        if (offer.modelId != bytes32(0)) {
            if (offer.modelId != modelId) revert OfferFieldImmutable(id, "modelId");
            if (offer.kind != kind) revert OfferFieldImmutable(id, "kind");
            if ((offer.duration == 0) != (config.duration == 0)) {
                revert OfferFieldImmutable(id, "duration");
            }
        }
        if ((kind == Kind.CREDITS || kind == Kind.SHARES) && config.duration != 0) {
            revert DurationNotAllowed(id, kind);
        }
        uint256 supply = _supply[id];
        if (config.maxSupply != 0 && config.maxSupply < supply) {
            revert MaxSupplyBelowSupply(id, config.maxSupply, supply);
        }
        if (kind == Kind.SHARES) {
            if (config.price != 0) revert SharesHaveNoPrice(id);
            uint256 existing = _shareTokenOf[modelId];
            if (existing != 0 && existing != id) revert ModelAlreadyHasShares(modelId, existing);
            _shareTokenOf[modelId] = id;
        }
        offer.modelId = modelId;
        offer.kind = kind;
        offer.price = config.price;
        offer.currency = config.currency;
        offer.duration = config.duration;
        offer.maxSupply = config.maxSupply;
        offer.transferable = config.transferable;
        offer.termsHash = config.termsHash;
        offer.active = config.active;
        _emitOfferConfigured(id, config);
    }

    function _emitOfferConfigured(uint256 id, OfferConfig calldata config) private {
        emit OfferConfigured(
            id,
            config.modelId,
            config.kind,
            config.price,
            config.currency,
            config.duration,
            config.maxSupply,
            config.transferable,
            config.termsHash,
            config.active
        );
    }

    function _emitOfferState(uint256 id, Offer storage offer) private {
        emit OfferConfigured(
            id,
            offer.modelId,
            offer.kind,
            offer.price,
            offer.currency,
            offer.duration,
            offer.maxSupply,
            offer.transferable,
            offer.termsHash,
            offer.active
        );
    }

    // --- Buying ---------------------------------------------------------------------------

    /// @notice Buy `amount` units of offer `id` for msg.sender. Native coin: send exactly
    ///         price * amount as msg.value. ERC-20: approve this contract for price * amount
    ///         first and send no value. Reverts with PriceAboveMax when the price is above
    ///         `maxPrice` (protection against a price change between quote and inclusion).
    /// @return newExpiry The buyer's expiry after the purchase (0 = no expiry).
    function purchase(uint256 id, uint256 amount, uint256 maxPrice)
        external
        payable
        nonReentrant
        whenNotPaused
        returns (uint64 newExpiry)
    {
        Offer storage offer = _offers[id];
        bytes32 modelId = offer.modelId;
        if (modelId == bytes32(0)) revert UnknownOffer(id);
        if (offer.kind == Kind.SHARES) revert SharesNotPurchasable(id);
        if (!offer.active) revert OfferInactive(id);
        if (amount == 0) revert ZeroAmount();
        uint256 price = offer.price;
        if (price > maxPrice) revert PriceAboveMax(id, price, maxPrice);
        uint256 paid = price * amount;

        newExpiry = _extend(id, offer, msg.sender, amount, 0);

        address currency = offer.currency;
        if (currency == address(0)) {
            if (msg.value != paid) revert WrongPayment(paid, msg.value);
            if (paid != 0) vault.deposit{value: paid}(modelId, currency, paid);
        } else {
            if (msg.value != 0) revert WrongPayment(0, msg.value);
            if (paid != 0) {
                IERC20(currency).safeTransferFrom(msg.sender, address(vault), paid);
                vault.deposit(modelId, currency, paid);
            }
        }
        emit Purchased(msg.sender, id, modelId, amount, paid, currency, newExpiry, offer.termsHash);
        _mintChecked(msg.sender, id, offer, amount);
    }

    // --- Publisher actions ----------------------------------------------------------------

    /// @notice Mint without payment. Timed offers: `expiry` must be in the future and the
    ///         holder's expiry becomes max(current, expiry). Perpetual offers and CREDITS:
    ///         `expiry` must be 0 (a perpetual grant clears an earlier revocation).
    function grant(address to, uint256 id, uint256 amount, uint64 expiry)
        external
        onlyRole(PUBLISHER_ROLE)
        nonReentrant
    {
        Offer storage offer = _requireOffer(id);
        if (offer.kind == Kind.SHARES) revert NotGrantable(id);
        if (to == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint64 newExpiry;
        if (_isTimed(offer)) {
            if (expiry <= block.timestamp) revert InvalidExpiry(id, expiry);
            newExpiry = _extend(id, offer, to, 0, expiry);
        } else {
            if (expiry != 0) revert InvalidExpiry(id, expiry);
            _extend(id, offer, to, amount, 0);
        }
        emit Granted(to, id, amount, newExpiry, offer.termsHash);
        _mintChecked(to, id, offer, amount);
    }

    /// @notice Move `holder`'s expiry of a timed license or pass to `expiry`, minting nothing
    ///         (a comp extension; `grant` mints). `expiry` must be later than now and than the
    ///         holder's current expiry, so an extension never shortens a right; after a
    ///         revocation it restores one. Possible while paused, like grants.
    function extend(address holder, uint256 id, uint64 expiry) external onlyRole(PUBLISHER_ROLE) {
        Offer storage offer = _requireOffer(id);
        if (!_isTimed(offer)) revert NotExtendable(id);
        if (balanceOf(holder, id) == 0) revert NothingToExtend(holder, id);
        if (expiry <= block.timestamp) revert InvalidExpiry(id, expiry);
        uint64 current = _expiry[id][holder];
        if (expiry <= current) revert ExpiryNotLater(id, expiry, current);
        _expiry[id][holder] = expiry;
        emit Extended(holder, id, expiry, offer.termsHash);
    }

    /// @notice End `holder`'s license or pass now (expiry := now, or earlier if already
    ///         expired). Tokens stay with the holder but are no longer valid.
    function revoke(address holder, uint256 id, bytes32 reason) external onlyRole(PUBLISHER_ROLE) {
        Offer storage offer = _requireOffer(id);
        if (offer.kind != Kind.LICENSE && offer.kind != Kind.ACCESS_PASS) revert NotRevocable(id);
        if (balanceOf(holder, id) == 0) revert NothingToRevoke(holder, id);
        uint64 expiry = _expiry[id][holder];
        if (expiry == 0 || expiry > block.timestamp) {
            expiry = uint64(block.timestamp);
            _expiry[id][holder] = expiry;
        }
        emit Revoked(holder, id, reason, expiry);
    }

    /// @notice Mint a SHARES offer's whole supply to the cap table, once.
    function mintShares(uint256 id, address[] calldata holders, uint256[] calldata amounts)
        external
        onlyRole(PUBLISHER_ROLE)
        nonReentrant
    {
        Offer storage offer = _requireOffer(id);
        if (offer.kind != Kind.SHARES) revert NotShares(id);
        if (offer.sharesMinted) revert SharesAlreadyMinted(id);
        if (holders.length != amounts.length) revert LengthMismatch(holders.length, amounts.length);
        if (holders.length == 0) revert EmptyCapTable(id);
        offer.sharesMinted = true;
        uint256 total;
        for (uint256 i; i < holders.length; ++i) {
            if (amounts[i] == 0) revert ZeroAmount();
            total += amounts[i];
        }
        uint256 maxSupply = offer.maxSupply;
        if (maxSupply != 0 && total > maxSupply) revert MaxSupplyExceeded(id, 0, total, maxSupply);
        // The vault keeps its per-share remainder in 128 bits.
        total.toUint128();
        for (uint256 i; i < holders.length; ++i) {
            _mint(holders[i], id, amounts[i], "");
        }
        emit SharesMinted(id, offer.modelId, total);
    }

    function pause() external onlyRole(PUBLISHER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PUBLISHER_ROLE) {
        _unpause();
    }

    function setURI(string calldata newUri) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setURI(newUri);
        emit BaseURIUpdated(newUri);
    }

    // --- Governance -----------------------------------------------------------------------

    /// @notice Set offer `id`'s price to `price` (a change its share holders voted for; the
    ///         governor checked it against the publisher's bounds). Every other field stays.
    ///         SHARES have no price. Emits `OfferConfigured` with the offer's whole new state,
    ///         as `configureOffer` does.
    function governSetPrice(uint256 id, uint256 price) external onlyRole(GOVERNOR_ROLE) {
        Offer storage offer = _requireOffer(id);
        if (offer.kind == Kind.SHARES) revert SharesHaveNoPrice(id);
        offer.price = price.toUint128();
        _emitOfferState(id, offer);
    }

    /// @notice Pause (`active` false) or resume offer `id`'s sales, as its share holders voted.
    ///         Every other field stays. Emits `OfferConfigured` with the offer's whole new
    ///         state, as `configureOffer` does.
    function governSetActive(uint256 id, bool active) external onlyRole(GOVERNOR_ROLE) {
        Offer storage offer = _requireOffer(id);
        offer.active = active;
        _emitOfferState(id, offer);
    }

    // --- Meter ----------------------------------------------------------------------------

    /// @notice Burn used credits; `receiptRoot` is the Merkle root of the usage receipts
    ///         (or of the settlement period) that the burn settles.
    function burnCredits(address holder, uint256 id, uint256 amount, bytes32 receiptRoot)
        external
        onlyRole(METER_ROLE)
    {
        Offer storage offer = _requireOffer(id);
        if (offer.kind != Kind.CREDITS) revert NotCredits(id);
        if (amount == 0) revert ZeroAmount();
        _burn(holder, id, amount);
        emit CreditsBurned(holder, id, amount, receiptRoot);
    }

    // --- Views ----------------------------------------------------------------------------

    function offers(uint256 id) external view returns (Offer memory) {
        return _offers[id];
    }

    function totalSupply(uint256 id) external view returns (uint256) {
        return _supply[id];
    }

    /// @notice ERC-5643 style: when `holder`'s right to `id` ends (0 = no expiry; for a
    ///         perpetual offer a non-zero value is the revocation time).
    function expiresAt(uint256 id, address holder) external view returns (uint64) {
        return _expiry[id][holder];
    }

    /// @notice Whether `holder` may use `id` now: holds it, and for licenses and passes, is
    ///         not expired or revoked.
    function isValid(address holder, uint256 id) external view returns (bool) {
        if (balanceOf(holder, id) == 0) return false;
        Offer storage offer = _offers[id];
        if (offer.kind == Kind.CREDITS || offer.kind == Kind.SHARES) return true;
        uint64 expiry = _expiry[id][holder];
        if (offer.duration == 0) return expiry == 0;
        return expiry > block.timestamp;
    }

    /// @inheritdoc IShareSource
    function shareInfo(bytes32 modelId) external view returns (uint256 tokenId, uint256 supply) {
        tokenId = _shareTokenOf[modelId];
        supply = tokenId == 0 ? 0 : _supply[tokenId];
    }

    function balanceOf(address account, uint256 id)
        public
        view
        override(ERC1155, IShareSource)
        returns (uint256)
    {
        return super.balanceOf(account, id);
    }

    function supportsInterface(bytes4 interfaceId)
        public
        view
        override(ERC1155, AccessControl)
        returns (bool)
    {
        return super.supportsInterface(interfaceId);
    }

    // --- Internals ------------------------------------------------------------------------

    function _requireOffer(uint256 id) private view returns (Offer storage offer) {
        offer = _offers[id];
        if (offer.modelId == bytes32(0)) revert UnknownOffer(id);
    }

    function _isTimed(Offer storage offer) private view returns (bool) {
        return (offer.kind == Kind.LICENSE || offer.kind == Kind.ACCESS_PASS) && offer.duration != 0;
    }

    /// @dev Timed offers: with `units` > 0, add units * duration from max(expiry, now); with
    ///      `until` > 0, raise the expiry to `until`. Perpetual licenses/passes: clear an
    ///      earlier revocation. Credits: nothing. Returns the holder's new expiry.
    function _extend(uint256 id, Offer storage offer, address holder, uint256 units, uint64 until)
        private
        returns (uint64 expiry)
    {
        Kind kind = offer.kind;
        if (kind != Kind.LICENSE && kind != Kind.ACCESS_PASS) return 0;
        uint64 duration = offer.duration;
        uint64 current = _expiry[id][holder];
        if (duration == 0) {
            if (current != 0) _expiry[id][holder] = 0;
            return 0;
        }
        if (until != 0) {
            expiry = until > current ? until : current;
        } else {
            uint256 start = current > block.timestamp ? current : block.timestamp;
            expiry = (start + uint256(duration) * units).toUint64();
        }
        if (expiry != current) _expiry[id][holder] = expiry;
    }

    function _mintChecked(address to, uint256 id, Offer storage offer, uint256 amount) private {
        uint256 maxSupply = offer.maxSupply;
        if (maxSupply != 0) {
            uint256 supply = _supply[id];
            if (supply + amount > maxSupply) revert MaxSupplyExceeded(id, supply, amount, maxSupply);
        }
        _mint(to, id, amount, "");
    }

    /// @dev Every balance change passes here: supply, the transferable flag, pause, moving
    ///      expiry with timed tokens, and telling the vault about share movements.
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values)
        internal
        override
    {
        bool isTransfer = from != address(0) && to != address(0);
        if (isTransfer) _requireNotPaused();
        super._update(from, to, ids, values);
        for (uint256 i; i < ids.length; ++i) {
            uint256 id = ids[i];
            uint256 value = values[i];
            Offer storage offer = _offers[id];
            bytes32 modelId = offer.modelId;
            if (modelId == bytes32(0)) revert UnknownOffer(id);
            if (from == address(0)) {
                _supply[id] += value;
            } else if (to == address(0)) {
                _supply[id] -= value;
            } else {
                if (!offer.transferable) revert NonTransferable(id);
                _moveExpiry(id, offer, from, to, value);
            }
            if (offer.kind == Kind.SHARES) vault.onSharesMoved(modelId, from, to, value);
        }
    }

    function _moveExpiry(uint256 id, Offer storage offer, address from, address to, uint256 value)
        private
    {
        Kind kind = offer.kind;
        if (kind != Kind.LICENSE && kind != Kind.ACCESS_PASS) return;
        uint64 fromExpiry = _expiry[id][from];
        if (offer.duration == 0) {
            if (fromExpiry != 0) revert LicenseNotValid(from, id);
            return;
        }
        if (fromExpiry <= block.timestamp || value == 0) return;
        uint256 remaining = fromExpiry - block.timestamp;
        // Balances are already updated: the sender held balance + value before.
        uint256 moved = (remaining * value) / (balanceOf(from, id) + value);
        if (moved == 0) return;
        uint64 newFrom = fromExpiry - uint64(moved);
        _expiry[id][from] = newFrom;
        uint64 toExpiry = _expiry[id][to]; // read after the write: from == to is a no-op
        uint256 start = toExpiry > block.timestamp ? toExpiry : block.timestamp;
        uint64 newTo = (start + moved).toUint64();
        _expiry[id][to] = newTo;
        emit ExpiryTransferred(id, from, to, uint64(moved), newFrom, newTo);
    }
}
