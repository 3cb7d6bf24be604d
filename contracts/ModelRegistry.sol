// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {DatanetRegistry} from "./DatanetRegistry.sol";

/// @title ModelRegistry
/// @notice Records fine-tuned adapters produced by the Model Factory: which base model (content
///         hash), which adapter bytes (sha256 of adapter_model.safetensors), which datanets, which
///         spec and which metrics. The datanets must be registered, so every model on chain can
///         be traced to its contributors.
contract ModelRegistry {
    struct ModelRecord {
        address publisher;
        bytes32 baseModelHash;
        bytes32 adapterHash;
        bytes32 specHash;
        bytes32 metricsHash;
        uint64 registeredAt;
        string name;
    }

    /// @notice The registry every model's datanets must be registered in.
    DatanetRegistry public immutable datanets;
    mapping(bytes32 modelId => ModelRecord) private _models;
    mapping(bytes32 modelId => bytes32[]) private _datanetsOf;
    bytes32[] private _ids;

    /// @notice A Factory adapter recorded with its hashes and datanets.
    event ModelRegistered(
        bytes32 indexed modelId,
        address indexed publisher,
        bytes32 indexed baseModelHash,
        bytes32 adapterHash,
        bytes32 specHash,
        bytes32 metricsHash,
        bytes32[] datanetIds,
        string name
    );

    error ModelAlreadyRegistered(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error UnknownDatanet(bytes32 datanetId);
    error NoDatanets();
    error EmptyHash(string field);

    constructor(DatanetRegistry datanetRegistry) {
        datanets = datanetRegistry;
    }

    /// @notice The id a record gets: keccak256(abi.encode(baseModelHash, adapterHash, specHash)).
    function modelIdOf(bytes32 baseModelHash, bytes32 adapterHash, bytes32 specHash) public pure returns (bytes32) {
        return keccak256(abi.encode(baseModelHash, adapterHash, specHash));
    }

    /// @notice Records a Factory adapter with the caller as publisher.
    /// @dev Permissionless by design: the id is the hash of the base-model, adapter and spec hashes,
    ///      so a record can only describe those bytes, and every datanet it names must be registered.
    function registerModel(
        string calldata name,
        bytes32 baseModelHash,
        bytes32 adapterHash,
        bytes32[] calldata datanetIds,
        bytes32 specHash,
        bytes32 metricsHash
    ) external returns (bytes32 modelId) {
        if (baseModelHash == bytes32(0)) revert EmptyHash("baseModelHash");
        if (adapterHash == bytes32(0)) revert EmptyHash("adapterHash");
        if (specHash == bytes32(0)) revert EmptyHash("specHash");
        if (metricsHash == bytes32(0)) revert EmptyHash("metricsHash");
        if (datanetIds.length == 0) revert NoDatanets();
        for (uint256 i = 0; i < datanetIds.length; ++i) {
            if (!datanets.exists(datanetIds[i])) revert UnknownDatanet(datanetIds[i]);
        }
        modelId = modelIdOf(baseModelHash, adapterHash, specHash);
        if (_models[modelId].registeredAt != 0) revert ModelAlreadyRegistered(modelId);
        _models[modelId] = ModelRecord(msg.sender, baseModelHash, adapterHash, specHash, metricsHash, uint64(block.timestamp), name);
        _datanetsOf[modelId] = datanetIds;
        _ids.push(modelId);
        _emitRegistered(modelId);
    }

    // Read back from storage: passing every argument to the event at once is too deep a stack.
    function _emitRegistered(bytes32 modelId) private {
        ModelRecord storage r = _models[modelId];
        emit ModelRegistered(
            modelId, r.publisher, r.baseModelHash, r.adapterHash, r.specHash, r.metricsHash, _datanetsOf[modelId], r.name
        );
    }

    /// @notice The model `modelId`.
    function model(bytes32 modelId) external view returns (ModelRecord memory record) {
        record = _models[modelId];
        if (record.registeredAt == 0) revert UnknownModel(modelId);
    }

    /// @notice The datanets a model was trained on.
    function datanetsOf(bytes32 modelId) external view returns (bytes32[] memory) {
        if (_models[modelId].registeredAt == 0) revert UnknownModel(modelId);
        return _datanetsOf[modelId];
    }

    /// @notice Number of models registered.
    function modelCount() external view returns (uint256) {
        return _ids.length;
    }

    /// @notice The id of the i-th model registered.
    function modelIdAt(uint256 i) external view returns (bytes32) {
        return _ids[i];
    }
}
