// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BN254} from "./BN254.sol";

/// @title OperatorRegistry
/// @notice The lab's stand-in for EigenLayer's registry coordinator, stake registry and BLS APK
///         registry in one: operators' G1 keys and stakes per quorum, each quorum's total stake and
///         aggregate public key. It keeps the current state only (no history by block number).
contract OperatorRegistry {
    using BN254 for BN254.G1Point;

    address public immutable owner;

    /// @notice Stake of an operator (by id) in a quorum.
    mapping(bytes32 => mapping(uint8 => uint96)) public stakeOf;
    /// @notice Sum of all registered stakes of a quorum.
    mapping(uint8 => uint256) public totalStake;
    mapping(uint8 => BN254.G1Point) internal _quorumApk;

    /// @notice An operator joined quorums with these stakes.
    event OperatorRegistered(bytes32 indexed operatorId, uint256 pubkeyX, uint256 pubkeyY, uint8[] quorums, uint96[] stakes);

    error NotOwner();
    error LengthMismatch(uint256 quorums, uint256 stakes);
    error AlreadyRegistered(bytes32 operatorId, uint8 quorum);
    error ZeroStake(bytes32 operatorId, uint8 quorum);

    constructor() {
        owner = msg.sender;
    }

    /// @notice Registers an operator's G1 key in quorums with the given stakes (owner only).
    /// @dev The key is added to each quorum's aggregate key with ecAdd; a key off the curve reverts there.
    function registerOperator(BN254.G1Point calldata pubkey, uint8[] calldata quorums, uint96[] calldata stakes) external {
        if (msg.sender != owner) revert NotOwner();
        if (quorums.length != stakes.length) revert LengthMismatch(quorums.length, stakes.length);
        bytes32 id = BN254.hashG1Point(pubkey);
        for (uint256 i = 0; i < quorums.length; i++) {
            uint8 q = quorums[i];
            if (stakeOf[id][q] != 0) revert AlreadyRegistered(id, q);
            if (stakes[i] == 0) revert ZeroStake(id, q);
            stakeOf[id][q] = stakes[i];
            totalStake[q] += stakes[i];
            _quorumApk[q] = _quorumApk[q].plus(pubkey);
        }
        emit OperatorRegistered(id, pubkey.X, pubkey.Y, quorums, stakes);
    }

    /// @notice The aggregate G1 public key of a quorum's operators.
    function quorumApk(uint8 quorum) external view returns (BN254.G1Point memory) {
        return _quorumApk[quorum];
    }
}
