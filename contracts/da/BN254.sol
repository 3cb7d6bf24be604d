// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BN254
/// @notice The alt_bn128 curve through the EVM's precompiles: ecAdd (0x06), ecMul (0x07), pairing
///         (0x08) and modexp (0x05), in the conventions of EigenLayer's BN254 library. G2 points
///         carry each Fp2 coordinate as [imaginary, real], the order the pairing precompile reads.
library BN254 {
    uint256 internal constant FP_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583;
    uint256 internal constant FR_MODULUS = 21888242871839275222246405745257275088548364400416034343698204186575808495617;

    uint256 internal constant G2X_IMAG = 11559732032986387107991004021392285783925812861821192530917403151452391805634;
    uint256 internal constant G2X_REAL = 10857046999023057135944570762232829481370756359578518086990519993285655852781;
    uint256 internal constant G2Y_IMAG = 4082367875863433681332203403145435568316851327593401208105741076214120093531;
    uint256 internal constant G2Y_REAL = 8495653923123431417604973247489272438418190587263600148770280649306958101930;

    /// @notice Gas allowed to the pairing precompile, so a failing call cannot eat the caller's gas.
    uint256 internal constant PAIRING_GAS_LIMIT = 120_000;

    // Coordinates are named X and Y as in EigenLayer's BN254, whose ABI the certificates follow.
    /* solhint-disable var-name-mixedcase */
    struct G1Point {
        uint256 X;
        uint256 Y;
    }

    struct G2Point {
        uint256[2] X;
        uint256[2] Y;
    }
    /* solhint-enable var-name-mixedcase */

    /// @notice An elliptic-curve precompile refused its input (a point off the curve, for instance).
    error PrecompileFailed(uint8 precompile);

    /// @notice The G1 generator (1, 2).
    function generatorG1() internal pure returns (G1Point memory) {
        return G1Point(1, 2);
    }

    /// @notice The negated G2 generator, for one-sided pairing checks.
    function negGeneratorG2() internal pure returns (G2Point memory) {
        return G2Point([G2X_IMAG, G2X_REAL], [FP_MODULUS - G2Y_IMAG, FP_MODULUS - G2Y_REAL]);
    }

    /// @notice -p; the point at infinity (0, 0) stays itself.
    function negate(G1Point memory p) internal pure returns (G1Point memory) {
        if (p.X == 0 && p.Y == 0) return G1Point(0, 0);
        return G1Point(p.X, FP_MODULUS - (p.Y % FP_MODULUS));
    }

    /// @notice a + b through ecAdd.
    function plus(G1Point memory a, G1Point memory b) internal view returns (G1Point memory r) {
        uint256[4] memory input = [a.X, a.Y, b.X, b.Y];
        bool ok;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            ok := staticcall(gas(), 0x06, input, 0x80, r, 0x40)
        }
        if (!ok) revert PrecompileFailed(0x06);
    }

    /// @notice s * p through ecMul.
    function scalarMul(G1Point memory p, uint256 s) internal view returns (G1Point memory r) {
        uint256[3] memory input = [p.X, p.Y, s];
        bool ok;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            ok := staticcall(gas(), 0x07, input, 0x60, r, 0x40)
        }
        if (!ok) revert PrecompileFailed(0x07);
    }

    /// @notice Whether e(a1, a2) * e(b1, b2) == 1; `success` is false when the precompile failed.
    function safePairing(G1Point memory a1, G2Point memory a2, G1Point memory b1, G2Point memory b2)
        internal
        view
        returns (bool success, bool result)
    {
        uint256[12] memory input = [a1.X, a1.Y, a2.X[0], a2.X[1], a2.Y[0], a2.Y[1], b1.X, b1.Y, b2.X[0], b2.X[1], b2.Y[0], b2.Y[1]];
        uint256[1] memory out;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            success := staticcall(PAIRING_GAS_LIMIT, 0x08, input, 0x180, out, 0x20)
        }
        result = success && out[0] == 1;
    }

    /// @notice An operator's id: keccak256 of its G1 public key's coordinates.
    function hashG1Point(G1Point memory p) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(p.X, p.Y));
    }

    /// @notice Try-and-increment hashing to G1: x = h mod p, then x + 1, ... until x^3 + 3 is a square.
    function hashToG1(bytes32 h) internal view returns (G1Point memory) {
        uint256 x = uint256(h) % FP_MODULUS;
        while (true) {
            uint256 beta = addmod(mulmod(mulmod(x, x, FP_MODULUS), x, FP_MODULUS), 3, FP_MODULUS);
            uint256 y = expMod(beta, (FP_MODULUS + 1) / 4, FP_MODULUS);
            if (mulmod(y, y, FP_MODULUS) == beta) return G1Point(x, y);
            x = addmod(x, 1, FP_MODULUS);
        }
    }

    /// @notice base^exponent mod modulus through the modexp precompile.
    function expMod(uint256 base, uint256 exponent, uint256 modulus) internal view returns (uint256 r) {
        uint256[6] memory input = [uint256(32), 32, 32, base, exponent, modulus];
        uint256[1] memory out;
        bool ok;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            ok := staticcall(gas(), 0x05, input, 0xc0, out, 0x20)
        }
        if (!ok) revert PrecompileFailed(0x05);
        r = out[0];
    }
}
