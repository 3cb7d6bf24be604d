// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {RewardDistributor} from "../RewardDistributor.sol";

/// @title InferenceReceipts
/// @notice On-chain receipts of model inferences, the AI-specific transactions of the L2 workload.
///         Two kinds: a single inference paid in the call (its fee split between the model's owner,
///         who withdraws it, and the reward pool the data share funds), and a batch of served
///         inferences committed by a Merkle root that a registered server signed (EIP-712), so a
///         receipt verifies only under a root its server vouched for.
contract InferenceReceipts is AccessControl, ReentrancyGuard, EIP712 {
    /// @notice Held by the signing keys of inference servers whose receipt batches are accepted.
    bytes32 public constant SERVER_ROLE = keccak256("SERVER_ROLE");
    /// @notice The EIP-712 type a server signs for each batch it seals.
    bytes32 public constant RECEIPT_BATCH_TYPEHASH = keccak256("ReceiptBatch(bytes32 root,bytes32 baseModelHash,uint32 count)");
    uint256 internal constant BPS = 10_000;

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
        // True when the client left before the end: tokensOut counts the tokens it received.
        bool cut;
        bytes32 backend;
    }

    /// A batch of receipts committed by its Merkle root (OpenZeppelin StandardMerkleTree leaves),
    /// with the server that signed it and the account that submitted it.
    struct ReceiptBatch {
        bytes32 root;
        bytes32 baseModelHash;
        uint32 count;
        address server;
        address submitter;
        uint64 recordedAt;
    }

    /// @notice Where the data share of every fee goes: the reward pool contributors are paid from.
    RewardDistributor public immutable rewardPool;
    /// @notice The data share of each fee, in basis points.
    uint16 public immutable dataShareBps;

    /// @notice Registered models by key: owner and fee per token.
    mapping(bytes32 modelKey => Model) public models;
    /// @notice Paid inferences recorded per model.
    mapping(bytes32 modelKey => uint256) public inferenceCount;
    /// @notice Fees' owner shares received and not yet withdrawn, by model owner.
    mapping(address account => uint256) public owed;
    /// @notice The sum of `owed`: the native balance this contract must hold.
    uint256 public totalOwed;
    /// @notice Roots recorded per server.
    mapping(address server => mapping(bytes32 root => bool)) public rootRecorded;
    ReceiptBatch[] private _receiptBatches;

    /// @notice A model registered under its owner-namespaced key.
    event ModelRegistered(bytes32 indexed modelKey, address indexed owner, bytes32 modelId, uint96 feePerToken);
    /// @notice A paid inference recorded, with its fee and data share.
    event InferenceRecorded(
        bytes32 indexed modelKey,
        address indexed caller,
        bytes32 promptHash,
        bytes32 outputHash,
        uint32 tokensIn,
        uint32 tokensOut,
        uint256 fee,
        uint256 dataShare
    );
    /// @notice An owner withdrew its shares of fees.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice A server-signed batch of receipts recorded.
    event ReceiptBatchRecorded(
        uint256 indexed batchId, bytes32 indexed root, bytes32 indexed baseModelHash, uint32 count, address server, address submitter
    );

    error UnknownModel(bytes32 modelKey);
    error ModelTaken(bytes32 modelKey);
    error WrongFee(uint256 sent, uint256 expected);
    error NothingOwed(address account);
    error NativeTransferFailed(address account, uint256 amount);
    error DataShareTooLarge(uint16 dataShareBps);
    error ZeroAddress();
    error EmptyBatch();
    error NotServer(address signer);
    error RootAlreadyRecorded(address server, bytes32 root);
    error UnknownBatch(uint256 batchId);

    /// @notice Deploys the receipts contract with its reward pool and data share.
    /// @param admin may grant and revoke SERVER_ROLE.
    /// @param pool the reward pool the data share of every fee funds.
    /// @param dataShareBps_ the data share of each fee in basis points (at most 10000).
    /// @param servers signing keys granted SERVER_ROLE at once (more later by the admin).
    constructor(address admin, RewardDistributor pool, uint16 dataShareBps_, address[] memory servers) EIP712("InferenceReceipts", "1") {
        if (admin == address(0) || address(pool) == address(0)) revert ZeroAddress();
        if (dataShareBps_ > BPS) revert DataShareTooLarge(dataShareBps_);
        rewardPool = pool;
        dataShareBps = dataShareBps_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        for (uint256 i = 0; i < servers.length; i++) _grantRole(SERVER_ROLE, servers[i]);
    }

    /// @notice The key a model is registered under: its id namespaced by its owner, so nobody can
    ///         take another owner's id first.
    function modelKeyOf(address owner, bytes32 modelId) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, modelId));
    }

    /// @notice Registers a model with the caller as owner and its fee per token.
    /// @dev Permissionless by design: the key is bound to the caller, so a registration can only
    ///      name the caller as the one paid.
    function registerModel(bytes32 modelId, uint96 feePerToken) external returns (bytes32 modelKey) {
        modelKey = modelKeyOf(msg.sender, modelId);
        if (models[modelKey].owner != address(0)) revert ModelTaken(modelKey);
        models[modelKey] = Model(msg.sender, feePerToken);
        emit ModelRegistered(modelKey, msg.sender, modelId, feePerToken);
    }

    /// @notice The fee an inference of `tokensIn + tokensOut` tokens on a model costs.
    function feeOf(bytes32 modelKey, uint32 tokensIn, uint32 tokensOut) public view returns (uint256) {
        Model memory m = models[modelKey];
        if (m.owner == address(0)) revert UnknownModel(modelKey);
        return uint256(m.feePerToken) * (uint256(tokensIn) + uint256(tokensOut));
    }

    /// @notice Records one inference, paid in the call: msg.value must equal the fee. The data
    ///         share funds the reward pool; the rest is owed to the model's owner.
    /// @dev Permissionless by design: the caller pays for what is credited.
    function recordInference(bytes32 modelKey, bytes32 promptHash, bytes32 outputHash, uint32 tokensIn, uint32 tokensOut)
        external
        payable
        nonReentrant
        returns (uint256 fee)
    {
        fee = feeOf(modelKey, tokensIn, tokensOut);
        if (msg.value != fee) revert WrongFee(msg.value, fee);
        uint256 dataShare = (fee * dataShareBps) / BPS;
        address owner = models[modelKey].owner;
        owed[owner] += fee - dataShare;
        totalOwed += fee - dataShare;
        inferenceCount[modelKey] += 1;
        emit InferenceRecorded(modelKey, msg.sender, promptHash, outputHash, tokensIn, tokensOut, fee, dataShare);
        if (dataShare != 0) rewardPool.fundRewardPool{value: dataShare}();
    }

    /// @notice Pays the caller everything owed to it.
    /// @dev Permissionless by design: it pays only what is owed to the caller.
    function withdraw() external nonReentrant {
        uint256 amount = owed[msg.sender];
        if (amount == 0) revert NothingOwed(msg.sender);
        owed[msg.sender] = 0;
        totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert NativeTransferFailed(msg.sender, amount);
    }

    /// @notice The EIP-712 digest a server signs for a batch.
    function batchDigest(bytes32 root, bytes32 baseModelHash, uint32 count) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RECEIPT_BATCH_TYPEHASH, root, baseModelHash, count)));
    }

    /// @notice Records a batch of served inferences by the Merkle root over their receipts.
    /// @dev Permissionless by design: anyone may relay a batch, but it is recorded under the
    ///      server whose SERVER_ROLE key signed it, and a root signed by any other key is refused.
    /// @param root StandardMerkleTree root over ServedInference leaves
    /// @param baseModelHash the base model every receipt of the batch was served on
    /// @param count the number of receipts under the root
    /// @param serverSignature the server's EIP-712 signature of (root, baseModelHash, count)
    /// @return batchId the index to verify receipts against
    function recordReceiptBatch(bytes32 root, bytes32 baseModelHash, uint32 count, bytes calldata serverSignature)
        external
        returns (uint256 batchId)
    {
        if (count == 0 || root == bytes32(0)) revert EmptyBatch();
        address server = ECDSA.recover(batchDigest(root, baseModelHash, count), serverSignature);
        if (!hasRole(SERVER_ROLE, server)) revert NotServer(server);
        if (rootRecorded[server][root]) revert RootAlreadyRecorded(server, root);
        rootRecorded[server][root] = true;
        batchId = _receiptBatches.length;
        _receiptBatches.push(ReceiptBatch(root, baseModelHash, count, server, msg.sender, uint64(block.timestamp)));
        emit ReceiptBatchRecorded(batchId, root, baseModelHash, count, server, msg.sender);
    }

    /// @notice The recorded batch `batchId`.
    function receiptBatch(uint256 batchId) external view returns (ReceiptBatch memory) {
        if (batchId >= _receiptBatches.length) revert UnknownBatch(batchId);
        return _receiptBatches[batchId];
    }

    /// @notice Number of receipt batches recorded.
    function receiptBatchCount() external view returns (uint256) {
        return _receiptBatches.length;
    }

    /// @notice True when `receipt` is under batch `batchId`'s root by `proof`, names the batch's
    ///         base model, and the batch's server still holds SERVER_ROLE (a revoked server's
    ///         receipts stop verifying).
    function verifyReceipt(uint256 batchId, ServedInference calldata receipt, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (batchId >= _receiptBatches.length) revert UnknownBatch(batchId);
        ReceiptBatch storage batch = _receiptBatches[batchId];
        if (receipt.baseModelHash != batch.baseModelHash || !hasRole(SERVER_ROLE, batch.server)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(receipt))));
        return MerkleProof.verifyCalldata(proof, batch.root, leaf);
    }
}
