// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC1155Holder} from "@openzeppelin/contracts/token/ERC1155/utils/ERC1155Holder.sol";

interface IWithdraw {
    function withdraw(address currency) external returns (uint256);
}

/// @title ReentrantReceiver
/// @notice Test only: a payee or share holder that, on receiving native coin from the vault,
///         tries to take more: it re-enters `withdraw`, and optionally moves its shares to an
///         accomplice (who would then try to claim the same earnings). Failures of the
///         re-entrant calls are swallowed and counted so the outer withdrawal can complete.
contract ReentrantReceiver is ERC1155Holder {
    IWithdraw public immutable vault;

    uint256 public reentries; // how many re-entrant withdraws to attempt per receipt
    uint256 public attempts;
    uint256 public successes;
    bytes public lastRevert;

    IERC1155 public shareToken;
    uint256 public shareId;
    address public accomplice;
    bool public moveSucceeded;

    constructor(IWithdraw vault_) {
        vault = vault_;
    }

    /// @notice During the next receipt, also transfer all shares `id` of `token` to `to`.
    function moveSharesOnReceipt(IERC1155 token, uint256 id, address to) external {
        shareToken = token;
        shareId = id;
        accomplice = to;
    }

    function attack(uint256 times) external returns (uint256) {
        reentries = times;
        return vault.withdraw(address(0));
    }

    receive() external payable {
        if (accomplice != address(0)) {
            address to = accomplice;
            accomplice = address(0);
            uint256 balance = shareToken.balanceOf(address(this), shareId);
            try shareToken.safeTransferFrom(address(this), to, shareId, balance, "") {
                moveSucceeded = true;
            } catch (bytes memory reason) {
                lastRevert = reason;
            }
        }
        if (attempts < reentries) {
            attempts += 1;
            try vault.withdraw(address(0)) {
                successes += 1;
            } catch (bytes memory reason) {
                lastRevert = reason;
            }
        }
    }
}
