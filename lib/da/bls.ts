// BLS signatures on BN254 in EigenLayer's convention (BN254.sol, BLSSignatureChecker): secret key
// sk in Fr, public keys [sk]G1 and [sk]G2, signature [sk]H(m) in G1 where H is try-and-increment
// hashing to G1 (x = keccak(m) mod p, y = (x^3 + 3)^((p+1)/4), x += 1 until y^2 = x^3 + 3).
// An aggregate is checked as the contract does, with a random linear combination gamma:
//   e(sigma + gamma * apk, -G2) * e(H(m) + gamma * G1, apkG2) == 1.
import { AbiCoder, keccak256, solidityPacked } from "ethers";
import { FP_MODULUS, Fp, type G1Affine, g1FromAffine, g1Generator, g1ToAffine, g2Generator, g2ToAffine, mcl, pairingProductIsOne } from "./bn254.js";
import { FR_MODULUS } from "./field.js";

export interface BlsKeyPair {
  secretKey: mcl.Fr;
  pubkeyG1: mcl.G1;
  pubkeyG2: mcl.G2;
}

/** A key pair from 32 seed bytes (reduced into Fr). */
export function blsKeyPair(seed: Uint8Array): BlsKeyPair {
  const sk = new mcl.Fr();
  sk.setBigEndianMod(seed);
  return { secretKey: sk, pubkeyG1: mcl.mul(g1Generator(), sk), pubkeyG2: mcl.mul(g2Generator(), sk) };
}

const SQRT_EXPONENT = (FP_MODULUS + 1n) / 4n;

/** BN254.hashToG1: the point EigenLayer's contracts hash a 32-byte message to. */
export function hashToG1(messageHash: string): mcl.G1 {
  let x = BigInt(messageHash) % FP_MODULUS;
  for (;;) {
    const beta = Fp.add(Fp.mul(Fp.mul(x, x), x), 3n);
    const y = Fp.pow(beta, SQRT_EXPONENT);
    if (Fp.mul(y, y) === beta) return g1FromAffine({ x, y });
    x = Fp.add(x, 1n);
  }
}

/** BN254.hashG1Point: an operator's id is keccak256 of its G1 public key's coordinates. */
export function operatorId(pubkeyG1: mcl.G1): string {
  const a = g1ToAffine(pubkeyG1);
  return keccak256(solidityPacked(["uint256", "uint256"], [a.x, a.y]));
}

export function signMessage(key: BlsKeyPair, messageHash: string): mcl.G1 {
  return mcl.mul(hashToG1(messageHash), key.secretKey);
}

/** The gamma of BLSSignatureChecker.trySignatureAndApkVerification. */
export function aggregateGamma(messageHash: string, apk: G1Affine, apkG2: mcl.G2, sigma: mcl.G1): bigint {
  const g2 = g2ToAffine(apkG2);
  const s = g1ToAffine(sigma);
  const packed = solidityPacked(
    ["bytes32", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256", "uint256"],
    [messageHash, apk.x, apk.y, g2.x[0], g2.x[1], g2.y[0], g2.y[1], s.x, s.y],
  );
  return BigInt(keccak256(packed)) % FR_MODULUS;
}

/** Verifies an aggregate signature against the G1 and G2 aggregate keys, as the contract does. */
export function verifyAggregate(messageHash: string, apk: mcl.G1, apkG2: mcl.G2, sigma: mcl.G1): boolean {
  const gamma = new mcl.Fr();
  gamma.setStr(aggregateGamma(messageHash, g1ToAffine(apk), apkG2, sigma).toString(16), 16);
  const left = mcl.add(sigma, mcl.mul(apk, gamma));
  const right = mcl.add(hashToG1(messageHash), mcl.mul(g1Generator(), gamma));
  return pairingProductIsOne(left, mcl.neg(g2Generator()), right, apkG2);
}

export const abi = AbiCoder.defaultAbiCoder();
