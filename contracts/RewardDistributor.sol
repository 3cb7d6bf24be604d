// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title RewardDistributor
/// @notice Pays the data share of inference fees to contributors by Merkle proof. Each epoch
///         holds a root over leaves (account, amount), built as OpenZeppelin's StandardMerkleTree
///         does (keccak256 of keccak256(abi.encode(account, amount)), sorted pairs), and the total
///         it was funded with, in native currency (token = address(0)) or one ERC-20.
///         An account claims once per epoch; the sum of claims can never exceed the epoch's total.
///         Beside the epochs it holds the reward pool: native currency received (the data share of
///         inference fees, slashed stakes) that the owner, the attester, allocates to epochs.
contract RewardDistributor is Ownable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    struct Epoch {
        bytes32 root;
        address token;
        uint256 total;
        uint256 claimed;
        bytes32 attributionId;
    }

    Epoch[] private _epochs;
    /// @notice Whether an account has claimed its leaf of an epoch.
    mapping(uint256 epochId => mapping(address account => bool)) public hasClaimed;
    /// @notice Native currency received into the pool and not yet allocated to an epoch.
    uint256 public rewardPool;

    /// @notice An epoch opened with its root, token, total and the attribution it pays.
    event EpochCreated(uint256 indexed epochId, bytes32 root, address indexed token, uint256 total, bytes32 indexed attributionId);
    /// @notice A leaf of an epoch paid to its account.
    event Claimed(uint256 indexed epochId, address indexed account, uint256 amount);
    /// @notice Native currency added to the reward pool.
    event RewardPoolFunded(address indexed from, uint256 amount);

    error ZeroRoot();
    error ZeroTotal();
    error WrongValue(uint256 sent, uint256 expected);
    error UnknownEpoch(uint256 epochId);
    error AlreadyClaimed(uint256 epochId, address account);
    error InvalidProof(uint256 epochId, address account, uint256 amount);
    error ExceedsEpochTotal(uint256 epochId, uint256 requested, uint256 remaining);
    error NativeTransferFailed(address account, uint256 amount);
    error ExceedsRewardPool(uint256 requested, uint256 pool);

    /// @notice Deploys the distributor with its owner.
    /// @param owner_ the attester: the only account that opens epochs.
    constructor(address owner_) Ownable(owner_) {}

    /// @notice Adds msg.value to the reward pool.
    /// @dev Permissionless by design: it only adds value and credits no one.
    function fundRewardPool() external payable {
        if (msg.value == 0) revert ZeroTotal();
        rewardPool += msg.value;
        emit RewardPoolFunded(msg.sender, msg.value);
    }

    /// @notice Opens a native-currency epoch funded from the reward pool.
    function createEpochFromPool(bytes32 root, uint256 total, bytes32 attributionId) external onlyOwner returns (uint256 epochId) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (total == 0) revert ZeroTotal();
        if (total > rewardPool) revert ExceedsRewardPool(total, rewardPool);
        rewardPool -= total;
        epochId = _openEpoch(root, address(0), total, attributionId);
    }

    /// @notice Opens an epoch and funds it in full: msg.value for native currency, else
    ///         `total` tokens pulled from the caller (approve first).
    function createEpoch(bytes32 root, address token, uint256 total, bytes32 attributionId)
        external
        payable
        onlyOwner
        nonReentrant
        returns (uint256 epochId)
    {
        if (root == bytes32(0)) revert ZeroRoot();
        if (total == 0) revert ZeroTotal();
        uint256 expectedValue = token == address(0) ? total : 0;
        if (msg.value != expectedValue) revert WrongValue(msg.value, expectedValue);
        epochId = _openEpoch(root, token, total, attributionId);
        if (token != address(0)) IERC20(token).safeTransferFrom(msg.sender, address(this), total);
    }

    function _openEpoch(bytes32 root, address token, uint256 total, bytes32 attributionId) private returns (uint256 epochId) {
        epochId = _epochs.length;
        _epochs.push(Epoch(root, token, total, 0, attributionId));
        emit EpochCreated(epochId, root, token, total, attributionId);
    }

    /// @notice Pays `amount` to `account`.
    /// @dev Permissionless by design: anyone may submit a proof, and the funds go to the leaf's account only.
    function claim(uint256 epochId, address account, uint256 amount, bytes32[] calldata proof) external nonReentrant {
        // checks
        if (epochId >= _epochs.length) revert UnknownEpoch(epochId);
        Epoch storage e = _epochs[epochId];
        if (hasClaimed[epochId][account]) revert AlreadyClaimed(epochId, account);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, amount))));
        if (!MerkleProof.verifyCalldata(proof, e.root, leaf)) revert InvalidProof(epochId, account, amount);
        uint256 remaining = e.total - e.claimed;
        if (amount > remaining) revert ExceedsEpochTotal(epochId, amount, remaining);
        // effects
        hasClaimed[epochId][account] = true;
        e.claimed += amount;
        emit Claimed(epochId, account, amount);
        // interactions
        if (e.token == address(0)) {
            (bool ok,) = payable(account).call{value: amount}("");
            if (!ok) revert NativeTransferFailed(account, amount);
        } else {
            IERC20(e.token).safeTransfer(account, amount);
        }
    }

    /// @notice The epoch `epochId`.
    function epoch(uint256 epochId) external view returns (Epoch memory) {
        if (epochId >= _epochs.length) revert UnknownEpoch(epochId);
        return _epochs[epochId];
    }

    /// @notice Number of epochs opened.
    function epochCount() external view returns (uint256) {
        return _epochs.length;
    }
}
