// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title DatanetRegistry
/// @notice Records datanets: a curated data set, its contributors and the Merkle root of its
///         manifest. Leaves are (uint256 index, address contributor, bytes32 sampleHash) encoded
///         as the OpenZeppelin merkle-tree library's StandardMerkleTree does (double keccak of abi.encode),
///         so anyone can prove on chain that a sample belongs to a datanet and to its contributor.
contract DatanetRegistry {
    struct Datanet {
        address curator;
        bytes32 merkleRoot;
        bytes32 manifestHash;
        uint64 sampleCount;
        uint64 registeredAt;
        string name;
    }

    mapping(bytes32 datanetId => Datanet) private _datanets;
    mapping(bytes32 datanetId => address[]) private _contributors;
    mapping(bytes32 datanetId => mapping(address contributor => uint64)) private _samplesOf;
    bytes32[] private _ids;

    /// @notice A datanet recorded with its curator, roots and sample count.
    event DatanetRegistered(
        bytes32 indexed datanetId, address indexed curator, bytes32 merkleRoot, bytes32 manifestHash, uint64 sampleCount, string name
    );
    /// @notice A contributor and its sample count recorded for a datanet.
    event ContributorRecorded(bytes32 indexed datanetId, address indexed contributor, uint64 samples);

    error DatanetAlreadyRegistered(bytes32 datanetId);
    error UnknownDatanet(bytes32 datanetId);
    error EmptyMerkleRoot();
    error NoContributors();
    error LengthMismatch(uint256 contributors, uint256 sampleCounts);
    error ZeroContributor(uint256 position);
    error DuplicateContributor(address contributor);
    error EmptyContribution(address contributor);
    error WrongDatanetId(bytes32 given, bytes32 expected);

    /// @notice Records a datanet with its curator (the caller), contributors and sample counts.
    /// @dev Permissionless by design: the id must be keccak256(abi.encode(name, merkleRoot)), and the
    ///      root commits to every (index, contributor, sampleHash) leaf, so nobody can take an id for
    ///      other data or change whose samples they are; the curator field grants no rights, and the
    ///      contributor list and sample counts are the curator's statement (a contract that pays or
    ///      stakes on a contributor's samples checks a leaf proof with verifySample, as DataStakes does).
    /// @param datanetId keccak256(abi.encode(name, merkleRoot)), as the lab computes it.
    /// @param sampleCounts samples per contributor, in the order of `contributors`.
    function registerDatanet(
        bytes32 datanetId,
        string calldata name,
        bytes32 merkleRoot,
        bytes32 manifestHash,
        address[] calldata contributors,
        uint64[] calldata sampleCounts
    ) external {
        if (merkleRoot == bytes32(0)) revert EmptyMerkleRoot();
        if (contributors.length == 0) revert NoContributors();
        if (contributors.length != sampleCounts.length) revert LengthMismatch(contributors.length, sampleCounts.length);
        bytes32 expectedId = keccak256(abi.encode(name, merkleRoot));
        if (datanetId != expectedId) revert WrongDatanetId(datanetId, expectedId);
        if (_datanets[datanetId].registeredAt != 0) revert DatanetAlreadyRegistered(datanetId);
        uint64 total;
        for (uint256 i = 0; i < contributors.length; ++i) {
            address c = contributors[i];
            if (c == address(0)) revert ZeroContributor(i);
            if (sampleCounts[i] == 0) revert EmptyContribution(c);
            if (_samplesOf[datanetId][c] != 0) revert DuplicateContributor(c);
            _samplesOf[datanetId][c] = sampleCounts[i];
            _contributors[datanetId].push(c);
            total += sampleCounts[i];
            emit ContributorRecorded(datanetId, c, sampleCounts[i]);
        }
        _datanets[datanetId] = Datanet(msg.sender, merkleRoot, manifestHash, total, uint64(block.timestamp), name);
        _ids.push(datanetId);
        emit DatanetRegistered(datanetId, msg.sender, merkleRoot, manifestHash, total, name);
    }

    /// @notice True when (index, contributor, sampleHash) is a leaf of the datanet's manifest tree.
    function verifySample(bytes32 datanetId, uint256 index, address contributor, bytes32 sampleHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Datanet storage d = _requireDatanet(datanetId);
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(index, contributor, sampleHash))));
        return MerkleProof.verifyCalldata(proof, d.merkleRoot, leaf);
    }

    /// @notice Whether a datanet is registered.
    function exists(bytes32 datanetId) public view returns (bool) {
        return _datanets[datanetId].registeredAt != 0;
    }

    /// @notice The datanet `datanetId`.
    function datanet(bytes32 datanetId) external view returns (Datanet memory) {
        return _requireDatanet(datanetId);
    }

    /// @notice A datanet's contributors, in registration order.
    function contributorsOf(bytes32 datanetId) external view returns (address[] memory) {
        _requireDatanet(datanetId);
        return _contributors[datanetId];
    }

    /// @notice How many samples a contributor gave a datanet (0: none).
    function samplesOf(bytes32 datanetId, address contributor) external view returns (uint64) {
        return _samplesOf[datanetId][contributor];
    }

    /// @notice Number of datanets registered.
    function datanetCount() external view returns (uint256) {
        return _ids.length;
    }

    /// @notice The id of the i-th datanet registered.
    function datanetIdAt(uint256 i) external view returns (bytes32) {
        return _ids[i];
    }

    function _requireDatanet(bytes32 datanetId) private view returns (Datanet storage d) {
        d = _datanets[datanetId];
        if (d.registeredAt == 0) revert UnknownDatanet(datanetId);
    }
}
