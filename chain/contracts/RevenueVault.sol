// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

import {IPublisherRegistry} from "./interfaces/IPublisherRegistry.sol";
import {IRevenueVault} from "./interfaces/IRevenueVault.sol";
import {IShareSource} from "./interfaces/IShareSource.sol";

/// @title RevenueVault
/// @notice Holds every payment for a model's offers and splits it, per (model, currency):
///         a platform fee, the model's payees (basis points each) and the rest pro rata to the
///         holders of the model's SHARES token. Everyone withdraws what is theirs per currency
///         (pull payments).
/// @dev Rounding rule (no wei is created or lost):
///      1. fee = floor(amount * platformFeeBps / 10000), credited to `platform`;
///      2. each payee gets floor(amount * bps / 10000);
///      3. the rest (amount - fee - payees, so every rounding remainder of 1 and 2) goes to the
///         share holders; when the model has no shares in existence it is credited to the
///         model's publisher in the ModelRegistry, or to `platform` if the model is not
///         registered;
///      4. among holders, the rest is added to a magnified per-share accumulator
///         (x 2^127) together with the remainder carried from the previous payment, and the new
///         remainder (< supply, in magnified units) is carried again, so the pool as a whole
///         loses nothing. Each holder can withdraw floor(accrued / 2^127); those sub-wei
///         fractions, under 1 wei per holder per (model, currency) in total (not per payment),
///         stay in the vault for good. `poolOf` reports accrued and claimed per pool.
///      Share transfers do not move earned revenue: the share token notifies the vault, which
///      corrects both accounts ("accrual per share, corrected on transfer"). When an account's
///      share balance drops to zero its earnings are settled into its plain balance.
///      Payment amounts must fit in 128 bits cumulatively per pool. Tokens that charge a fee
///      on transfer or rebase are not supported (a deposit checks the tokens arrived).
contract RevenueVault is AccessControl, ReentrancyGuardTransient, IRevenueVault {
    using SafeERC20 for IERC20;
    using SafeCast for uint256;
    using SafeCast for int256;
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    /// @notice May call `deposit` (the LicenseToken).
    bytes32 public constant DEPOSITOR_ROLE = keccak256("DEPOSITOR_ROLE");
    /// @notice Configures each model's payees.
    bytes32 public constant SPLIT_MANAGER_ROLE = keccak256("SPLIT_MANAGER_ROLE");

    uint256 public constant BPS = 10_000;
    uint256 public constant MAX_PAYEES = 10;
    uint256 public constant MAX_CURRENCIES_PER_MODEL = 8;
    uint256 public constant MAGNITUDE = 2 ** 127;

    struct Payee {
        address account;
        uint16 bps;
    }

    struct Pool {
        uint256 magnifiedPerShare;
        uint128 carry; // magnified remainder (< share supply) carried to the next payment
        uint128 accrued; // total credited to holders
        uint128 claimed; // total moved out of the pool by holders
    }

    struct Holder {
        int256 correction;
        uint256 claimed;
    }

    IPublisherRegistry public immutable registry;
    /// @notice Upper bound of the platform fee; payees of a model may share 10000 minus it.
    uint16 public immutable maxPlatformFeeBps;

    address public platform;
    uint16 public platformFeeBps;
    IShareSource public shareToken;

    mapping(bytes32 modelId => Payee[]) private _payees;
    mapping(bytes32 modelId => mapping(address currency => Pool)) private _pools;
    mapping(bytes32 modelId => mapping(address currency => mapping(address account => Holder)))
        private _holders;
    mapping(bytes32 modelId => EnumerableSet.AddressSet) private _poolCurrencies;
    mapping(address account => EnumerableSet.Bytes32Set) private _shareModels;
    mapping(address account => mapping(address currency => uint256)) private _balances;
    mapping(address currency => uint256) private _reserves;

    event PlatformConfigured(address indexed platform, uint16 feeBps);
    event ShareTokenSet(address indexed shareToken);
    event PayeesConfigured(bytes32 indexed modelId, address[] accounts, uint16[] bps);
    /// @param residualTo Who got `toResidual` when the model had no shares (else address(0)).
    event PaymentSplit(
        bytes32 indexed modelId,
        address indexed currency,
        uint256 amount,
        uint256 fee,
        uint256 toPayees,
        uint256 toHolders,
        address residualTo,
        uint256 toResidual
    );
    /// @notice A plain credit: the platform fee, a payee's part or the residual.
    event Credited(
        bytes32 indexed modelId, address indexed account, address indexed currency, uint256 amount
    );
    /// @notice A holder's earnings left the share pool (at withdrawal, or settled into the
    ///         plain balance when the holder's share balance fell to zero).
    event HolderClaimed(
        bytes32 indexed modelId, address indexed account, address indexed currency, uint256 amount
    );
    event Withdrawn(address indexed account, address indexed currency, uint256 amount);

    error ZeroAddress();
    error ZeroAmount();
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    error ShareTokenAlreadySet(address shareToken);
    error UnauthorizedShareSource(address caller);
    error LengthMismatch(uint256 accounts, uint256 bps);
    error TooManyPayees(uint256 count, uint256 max);
    error ZeroBps(address account);
    error PayeeBpsTooHigh(uint256 totalBps, uint256 allowedBps);
    error WrongPayment(uint256 expected, uint256 sent);
    error PaymentNotReceived(address currency, uint256 amount, uint256 unaccounted);
    error TooManyCurrencies(bytes32 modelId, uint256 max);
    error NothingToWithdraw(address account, address currency);
    error NativeTransferFailed(address account, uint256 amount);

    /// @param admin Holds DEFAULT_ADMIN_ROLE (platform, fee, share token, role grants).
    /// @param platform_ Receives the platform fee (and residuals of unregistered models).
    /// @param platformFeeBps_ Initial fee, at most `maxPlatformFeeBps_`.
    /// @param maxPlatformFeeBps_ Immutable fee ceiling; payees get at most 10000 minus it.
    /// @param registry_ The ModelRegistry (publishers receive residuals of share-less models).
    constructor(
        address admin,
        address platform_,
        uint16 platformFeeBps_,
        uint16 maxPlatformFeeBps_,
        IPublisherRegistry registry_
    ) {
        if (admin == address(0) || address(registry_) == address(0)) revert ZeroAddress();
        if (maxPlatformFeeBps_ > BPS) revert FeeTooHigh(maxPlatformFeeBps_, BPS);
        maxPlatformFeeBps = maxPlatformFeeBps_;
        registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setPlatform(platform_, platformFeeBps_);
    }

    // --- Administration -------------------------------------------------------------------

    function setPlatform(address platform_, uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setPlatform(platform_, feeBps);
    }

    /// @notice Name the share token (the LicenseToken), once.
    function setShareToken(IShareSource token) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (address(token) == address(0)) revert ZeroAddress();
        if (address(shareToken) != address(0)) revert ShareTokenAlreadySet(address(shareToken));
        shareToken = token;
        emit ShareTokenSet(address(token));
    }

    /// @notice Replace `modelId`'s payees. Applies to payments from now on; what was already
    ///         credited stays. The sum of `bps` may be at most 10000 - maxPlatformFeeBps.
    function configurePayees(bytes32 modelId, address[] calldata accounts, uint16[] calldata bps)
        external
        onlyRole(SPLIT_MANAGER_ROLE)
    {
        if (accounts.length != bps.length) revert LengthMismatch(accounts.length, bps.length);
        if (accounts.length > MAX_PAYEES) revert TooManyPayees(accounts.length, MAX_PAYEES);
        Payee[] storage payees = _payees[modelId];
        delete _payees[modelId];
        uint256 total;
        for (uint256 i; i < accounts.length; ++i) {
            if (accounts[i] == address(0)) revert ZeroAddress();
            if (bps[i] == 0) revert ZeroBps(accounts[i]);
            total += bps[i];
            payees.push(Payee(accounts[i], bps[i]));
        }
        uint256 allowed = BPS - maxPlatformFeeBps;
        if (total > allowed) revert PayeeBpsTooHigh(total, allowed);
        emit PayeesConfigured(modelId, accounts, bps);
    }

    // --- Payments -------------------------------------------------------------------------

    /// @inheritdoc IRevenueVault
    function deposit(bytes32 modelId, address currency, uint256 amount)
        external
        payable
        onlyRole(DEPOSITOR_ROLE)
    {
        if (amount == 0) revert ZeroAmount();
        uint256 reserve = _reserves[currency];
        if (currency == address(0)) {
            if (msg.value != amount) revert WrongPayment(amount, msg.value);
        } else {
            if (msg.value != 0) revert WrongPayment(0, msg.value);
            uint256 held = IERC20(currency).balanceOf(address(this));
            if (held < reserve + amount) {
                revert PaymentNotReceived(currency, amount, held > reserve ? held - reserve : 0);
            }
        }
        _reserves[currency] = reserve + amount;
        _split(modelId, currency, amount);
    }

    /// @inheritdoc IRevenueVault
    function onSharesMoved(bytes32 modelId, address from, address to, uint256 amount) external {
        if (msg.sender != address(shareToken)) revert UnauthorizedShareSource(msg.sender);
        EnumerableSet.AddressSet storage currencies = _poolCurrencies[modelId];
        uint256 count = currencies.length();
        for (uint256 i; i < count; ++i) {
            address currency = currencies.at(i);
            uint256 perShare = _pools[modelId][currency].magnifiedPerShare;
            if (perShare == 0) continue;
            int256 delta = (perShare * amount).toInt256();
            if (from != address(0)) _holders[modelId][currency][from].correction += delta;
            if (to != address(0)) _holders[modelId][currency][to].correction -= delta;
        }
        if (to != address(0)) _shareModels[to].add(modelId);
        if (from != address(0) && from != to && _shareBalance(modelId, from) == 0) {
            // Nothing more can accrue to `from`: move its earnings to the plain balance so that
            // `withdraw` never has to visit this model for it again.
            for (uint256 i; i < count; ++i) {
                address currency = currencies.at(i);
                uint256 owed = _claim(modelId, currency, from, 0);
                if (owed != 0) _balances[from][currency] += owed;
            }
            _shareModels[from].remove(modelId);
        }
    }

    /// @notice Pay out everything msg.sender can withdraw in `currency` (address(0) = native).
    function withdraw(address currency) external nonReentrant returns (uint256 amount) {
        address account = msg.sender;
        amount = _balances[account][currency];
        if (amount != 0) _balances[account][currency] = 0;
        EnumerableSet.Bytes32Set storage models = _shareModels[account];
        uint256 count = models.length();
        for (uint256 i; i < count; ++i) {
            bytes32 modelId = models.at(i);
            amount += _claim(modelId, currency, account, _shareBalance(modelId, account));
        }
        if (amount == 0) revert NothingToWithdraw(account, currency);
        _reserves[currency] -= amount;
        emit Withdrawn(account, currency, amount);
        if (currency == address(0)) {
            (bool ok,) = account.call{value: amount}("");
            if (!ok) revert NativeTransferFailed(account, amount);
        } else {
            IERC20(currency).safeTransfer(account, amount);
        }
    }

    // --- Views ----------------------------------------------------------------------------

    /// @notice What `account` would receive from `withdraw(currency)` now.
    function withdrawable(address account, address currency) external view returns (uint256 amount) {
        amount = _balances[account][currency];
        EnumerableSet.Bytes32Set storage models = _shareModels[account];
        uint256 count = models.length();
        for (uint256 i; i < count; ++i) {
            bytes32 modelId = models.at(i);
            amount += _owed(modelId, currency, account, _shareBalance(modelId, account));
        }
    }

    /// @notice `account`'s unclaimed earnings from `modelId`'s share pool in `currency`.
    function holderOwed(bytes32 modelId, address currency, address account)
        external
        view
        returns (uint256)
    {
        return _owed(modelId, currency, account, _shareBalance(modelId, account));
    }

    /// @notice Plain credits (fee, payee parts, residuals, settled holder earnings).
    function creditedOf(address account, address currency) external view returns (uint256) {
        return _balances[account][currency];
    }

    function payeesOf(bytes32 modelId)
        external
        view
        returns (address[] memory accounts, uint16[] memory bps)
    {
        Payee[] storage payees = _payees[modelId];
        accounts = new address[](payees.length);
        bps = new uint16[](payees.length);
        for (uint256 i; i < payees.length; ++i) {
            accounts[i] = payees[i].account;
            bps[i] = payees[i].bps;
        }
    }

    function poolOf(bytes32 modelId, address currency) external view returns (Pool memory) {
        return _pools[modelId][currency];
    }

    function poolCurrencies(bytes32 modelId) external view returns (address[] memory) {
        return _poolCurrencies[modelId].values();
    }

    function shareModelsOf(address account) external view returns (bytes32[] memory) {
        return _shareModels[account].values();
    }

    /// @notice Everything the vault holds on account for `currency`: deposits minus
    ///         withdrawals (credits, unclaimed holder earnings and the sub-wei dust).
    function reserves(address currency) external view returns (uint256) {
        return _reserves[currency];
    }

    // --- Internals ------------------------------------------------------------------------

    function _setPlatform(address platform_, uint16 feeBps) private {
        if (platform_ == address(0)) revert ZeroAddress();
        if (feeBps > maxPlatformFeeBps) revert FeeTooHigh(feeBps, maxPlatformFeeBps);
        platform = platform_;
        platformFeeBps = feeBps;
        emit PlatformConfigured(platform_, feeBps);
    }

    function _split(bytes32 modelId, address currency, uint256 amount) private {
        address platform_ = platform;
        uint256 fee = (amount * platformFeeBps) / BPS;
        if (fee != 0) _credit(modelId, platform_, currency, fee);
        uint256 toPayees;
        Payee[] storage payees = _payees[modelId];
        uint256 count = payees.length;
        for (uint256 i; i < count; ++i) {
            Payee storage payee = payees[i];
            uint256 part = (amount * payee.bps) / BPS;
            if (part != 0) {
                _credit(modelId, payee.account, currency, part);
                toPayees += part;
            }
        }
        uint256 rest = amount - fee - toPayees;
        uint256 toHolders;
        address residualTo;
        uint256 toResidual;
        if (rest != 0) {
            uint256 supply;
            if (address(shareToken) != address(0)) (, supply) = shareToken.shareInfo(modelId);
            if (supply != 0) {
                toHolders = rest;
                _accrue(modelId, currency, rest, supply);
            } else {
                residualTo = registry.publisherOf(modelId);
                if (residualTo == address(0)) residualTo = platform_;
                toResidual = rest;
                _credit(modelId, residualTo, currency, rest);
            }
        }
        emit PaymentSplit(modelId, currency, amount, fee, toPayees, toHolders, residualTo, toResidual);
    }

    function _credit(bytes32 modelId, address account, address currency, uint256 amount) private {
        _balances[account][currency] += amount;
        emit Credited(modelId, account, currency, amount);
    }

    function _accrue(bytes32 modelId, address currency, uint256 amount, uint256 supply) private {
        Pool storage pool = _pools[modelId][currency];
        uint128 accrued = pool.accrued;
        if (accrued == 0) {
            // The pool's first payment: share moves must now correct this currency too.
            EnumerableSet.AddressSet storage currencies = _poolCurrencies[modelId];
            currencies.add(currency);
            if (currencies.length() > MAX_CURRENCIES_PER_MODEL) {
                revert TooManyCurrencies(modelId, MAX_CURRENCIES_PER_MODEL);
            }
        }
        uint256 magnified = amount * MAGNITUDE + pool.carry;
        pool.magnifiedPerShare += magnified / supply;
        pool.carry = (magnified % supply).toUint128();
        pool.accrued = accrued + amount.toUint128();
    }

    function _owed(bytes32 modelId, address currency, address account, uint256 shares)
        private
        view
        returns (uint256)
    {
        Holder storage holder = _holders[modelId][currency][account];
        int256 magnified = (_pools[modelId][currency].magnifiedPerShare * shares).toInt256()
            + holder.correction;
        return magnified.toUint256() / MAGNITUDE - holder.claimed;
    }

    /// @dev Mark `account`'s owed earnings from the pool as claimed and return them.
    function _claim(bytes32 modelId, address currency, address account, uint256 shares)
        private
        returns (uint256 owed)
    {
        owed = _owed(modelId, currency, account, shares);
        if (owed == 0) return 0;
        _holders[modelId][currency][account].claimed += owed;
        _pools[modelId][currency].claimed += owed.toUint128();
        emit HolderClaimed(modelId, account, currency, owed);
    }

    function _shareBalance(bytes32 modelId, address account) private view returns (uint256) {
        (uint256 tokenId,) = shareToken.shareInfo(modelId);
        return tokenId == 0 ? 0 : shareToken.balanceOf(account, tokenId);
    }
}
