// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BN254} from "./BN254.sol";
import {OperatorRegistry} from "./OperatorRegistry.sol";

/// @title EigenDACertVerifier
/// @notice Checks EigenDA V2 certificates (EigenDACertV3) in the mould of EigenDA's
///         EigenDACertVerifier and EigenDACertVerificationLib: the blob certificate's Merkle
///         inclusion in the batch root, the blob version's security parameters, the aggregate BLS
///         signature over the batch header (pairing precompile), each signed quorum's stake against
///         the confirmation threshold, and requiredQuorums ⊆ blobQuorums ⊆ confirmedQuorums.
///         checkDACert never reverts: it returns SUCCESS, INVALID_CERT or INTERNAL_ERROR.
contract EigenDACertVerifier {
    using BN254 for BN254.G1Point;

    /// @notice EigenDACertVerifier's status codes (the four unused ones kept for their numbering).
    enum StatusCode {
        NULL_ERROR,
        SUCCESS,
        UNUSED_HISTORICAL_INVALID_INCLUSION_PROOF,
        UNUSED_HISTORICAL_SECURITY_ASSUMPTIONS_NOT_MET,
        UNUSED_HISTORICAL_BLOB_QUORUMS_NOT_SUBSET,
        UNUSED_HISTORICAL_REQUIRED_QUORUMS_NOT_SUBSET,
        INVALID_CERT,
        INTERNAL_ERROR
    }

    struct VersionedBlobParams {
        uint32 maxNumOperators;
        uint32 numChunks;
        uint8 codingRate;
    }

    struct SecurityThresholds {
        uint8 confirmationThreshold;
        uint8 adversaryThreshold;
    }

    struct BlobCommitment {
        BN254.G1Point commitment;
        BN254.G2Point lengthCommitment;
        BN254.G2Point lengthProof;
        uint32 length;
    }

    struct BlobHeaderV2 {
        uint16 version;
        bytes quorumNumbers;
        BlobCommitment commitment;
        bytes32 paymentHeaderHash;
    }

    struct BlobCertificate {
        BlobHeaderV2 blobHeader;
        bytes signature;
        uint32[] relayKeys;
    }

    struct BatchHeaderV2 {
        bytes32 batchRoot;
        uint32 referenceBlockNumber;
    }

    struct BlobInclusionInfo {
        BlobCertificate blobCertificate;
        uint32 blobIndex;
        bytes inclusionProof;
    }

    /// @dev EigenDATypesV1.NonSignerStakesAndSignature, all eight fields in EigenLayer's order. The
    ///      index lists point into the registries' histories; the lab's registry keeps one entry,
    ///      so each index must be 0 and each list must have the length BLSSignatureChecker requires.
    struct NonSignerStakesAndSignature {
        uint32[] nonSignerQuorumBitmapIndices;
        BN254.G1Point[] nonSignerPubkeys;
        BN254.G1Point[] quorumApks;
        BN254.G2Point apkG2;
        BN254.G1Point sigma;
        uint32[] quorumApkIndices;
        uint32[] totalStakeIndices;
        uint32[][] nonSignerStakeIndices;
    }

    struct EigenDACertV3 {
        BatchHeaderV2 batchHeader;
        BlobInclusionInfo blobInclusionInfo;
        NonSignerStakesAndSignature nonSignerStakesAndSignature;
        bytes signedQuorumNumbers;
    }

    uint256 internal constant THRESHOLD_DENOMINATOR = 100;
    uint256 internal constant MAX_QUORUM_COUNT = 5;
    uint256 internal constant MAX_CALLDATA_BYTES_LENGTH = 262_144;
    uint256 internal constant MAX_ABI_DECODE_GAS = 2_097_152;
    uint8 internal constant CERT_VERSION = 3;

    /// @notice Operator keys and stakes the signatures are checked against.
    OperatorRegistry public immutable registry;
    SecurityThresholds internal _securityThresholds;
    bytes internal _quorumNumbersRequired;
    mapping(uint16 => VersionedBlobParams) internal _blobParams;
    /// @notice One past the highest blob version with parameters.
    uint16 public immutable nextBlobVersion;

    error InvalidSecurityThresholds();
    error InvalidQuorumNumbersRequired(uint256 length);
    error InvalidInclusionProof(uint32 blobIndex, bytes32 blobHash, bytes32 rootHash);
    error InvalidBlobVersion(uint16 blobVersion, uint16 nextBlobVersion);
    error SecurityAssumptionsNotMet(uint8 confirmationThreshold, uint8 adversaryThreshold, uint8 codingRate, uint32 numChunks, uint32 maxNumOperators);
    error BlobQuorumsNotSubset(uint256 blobQuorumsBitmap, uint256 confirmedQuorumsBitmap);
    error RequiredQuorumsNotSubset(uint256 requiredQuorumsBitmap, uint256 blobQuorumsBitmap);
    error QuorumCountExceedsMaximum(uint256 count);
    error QuorumNumbersNotOrdered(bytes quorumNumbers);
    error ReferenceBlockNotInPast(uint32 referenceBlockNumber, uint256 blockNumber);
    error QuorumApkMismatch(uint8 quorum);
    error QuorumApkCountMismatch(uint256 quorums, uint256 apks);
    error EmptyQuorum(uint8 quorum);
    error NonSignersNotSorted(uint256 index);
    error NonSignerNotInSignedQuorum(bytes32 operatorId);
    error PairingPrecompileFailed();
    error IndexListLengthMismatch(uint256 expected, uint256 actual);
    error HistoryIndexOutOfRange(uint32 index);
    error InvalidSignature();

    /// @notice Deploys the verifier over a registry with its blob parameters and thresholds.
    /// @param initRegistry Operator keys and stakes the signatures are checked against.
    /// @param initBlobParams Blob parameters by version (index = blob version).
    /// @param initSecurityThresholds Confirmation and adversary thresholds in percent.
    /// @param initQuorumNumbersRequired Quorums every certificate must have confirmed (one byte each, ascending).
    constructor(
        OperatorRegistry initRegistry,
        VersionedBlobParams[] memory initBlobParams,
        SecurityThresholds memory initSecurityThresholds,
        bytes memory initQuorumNumbersRequired
    ) {
        if (initSecurityThresholds.confirmationThreshold <= initSecurityThresholds.adversaryThreshold) revert InvalidSecurityThresholds();
        if (initQuorumNumbersRequired.length == 0 || initQuorumNumbersRequired.length > 256) {
            revert InvalidQuorumNumbersRequired(initQuorumNumbersRequired.length);
        }
        registry = initRegistry;
        _securityThresholds = initSecurityThresholds;
        _quorumNumbersRequired = initQuorumNumbersRequired;
        for (uint16 v = 0; v < initBlobParams.length; v++) _blobParams[v] = initBlobParams[v];
        nextBlobVersion = uint16(initBlobParams.length);
    }

    /// @notice Checks an ABI-encoded EigenDACertV3 and classifies it; never reverts.
    /// @return A StatusCode: SUCCESS (1), INVALID_CERT (6) or INTERNAL_ERROR (7).
    function checkDACert(bytes calldata abiEncodedCert) external view returns (uint8) {
        if (abiEncodedCert.length > MAX_CALLDATA_BYTES_LENGTH) return uint8(StatusCode.INVALID_CERT);
        EigenDACertV3 memory daCert;
        try this._decodeCert{gas: MAX_ABI_DECODE_GAS}(abiEncodedCert) returns (EigenDACertV3 memory decoded) {
            daCert = decoded;
        } catch {
            return uint8(StatusCode.INVALID_CERT);
        }
        try this.checkDACertReverts(daCert) {
            return uint8(StatusCode.SUCCESS);
        } catch Error(string memory) {
            return uint8(StatusCode.INVALID_CERT);
        } catch Panic(uint256) {
            return uint8(StatusCode.INTERNAL_ERROR);
        } catch (bytes memory reason) {
            // A custom error (a failed check) has a 4-byte selector; anything shorter is an EVM-level failure.
            if (reason.length < 4) return uint8(StatusCode.INTERNAL_ERROR);
            return uint8(StatusCode.INVALID_CERT);
        }
    }

    /// @notice Decodes a certificate; external only so checkDACert can catch a failed decoding.
    function _decodeCert(bytes calldata data) external pure returns (EigenDACertV3 memory cert) {
        return abi.decode(data, (EigenDACertV3));
    }

    /// @notice Checks a certificate and reverts with the failed check's custom error.
    function checkDACertReverts(EigenDACertV3 calldata daCert) external view {
        checkBlobInclusion(daCert.batchHeader, daCert.blobInclusionInfo);
        checkSecurityParams(daCert.blobInclusionInfo.blobCertificate.blobHeader.version);
        uint256 confirmedQuorumsBitmap = checkSignaturesAndBuildConfirmedQuorums(
            hashBatchHeaderV2(daCert.batchHeader),
            daCert.signedQuorumNumbers,
            daCert.batchHeader.referenceBlockNumber,
            daCert.nonSignerStakesAndSignature
        );
        checkQuorumSubsets(daCert.blobInclusionInfo.blobCertificate.blobHeader.quorumNumbers, confirmedQuorumsBitmap);
    }

    /// @notice The certificate version this verifier understands.
    function certVersion() external pure returns (uint8) {
        return CERT_VERSION;
    }

    /// @notice Blob parameters of a version.
    function getBlobParams(uint16 version) external view returns (VersionedBlobParams memory) {
        return _blobParams[version];
    }

    /// @notice The thresholds certificates are checked against.
    function securityThresholds() external view returns (SecurityThresholds memory) {
        return _securityThresholds;
    }

    /// @notice Quorums every certificate must have confirmed.
    function quorumNumbersRequired() external view returns (bytes memory) {
        return _quorumNumbersRequired;
    }

    /// @notice The blob certificate's leaf keccak256(blobCertHash) must prove into the batch root.
    function checkBlobInclusion(BatchHeaderV2 calldata batchHeader, BlobInclusionInfo calldata info) internal pure {
        bytes32 leaf = keccak256(abi.encodePacked(hashBlobCertificate(info.blobCertificate)));
        if (!verifyInclusionKeccak(info.inclusionProof, batchHeader.batchRoot, leaf, info.blobIndex)) {
            revert InvalidInclusionProof(info.blobIndex, leaf, batchHeader.batchRoot);
        }
    }

    /// @notice codingRate * (numChunks - maxNumOperators) * (confirmation - adversary) >= 100 * numChunks.
    function checkSecurityParams(uint16 blobVersion) internal view {
        if (blobVersion >= nextBlobVersion) revert InvalidBlobVersion(blobVersion, nextBlobVersion);
        VersionedBlobParams memory p = _blobParams[blobVersion];
        SecurityThresholds memory t = _securityThresholds;
        if (p.maxNumOperators > p.numChunks || t.confirmationThreshold < t.adversaryThreshold) {
            revert SecurityAssumptionsNotMet(t.confirmationThreshold, t.adversaryThreshold, p.codingRate, p.numChunks, p.maxNumOperators);
        }
        uint256 lhs = uint256(p.codingRate) * (p.numChunks - p.maxNumOperators) * (t.confirmationThreshold - t.adversaryThreshold);
        if (lhs < 100 * uint256(p.numChunks)) {
            revert SecurityAssumptionsNotMet(t.confirmationThreshold, t.adversaryThreshold, p.codingRate, p.numChunks, p.maxNumOperators);
        }
    }

    /// @notice Verifies the aggregate signature and returns the bitmap of quorums whose signed stake
    ///         reaches the confirmation threshold.
    function checkSignaturesAndBuildConfirmedQuorums(
        bytes32 msgHash,
        bytes calldata signedQuorumNumbers,
        uint32 referenceBlockNumber,
        NonSignerStakesAndSignature calldata params
    ) internal view returns (uint256 confirmedQuorumsBitmap) {
        uint256 quorumCount = signedQuorumNumbers.length;
        if (quorumCount > MAX_QUORUM_COUNT) revert QuorumCountExceedsMaximum(quorumCount);
        if (referenceBlockNumber >= block.number) revert ReferenceBlockNotInPast(referenceBlockNumber, block.number);
        if (params.quorumApks.length != quorumCount) revert QuorumApkCountMismatch(quorumCount, params.quorumApks.length);
        checkHistoryIndices(params, quorumCount);
        orderedBytesArrayToBitmap(signedQuorumNumbers);

        uint256[] memory signedStake = new uint256[](quorumCount);
        uint256[] memory totalStake = new uint256[](quorumCount);
        BN254.G1Point memory apk = BN254.G1Point(0, 0);
        for (uint256 i = 0; i < quorumCount; i++) {
            uint8 q = uint8(signedQuorumNumbers[i]);
            BN254.G1Point memory registered = registry.quorumApk(q);
            if (registered.X != params.quorumApks[i].X || registered.Y != params.quorumApks[i].Y) revert QuorumApkMismatch(q);
            totalStake[i] = registry.totalStake(q);
            if (totalStake[i] == 0) revert EmptyQuorum(q);
            signedStake[i] = totalStake[i];
            apk = apk.plus(params.quorumApks[i]);
        }
        apk = subtractNonSigners(apk, signedQuorumNumbers, params.nonSignerPubkeys, signedStake);

        (bool pairingSuccessful, bool signatureIsValid) = trySignatureAndApkVerification(msgHash, apk, params.apkG2, params.sigma);
        if (!pairingSuccessful) revert PairingPrecompileFailed();
        if (!signatureIsValid) revert InvalidSignature();

        SecurityThresholds memory t = _securityThresholds;
        for (uint256 i = 0; i < quorumCount; i++) {
            if (signedStake[i] * THRESHOLD_DENOMINATOR >= totalStake[i] * t.confirmationThreshold) {
                confirmedQuorumsBitmap |= uint256(1) << uint8(signedQuorumNumbers[i]);
            }
        }
    }

    /// @notice The index lists have BLSSignatureChecker's lengths (one bitmap index per non-signer; one
    ///         APK, total-stake and non-signer-stake list per quorum) and point at the registry's only entry.
    function checkHistoryIndices(NonSignerStakesAndSignature calldata params, uint256 quorumCount) internal pure {
        if (params.nonSignerQuorumBitmapIndices.length != params.nonSignerPubkeys.length) {
            revert IndexListLengthMismatch(params.nonSignerPubkeys.length, params.nonSignerQuorumBitmapIndices.length);
        }
        if (params.quorumApkIndices.length != quorumCount) revert IndexListLengthMismatch(quorumCount, params.quorumApkIndices.length);
        if (params.totalStakeIndices.length != quorumCount) revert IndexListLengthMismatch(quorumCount, params.totalStakeIndices.length);
        if (params.nonSignerStakeIndices.length != quorumCount) revert IndexListLengthMismatch(quorumCount, params.nonSignerStakeIndices.length);
        for (uint256 i = 0; i < params.nonSignerQuorumBitmapIndices.length; i++) {
            if (params.nonSignerQuorumBitmapIndices[i] != 0) revert HistoryIndexOutOfRange(params.nonSignerQuorumBitmapIndices[i]);
        }
        for (uint256 i = 0; i < quorumCount; i++) {
            if (params.quorumApkIndices[i] != 0) revert HistoryIndexOutOfRange(params.quorumApkIndices[i]);
            if (params.totalStakeIndices[i] != 0) revert HistoryIndexOutOfRange(params.totalStakeIndices[i]);
            for (uint256 j = 0; j < params.nonSignerStakeIndices[i].length; j++) {
                if (params.nonSignerStakeIndices[i][j] != 0) revert HistoryIndexOutOfRange(params.nonSignerStakeIndices[i][j]);
            }
        }
    }

    /// @notice Takes each non-signer's stake out of the quorums it is in, and its key out of the
    ///         aggregate once per such quorum. Non-signers must be sorted by id, so none counts twice.
    function subtractNonSigners(
        BN254.G1Point memory apk,
        bytes calldata signedQuorumNumbers,
        BN254.G1Point[] calldata nonSigners,
        uint256[] memory signedStake
    ) internal view returns (BN254.G1Point memory) {
        bytes32 previous;
        for (uint256 j = 0; j < nonSigners.length; j++) {
            bytes32 id = BN254.hashG1Point(nonSigners[j]);
            if (j > 0 && uint256(id) <= uint256(previous)) revert NonSignersNotSorted(j);
            previous = id;
            uint256 memberships;
            for (uint256 i = 0; i < signedQuorumNumbers.length; i++) {
                uint96 stake = registry.stakeOf(id, uint8(signedQuorumNumbers[i]));
                if (stake == 0) continue;
                signedStake[i] -= stake;
                memberships++;
            }
            if (memberships == 0) revert NonSignerNotInSignedQuorum(id);
            apk = apk.plus(BN254.negate(nonSigners[j]).scalarMul(memberships));
        }
        return apk;
    }

    /// @notice e(sigma + gamma * apk, -G2) * e(H(m) + gamma * G1, apkG2) == 1, gamma from all inputs.
    function trySignatureAndApkVerification(bytes32 msgHash, BN254.G1Point memory apk, BN254.G2Point calldata apkG2, BN254.G1Point calldata sigma)
        internal
        view
        returns (bool pairingSuccessful, bool signatureIsValid)
    {
        uint256 gamma = uint256(
            keccak256(abi.encodePacked(msgHash, apk.X, apk.Y, apkG2.X[0], apkG2.X[1], apkG2.Y[0], apkG2.Y[1], sigma.X, sigma.Y))
        ) % BN254.FR_MODULUS;
        BN254.G1Point memory s = sigma;
        BN254.G2Point memory a2 = apkG2;
        (pairingSuccessful, signatureIsValid) = BN254.safePairing(
            s.plus(apk.scalarMul(gamma)), BN254.negGeneratorG2(), BN254.hashToG1(msgHash).plus(BN254.generatorG1().scalarMul(gamma)), a2
        );
    }

    /// @notice requiredQuorums ⊆ blobQuorums ⊆ confirmedQuorums.
    function checkQuorumSubsets(bytes calldata blobQuorumNumbers, uint256 confirmedQuorumsBitmap) internal view {
        uint256 blobQuorumsBitmap = orderedBytesArrayToBitmap(blobQuorumNumbers);
        if (blobQuorumsBitmap & confirmedQuorumsBitmap != blobQuorumsBitmap) revert BlobQuorumsNotSubset(blobQuorumsBitmap, confirmedQuorumsBitmap);
        uint256 requiredQuorumsBitmap = orderedBytesArrayToBitmap(_quorumNumbersRequired);
        if (requiredQuorumsBitmap & blobQuorumsBitmap != requiredQuorumsBitmap) revert RequiredQuorumsNotSubset(requiredQuorumsBitmap, blobQuorumsBitmap);
    }

    /// @notice keccak256(abi.encode(keccak256(abi.encode(version, quorumNumbers, commitment)), paymentHeaderHash)).
    function hashBlobHeaderV2(BlobHeaderV2 calldata h) internal pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encode(h.version, h.quorumNumbers, h.commitment)), h.paymentHeaderHash));
    }

    /// @notice keccak256(abi.encode(blobKey, signature, relayKeys)).
    function hashBlobCertificate(BlobCertificate calldata c) internal pure returns (bytes32) {
        return keccak256(abi.encode(hashBlobHeaderV2(c.blobHeader), c.signature, c.relayKeys));
    }

    /// @notice The message operators sign: keccak256(abi.encode(batchHeader)).
    function hashBatchHeaderV2(BatchHeaderV2 calldata h) internal pure returns (bytes32) {
        return keccak256(abi.encode(h));
    }

    /// @notice Merkle.verifyInclusionKeccak: siblings leaf to root, even index on the left.
    function verifyInclusionKeccak(bytes calldata proof, bytes32 root, bytes32 leaf, uint256 index) internal pure returns (bool) {
        if (proof.length % 32 != 0) return false;
        bytes32 node = leaf;
        for (uint256 at = 0; at < proof.length; at += 32) {
            bytes32 sibling = bytes32(proof[at:at + 32]);
            node = index % 2 == 0 ? keccak256(abi.encodePacked(node, sibling)) : keccak256(abi.encodePacked(sibling, node));
            index /= 2;
        }
        return node == root;
    }

    /// @notice A bitmap of quorum numbers given as strictly ascending bytes.
    function orderedBytesArrayToBitmap(bytes memory quorumNumbers) internal pure returns (uint256 bitmap) {
        for (uint256 i = 0; i < quorumNumbers.length; i++) {
            uint256 bit = uint256(1) << uint8(quorumNumbers[i]);
            if (bit <= bitmap) revert QuorumNumbersNotOrdered(quorumNumbers);
            bitmap |= bit;
        }
    }
}
