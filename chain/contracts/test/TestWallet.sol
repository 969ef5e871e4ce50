// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// A contract wallet for tests of Sign-In with Ethereum: one owner key, EIP-1271 signatures.
/// A signature is valid when the owner signed the hash (for a sign-in message: its EIP-191
/// hash, so the owner's ordinary personal_sign signature is the wallet's signature).
contract TestWallet is IERC1271 {
    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature)
        external
        view
        returns (bytes4)
    {
        (address signer, ECDSA.RecoverError failure, ) = ECDSA.tryRecover(hash, signature);
        if (failure == ECDSA.RecoverError.NoError && signer == owner) {
            return IERC1271.isValidSignature.selector;
        }
        return 0xffffffff;
    }
}

/// Deploys TestWallets at addresses known before deployment (CREATE2), so a wallet can sign
/// in before it exists (EIP-6492: the signature says how to deploy it).
contract TestWalletFactory {
    event WalletDeployed(address wallet, address owner, bytes32 salt);

    function deploy(address owner_, bytes32 salt) external returns (address wallet) {
        wallet = address(new TestWallet{salt: salt}(owner_));
        emit WalletDeployed(wallet, owner_, salt);
    }

    function predict(address owner_, bytes32 salt) external view returns (address) {
        bytes32 code = keccak256(abi.encodePacked(type(TestWallet).creationCode, abi.encode(owner_)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, code)))));
    }
}
