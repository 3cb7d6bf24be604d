// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {BN254} from "./BN254.sol";

/// @title OperatorRegistry
/// @notice The lab's stand-in for EigenLayer's registry coordinator, stake registry and BLS APK
///         registry in one: operators' G1 keys and stakes per quorum, each quorum's total stake and
///         aggregate public key. It keeps the current state only (no history by block number).
///         A key is accepted only with a proof of possession, as EigenLayer's BLSApkRegistry
///         requires: the key's BLS signature of the operator's registration message, checked with
///         the pairing precompile against the same secret key in G2. Without it, a rogue key
///         (an attacker's key minus honest keys) would let one secret key sign for the whole quorum.
contract OperatorRegistry is AccessControl, EIP712 {
    using BN254 for BN254.G1Point;

    /// @notice Held by the account that admits operators and sets their stakes.
    bytes32 public constant OPERATOR_MANAGER_ROLE = keccak256("OPERATOR_MANAGER_ROLE");
    /// @notice The EIP-712 type of the message a key's proof of possession signs (EigenLayer's).
    bytes32 public constant PUBKEY_REGISTRATION_TYPEHASH = keccak256("BN254PubkeyRegistration(address operator)");

    /// @notice Stake of an operator (by id) in a quorum.
    mapping(bytes32 => mapping(uint8 => uint96)) public stakeOf;
    /// @notice Sum of all registered stakes of a quorum.
    mapping(uint8 => uint256) public totalStake;
    /// @notice The operator account each registered key (by id) belongs to.
    mapping(bytes32 operatorId => address) public operatorOf;
    mapping(uint8 => BN254.G1Point) internal _quorumApk;

    /// @notice An operator joined quorums with these stakes.
    event OperatorRegistered(bytes32 indexed operatorId, uint256 pubkeyX, uint256 pubkeyY, uint8[] quorums, uint96[] stakes);

    error LengthMismatch(uint256 quorums, uint256 stakes);
    error AlreadyRegistered(bytes32 operatorId, uint8 quorum);
    error ZeroStake(bytes32 operatorId, uint8 quorum);
    error ZeroPubkey();
    error KeyOfAnotherOperator(bytes32 operatorId, address registeredTo);
    error InvalidPossessionProof(bytes32 operatorId);

    /// @notice Deploys the registry with its operator manager.
    /// @param manager receives OPERATOR_MANAGER_ROLE and the role's administration.
    constructor(address manager) EIP712("OperatorRegistry", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, manager);
        _grantRole(OPERATOR_MANAGER_ROLE, manager);
    }

    /// @notice The G1 point an operator's key signs to prove possession: BN254.hashToG1 of the
    ///         EIP-712 digest of BN254PubkeyRegistration(operator), as EigenLayer's coordinator hashes it.
    function pubkeyRegistrationMessageHash(address operator) public view returns (BN254.G1Point memory) {
        return BN254.hashToG1(_hashTypedDataV4(keccak256(abi.encode(PUBKEY_REGISTRATION_TYPEHASH, operator))));
    }

    /// @notice Registers an operator's key in quorums with the given stakes (operator manager only).
    /// @param operator the account the key is registered to; the proof of possession names it.
    /// @param pubkey the operator's G1 key, added to each quorum's aggregate key.
    /// @param pubkeyG2 the same secret key in G2.
    /// @param possessionSignature [sk] pubkeyRegistrationMessageHash(operator), in G1.
    function registerOperator(
        address operator,
        BN254.G1Point calldata pubkey,
        BN254.G2Point calldata pubkeyG2,
        BN254.G1Point calldata possessionSignature,
        uint8[] calldata quorums,
        uint96[] calldata stakes
    ) external onlyRole(OPERATOR_MANAGER_ROLE) {
        bytes32 id = BN254.hashG1Point(pubkey);
        if (pubkey.X == 0 && pubkey.Y == 0) revert ZeroPubkey();
        if (!_possesses(operator, pubkey, pubkeyG2, possessionSignature)) revert InvalidPossessionProof(id);
        _addOperator(operator, pubkey, quorums, stakes);
    }

    /// @notice The aggregate G1 public key of a quorum's operators.
    function quorumApk(uint8 quorum) external view returns (BN254.G1Point memory) {
        return _quorumApk[quorum];
    }

    /// @dev e(sigma + gamma * pk, -G2) * e(H + gamma * G1, pkG2) == 1, gamma hashed from every input
    ///      in BLSApkRegistry's order: one pairing checks both the signature and that pk and pkG2
    ///      share their secret key.
    function _possesses(address operator, BN254.G1Point calldata pk, BN254.G2Point calldata pkG2, BN254.G1Point calldata sigma)
        internal
        view
        returns (bool)
    {
        BN254.G1Point memory h = pubkeyRegistrationMessageHash(operator);
        uint256 gamma = uint256(
            keccak256(abi.encodePacked(sigma.X, sigma.Y, pk.X, pk.Y, pkG2.X, pkG2.Y, h.X, h.Y))
        ) % BN254.FR_MODULUS;
        BN254.G1Point memory s = sigma;
        BN254.G1Point memory p = pk;
        (bool success, bool valid) = BN254.safePairing(
            s.plus(p.scalarMul(gamma)), BN254.negGeneratorG2(), h.plus(BN254.generatorG1().scalarMul(gamma)), pkG2
        );
        return success && valid;
    }

    /// @dev The key is added to each quorum's aggregate key with ecAdd; a key off the curve reverts there.
    function _addOperator(address operator, BN254.G1Point memory pubkey, uint8[] calldata quorums, uint96[] calldata stakes) internal {
        if (quorums.length != stakes.length) revert LengthMismatch(quorums.length, stakes.length);
        bytes32 id = BN254.hashG1Point(pubkey);
        address registeredTo = operatorOf[id];
        if (registeredTo != address(0) && registeredTo != operator) revert KeyOfAnotherOperator(id, registeredTo);
        operatorOf[id] = operator;
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
}
