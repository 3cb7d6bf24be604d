// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title ReferenceMerkleDistributor
/// @notice The common one-root airdrop pattern built from OpenZeppelin's parts (MerkleProof,
///         BitMaps, SafeERC20): leaves (index, account, amount), claimed bits by index, one token,
///         no epochs and no total cap. The gas benchmark sets RewardDistributor's claim beside it.
contract ReferenceMerkleDistributor {
    using BitMaps for BitMaps.BitMap;
    using SafeERC20 for IERC20;

    /// @notice The token paid.
    IERC20 public immutable token;
    /// @notice The root of the (index, account, amount) tree.
    bytes32 public immutable merkleRoot;
    BitMaps.BitMap private _claimed;

    /// @notice A leaf paid.
    event Claimed(uint256 index, address account, uint256 amount);

    error AlreadyClaimed(uint256 index);
    error InvalidProof();

    /// @notice Deploys the distributor for one token and root.
    constructor(IERC20 token_, bytes32 merkleRoot_) {
        token = token_;
        merkleRoot = merkleRoot_;
    }

    /// @notice Pays leaf `index` to its account.
    function claim(uint256 index, address account, uint256 amount, bytes32[] calldata proof) external {
        if (_claimed.get(index)) revert AlreadyClaimed(index);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, account, amount))));
        if (!MerkleProof.verifyCalldata(proof, merkleRoot, leaf)) revert InvalidProof();
        _claimed.set(index);
        emit Claimed(index, account, amount);
        token.safeTransfer(account, amount);
    }
}
