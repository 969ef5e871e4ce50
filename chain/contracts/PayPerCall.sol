// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IERC3009Bytes} from "./interfaces/IERC3009Bytes.sol";
import {IRevenueVault} from "./interfaces/IRevenueVault.sol";

/// @title PayPerCall
/// @notice Settles the portal's pay-per-call (x402 "exact" scheme) payments: an agent signs an
///         EIP-3009 `transferWithAuthorization` to this contract (the x402 `payTo`), the
///         portal's settler submits it, and the tokens go on to the RevenueVault, credited to the
///         model, so an agent's payment is split exactly as a purchase is (platform fee, payees,
///         share holders). Every payment emits `AgentPaid` once.
/// @dev Anyone may submit a signed authorization to the token itself (EIP-3009 allows it): a
///      front-run payment then sits here, unaccounted. `recover` moves it to the vault once the
///      token shows the nonce used. Each (token, payer, nonce) is paid out at most once,
///      whichever of `settle` and `recover` gets there first. Tokens that charge a fee on
///      transfer or rebase are not supported (the vault checks that the tokens arrived).
contract PayPerCall is AccessControl, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Submits agents' authorizations and recovers front-run ones (the portal's operator).
    bytes32 public constant SETTLER_ROLE = keccak256("SETTLER_ROLE");

    IRevenueVault public immutable vault;

    mapping(address token => mapping(address payer => mapping(bytes32 nonce => bool))) private
        _settled;

    /// @param receiptId The portal's usage receipt of the paid call (its Merkle leaf's id).
    event AgentPaid(
        bytes32 indexed modelId,
        address indexed token,
        address indexed payer,
        uint256 amount,
        bytes32 nonce,
        bytes32 receiptId
    );

    error ZeroAddress();
    error ZeroAmount();
    error ZeroModelId();
    error AlreadySettled(address token, address payer, bytes32 nonce);
    error AuthorizationNotUsed(address token, address payer, bytes32 nonce);
    error UnaccountedBalanceTooLow(address token, uint256 value, uint256 balance);

    constructor(address admin, IRevenueVault vault_) {
        if (admin == address(0) || address(vault_) == address(0)) revert ZeroAddress();
        vault = vault_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Submit `from`'s signed authorization of `value` of `token` to this contract,
    ///         then credit it to `modelId` in the vault and emit `AgentPaid`.
    /// @dev The token checks the time window (`ERC3009InvalidAuthorizationTime`), the nonce
    ///      (`ERC3009UsedAuthorization`: a replay) and the signature (`ERC3009InvalidSignature`;
    ///      EOA or EIP-1271), and reverts the whole call on any of them.
    function settle(
        bytes32 modelId,
        address token,
        address from,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature,
        bytes32 receiptId
    ) external onlyRole(SETTLER_ROLE) nonReentrant {
        _check(modelId, token, from, value);
        IERC3009Bytes(token).transferWithAuthorization(
            from, address(this), value, validAfter, validBefore, nonce, signature
        );
        _pay(modelId, token, from, value, nonce, receiptId);
    }

    /// @notice Pay out an authorization somebody else submitted to the token (its tokens sit
    ///         here): when the token shows `from`'s `nonce` used and it was never paid out here,
    ///         credit `value` to `modelId` in the vault and emit `AgentPaid`.
    /// @dev `value` must be covered by what this contract holds of `token` (nothing stays here
    ///      otherwise: `settle` passes every payment on at once), so a cancelled authorization,
    ///      whose nonce is used but whose tokens never came, cannot be paid out of nothing.
    function recover(
        bytes32 modelId,
        address token,
        address from,
        bytes32 nonce,
        uint256 value,
        bytes32 receiptId
    ) external onlyRole(SETTLER_ROLE) nonReentrant {
        _check(modelId, token, from, value);
        if (_settled[token][from][nonce]) revert AlreadySettled(token, from, nonce);
        if (!IERC3009Bytes(token).authorizationState(from, nonce)) {
            revert AuthorizationNotUsed(token, from, nonce);
        }
        uint256 held = IERC20(token).balanceOf(address(this));
        if (value > held) revert UnaccountedBalanceTooLow(token, value, held);
        _pay(modelId, token, from, value, nonce, receiptId);
    }

    /// @notice Whether `payer`'s `nonce` of `token` was paid out here (by `settle` or `recover`).
    function isSettled(address token, address payer, bytes32 nonce) external view returns (bool) {
        return _settled[token][payer][nonce];
    }

    function _check(bytes32 modelId, address token, address from, uint256 value) private pure {
        if (modelId == bytes32(0)) revert ZeroModelId();
        if (token == address(0) || from == address(0)) revert ZeroAddress();
        if (value == 0) revert ZeroAmount();
    }

    function _pay(
        bytes32 modelId,
        address token,
        address from,
        uint256 value,
        bytes32 nonce,
        bytes32 receiptId
    ) private {
        // A real EIP-3009 token never lets `settle` get here twice (the nonce is spent); the
        // mark also keeps `recover` from paying out what `settle` did, and the reverse.
        if (_settled[token][from][nonce]) revert AlreadySettled(token, from, nonce);
        _settled[token][from][nonce] = true;
        IERC20(token).safeTransfer(address(vault), value);
        vault.deposit(modelId, token, value);
        emit AgentPaid(modelId, token, from, value, nonce, receiptId);
    }
}
