// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// On-chain receipts of model inferences: who called which model, hashes of prompt and
/// output, token counts and the fee owed to the model's owner. These are the AI-specific
/// transactions of the L2 workload, and the raw material Proof of Attribution pays out on.
contract InferenceReceipts {
    struct Model {
        address owner;
        uint96 feePerToken;
    }

    mapping(bytes32 => Model) public models;
    mapping(bytes32 => uint256) public inferenceCount;
    mapping(address => uint256) public owed;

    event ModelRegistered(bytes32 indexed modelId, address indexed owner, uint96 feePerToken);
    event InferenceRecorded(
        bytes32 indexed modelId,
        address indexed caller,
        bytes32 promptHash,
        bytes32 outputHash,
        uint32 tokensIn,
        uint32 tokensOut,
        uint256 fee
    );

    event AttributionPaid(bytes32 indexed modelId, uint256 contributors, uint256 total);

    error UnknownModel(bytes32 modelId);
    error LengthMismatch();
    error ModelTaken(bytes32 modelId);

    function registerModel(bytes32 modelId, uint96 feePerToken) external {
        if (models[modelId].owner != address(0)) revert ModelTaken(modelId);
        models[modelId] = Model(msg.sender, feePerToken);
        emit ModelRegistered(modelId, msg.sender, feePerToken);
    }

    function recordInference(bytes32 modelId, bytes32 promptHash, bytes32 outputHash, uint32 tokensIn, uint32 tokensOut)
        external
        returns (uint256 fee)
    {
        Model memory m = models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
        fee = uint256(m.feePerToken) * (uint256(tokensIn) + uint256(tokensOut));
        owed[m.owner] += fee;
        inferenceCount[modelId] += 1;
        emit InferenceRecorded(modelId, msg.sender, promptHash, outputHash, tokensIn, tokensOut, fee);
    }

    /// Splits a model's earnings over the data contributors that Proof of Attribution credits.
    function payoutAttribution(bytes32 modelId, address[] calldata contributors, uint256[] calldata shares) external {
        if (models[modelId].owner == address(0)) revert UnknownModel(modelId);
        if (contributors.length != shares.length) revert LengthMismatch();
        uint256 total;
        for (uint256 i = 0; i < contributors.length; i++) {
            owed[contributors[i]] += shares[i];
            total += shares[i];
        }
        emit AttributionPaid(modelId, contributors.length, total);
    }
}
