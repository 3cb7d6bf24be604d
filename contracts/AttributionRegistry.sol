// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title AttributionRegistry
/// @notice One record per attributed inference: which model and adapter answered, hashes of the
///         input and output, the attribution method, the Merkle root of the contributor amounts
///         the inference's data share pays, and the hash of the evidence (the scores file) from
///         which those amounts were computed. Records are write-once.
contract AttributionRegistry is Ownable {
    struct Attribution {
        bytes32 modelId;
        bytes32 adapterId;
        bytes32 inputHash;
        bytes32 outputHash;
        bytes32 method;
        bytes32 rewardsRoot;
        bytes32 evidenceHash;
        uint256 dataShare;
        address attester;
        uint64 recordedAt;
    }

    mapping(bytes32 inferenceId => Attribution) private _records;
    /// @notice Accounts allowed to record attributions.
    mapping(address account => bool) public isAttester;
    /// @notice Number of inferences recorded.
    uint256 public recordCount;

    /// @notice An account allowed or disallowed to record attributions.
    event AttesterSet(address indexed account, bool allowed);
    /// @notice An attributed inference recorded.
    event InferenceAttributed(
        bytes32 indexed inferenceId,
        bytes32 indexed modelId,
        bytes32 indexed adapterId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 method,
        bytes32 rewardsRoot,
        bytes32 evidenceHash,
        uint256 dataShare,
        address attester
    );

    error NotAttester(address caller);
    error AlreadyRecorded(bytes32 inferenceId);
    error EmptyField(string field);
    error UnknownInference(bytes32 inferenceId);

    constructor(address owner_) Ownable(owner_) {
        isAttester[owner_] = true;
        emit AttesterSet(owner_, true);
    }

    /// @notice Allows or disallows an account to record attributions (owner only).
    function setAttester(address account, bool allowed) external onlyOwner {
        isAttester[account] = allowed;
        emit AttesterSet(account, allowed);
    }

    /// @notice Records one attributed inference, once (attesters only).
    /// @param rewardsRoot may be zero only when `dataShare` is zero (nothing to pay, e.g. all
    ///        influence negative); the reason then lives in the evidence.
    function record(
        bytes32 inferenceId,
        bytes32 modelId,
        bytes32 adapterId,
        bytes32 inputHash,
        bytes32 outputHash,
        bytes32 method,
        bytes32 rewardsRoot,
        bytes32 evidenceHash,
        uint256 dataShare
    ) external {
        if (!isAttester[msg.sender]) revert NotAttester(msg.sender);
        if (_records[inferenceId].recordedAt != 0) revert AlreadyRecorded(inferenceId);
        if (inferenceId == bytes32(0)) revert EmptyField("inferenceId");
        if (modelId == bytes32(0)) revert EmptyField("modelId");
        if (outputHash == bytes32(0)) revert EmptyField("outputHash");
        if (evidenceHash == bytes32(0)) revert EmptyField("evidenceHash");
        if (rewardsRoot == bytes32(0) && dataShare != 0) revert EmptyField("rewardsRoot");
        _records[inferenceId] = Attribution(
            modelId, adapterId, inputHash, outputHash, method, rewardsRoot, evidenceHash, dataShare, msg.sender, uint64(block.timestamp)
        );
        recordCount += 1;
        emit InferenceAttributed(
            inferenceId, modelId, adapterId, inputHash, outputHash, method, rewardsRoot, evidenceHash, dataShare, msg.sender
        );
    }

    /// @notice The record of an attributed inference.
    function attributionOf(bytes32 inferenceId) external view returns (Attribution memory a) {
        a = _records[inferenceId];
        if (a.recordedAt == 0) revert UnknownInference(inferenceId);
    }
}
