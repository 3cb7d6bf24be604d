// BN254 (alt_bn128) through mcl-wasm: the curve EigenDA commits and signs on, and the one the EVM's
// precompiles 0x06-0x08 speak. Points cross to Solidity as affine coordinates; a G2 point's Fp2
// coordinates go imaginary part first, as the pairing precompile (EIP-197) reads them.

import { bn254 } from "@noble/curves/bn254.js";
import * as mcl from "mcl-wasm";
import { pippengerG2 } from "./pippenger.js";

let ready: Promise<void> | undefined;

/** Loads mcl's WebAssembly once per process with the EVM's BN254 (mcl's BN_SNARK1). */
export function initBn254(): Promise<void> {
  ready ??= mcl.init(mcl.BN_SNARK1);
  return ready;
}

export { mcl };
export type G1 = mcl.G1;
export type G2 = mcl.G2;

/** BN254's base field modulus p. */
export const FP_MODULUS = bn254.fields.Fp.ORDER;
export const Fp = bn254.fields.Fp;

export interface G1Affine {
  x: bigint;
  y: bigint;
}
/** x = x[0] * i + x[1]... stored as [imaginary, real] for the precompile. */
export interface G2Affine {
  x: [bigint, bigint];
  y: [bigint, bigint];
}

// EIP-197's generators: G1 = (1, 2); G2 below (real, imaginary).
const G2_X_REAL = 10857046999023057135944570762232829481370756359578518086990519993285655852781n;
const G2_X_IMAG = 11559732032986387107991004021392285783925812861821192530917403151452391805634n;
const G2_Y_REAL = 8495653923123431417604973247489272438418190587263600148770280649306958101930n;
const G2_Y_IMAG = 4082367875863433681332203403145435568316851327593401208105741076214120093531n;

export function g1Generator(): mcl.G1 {
  const g = new mcl.G1();
  g.setStr("1 1 2", 10);
  return g;
}

export function g2Generator(): mcl.G2 {
  const g = new mcl.G2();
  g.setStr(`1 ${G2_X_REAL} ${G2_X_IMAG} ${G2_Y_REAL} ${G2_Y_IMAG}`, 10);
  return g;
}

export function frFromBigint(v: bigint): mcl.Fr {
  const f = new mcl.Fr();
  f.setStr(v.toString(16), 16);
  return f;
}

export function frsFromBigints(values: readonly bigint[]): mcl.Fr[] {
  return values.map(frFromBigint);
}

// mcl-wasm passes vectors on a 1 MiB wasm stack: 2048 points (G2: 288 bytes each, with their
// scalars) per call fit; longer MSMs are summed from pieces.
const MSM_PIECE = 2048;

function msm<T extends mcl.G1 | mcl.G2>(points: readonly T[], scalars: readonly bigint[], zero: () => T): T {
  let acc = zero();
  for (let at = 0; at < scalars.length; at += MSM_PIECE) {
    const end = Math.min(scalars.length, at + MSM_PIECE);
    acc = mcl.add(acc, mcl.mulVec(points.slice(at, end) as T[], frsFromBigints(scalars.slice(at, end))));
  }
  return acc;
}

/** sum_i points[i] * scalars[i]; the identity for no terms. */
export function msmG1(points: readonly mcl.G1[], scalars: readonly bigint[]): mcl.G1 {
  return msm(points, scalars, () => new mcl.G1());
}

/** From this many points Pippenger's buckets beat mcl's G2 mulVec (1.4x at 1,024 points, 1.8x at 4,096). */
const G2_PIPPENGER_FROM = 1024;

export function msmG2(points: readonly mcl.G2[], scalars: readonly bigint[]): mcl.G2 {
  if (scalars.length >= G2_PIPPENGER_FROM) return pippengerG2(points, scalars);
  return msm(points, scalars, () => new mcl.G2());
}

/** Normalizes points to affine form in place, in stack-sized pieces. */
export function normalizeInPlace<T extends mcl.G1 | mcl.G2>(points: T[]): void {
  for (let at = 0; at < points.length; at += MSM_PIECE) {
    const piece = points.slice(at, at + MSM_PIECE);
    mcl.normalizeVec(piece);
    for (let i = 0; i < piece.length; i++) points[at + i] = piece[i]!;
  }
}

/** True when e(a1, b1) * e(a2, b2) == 1, with one final exponentiation. */
export function pairingProductIsOne(a1: mcl.G1, b1: mcl.G2, a2: mcl.G1, b2: mcl.G2): boolean {
  return mcl.finalExp(mcl.mul(mcl.millerLoop(a1, b1), mcl.millerLoop(a2, b2))).isOne();
}

export function g1ToAffine(p: mcl.G1): G1Affine {
  if (p.isZero()) return { x: 0n, y: 0n };
  const n = mcl.normalize(p);
  return { x: BigInt(`0x${n.getX().getStr(16)}`), y: BigInt(`0x${n.getY().getStr(16)}`) };
}

export function g1FromAffine(a: G1Affine): mcl.G1 {
  const p = new mcl.G1();
  if (a.x === 0n && a.y === 0n) return p;
  p.setStr(`1 ${a.x.toString(10)} ${a.y.toString(10)}`, 10);
  return p;
}

export function g2ToAffine(p: mcl.G2): G2Affine {
  if (p.isZero()) return { x: [0n, 0n], y: [0n, 0n] };
  const n = mcl.normalize(p);
  const big = (f: mcl.Fp) => BigInt(`0x${f.getStr(16)}`);
  const x = n.getX();
  const y = n.getY();
  return { x: [big(x.get_b()), big(x.get_a())], y: [big(y.get_b()), big(y.get_a())] };
}

export function g2FromAffine(a: G2Affine): mcl.G2 {
  const p = new mcl.G2();
  if (a.x[0] === 0n && a.x[1] === 0n && a.y[0] === 0n && a.y[1] === 0n) return p;
  p.setStr(`1 ${a.x[1]} ${a.x[0]} ${a.y[1]} ${a.y[0]}`, 10);
  return p;
}
