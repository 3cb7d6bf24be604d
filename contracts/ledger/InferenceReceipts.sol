// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// On-chain receipts of model inferences: who called which model, hashes of prompt and
/// output, token counts and the fee owed to the model's owner. These are the AI-specific
/// transactions of the L2 workload, and the raw material Proof of Attribution pays out on.
contract InferenceReceipts {
    struct Model {
        address owner;
        uint96 feePerToken;
    }

    /// One served inference, as OpenLoRA's receipts hold it: the leaf of a receipt batch.
    struct ServedInference {
        bytes32 requestId;
        bytes32 adapterHash;
        bytes32 baseModelHash;
        bytes32 promptHash;
        bytes32 outputHash;
        uint32 tokensIn;
        uint32 tokensOut;
        uint64 latencyMicros;
        bytes32 backend;
    }

    /// A batch of receipts committed by its Merkle root (OpenZeppelin StandardMerkleTree leaves).
    struct ReceiptBatch {
        bytes32 root;
        bytes32 baseModelHash;
        uint32 count;
        address submitter;
        uint64 recordedAt;
    }

    mapping(bytes32 => Model) public models;
    ReceiptBatch[] private _receiptBatches;
    mapping(bytes32 root => bool) public rootRecorded;
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
    event ReceiptBatchRecorded(
        uint256 indexed batchId, bytes32 indexed root, bytes32 indexed baseModelHash, uint32 count, address submitter
    );

    error UnknownModel(bytes32 modelId);
    error LengthMismatch();
    error ModelTaken(bytes32 modelId);
    error EmptyBatch();
    error RootAlreadyRecorded(bytes32 root);
    error UnknownBatch(uint256 batchId);

    /// Records a batch of served inferences by the Merkle root over their receipts.
    /// @param root StandardMerkleTree root over ServedInference leaves
    /// @param baseModelHash the base model every receipt of the batch was served on
    /// @param count the number of receipts under the root
    /// @return batchId the index to verify receipts against
    function recordReceiptBatch(bytes32 root, bytes32 baseModelHash, uint32 count) external returns (uint256 batchId) {
        if (count == 0 || root == bytes32(0)) revert EmptyBatch();
        if (rootRecorded[root]) revert RootAlreadyRecorded(root);
        rootRecorded[root] = true;
        batchId = _receiptBatches.length;
        _receiptBatches.push(ReceiptBatch(root, baseModelHash, count, msg.sender, uint64(block.timestamp)));
        emit ReceiptBatchRecorded(batchId, root, baseModelHash, count, msg.sender);
    }

    /// The recorded batch `batchId`.
    function receiptBatch(uint256 batchId) external view returns (ReceiptBatch memory) {
        if (batchId >= _receiptBatches.length) revert UnknownBatch(batchId);
        return _receiptBatches[batchId];
    }

    /// Number of receipt batches recorded.
    function receiptBatchCount() external view returns (uint256) {
        return _receiptBatches.length;
    }

    /// True when `receipt` is under batch `batchId`'s root by `proof` and names the batch's base model.
    function verifyReceipt(uint256 batchId, ServedInference calldata receipt, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (batchId >= _receiptBatches.length) revert UnknownBatch(batchId);
        ReceiptBatch storage batch = _receiptBatches[batchId];
        if (receipt.baseModelHash != batch.baseModelHash) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(receipt))));
        return MerkleProof.verifyCalldata(proof, batch.root, leaf);
    }

    /// Registers a model id with its owner (the caller) and fee per token.
    function registerModel(bytes32 modelId, uint96 feePerToken) external {
        if (models[modelId].owner != address(0)) revert ModelTaken(modelId);
        models[modelId] = Model(msg.sender, feePerToken);
        emit ModelRegistered(modelId, msg.sender, feePerToken);
    }

    /// Records one inference on a registered model and credits its owner the fee.
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
