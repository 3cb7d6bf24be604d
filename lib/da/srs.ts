// Structured reference strings for KZG on BN254: [tau^i]_1 and [tau^i]_2 for i < order.
//
// insecureSrs() derives tau from a seed: anyone who knows the seed can forge every proof, so it
// is for tests and experiments only and is labelled so (kind "insecure-seeded"). EigenDA's real,
// published point files are read by srs-eigenda.ts, checked against the published sha256 list. loadSrsPointFiles() reads the real ceremony's points
// in EigenDA's g1.point / g2.point format: gnark-crypto's compressed encoding, 32 bytes per G1
// point (x big-endian, top two bits a flag) and 64 bytes per G2 point (x.imaginary then x.real).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../files.js";
import { FP_MODULUS, g1Generator, g2Generator, initBn254, mcl, normalizeInPlace } from "./bn254.js";
import { DAConfigError, DAEncodingError } from "./errors.js";
import { FR_MODULUS } from "./field.js";

export interface Srs {
  /** "insecure-seeded" when tau is derivable from a seed; "ceremony" when loaded from point files. */
  kind: "insecure-seeded" | "ceremony";
  /** Where the points came from: the seed, or the files. */
  source: string;
  /** Number of G1 powers; blobs may have at most `order` field elements. */
  order: number;
  g1: mcl.G1[];
  g2: mcl.G2[];
}

const cache = new Map<string, Srs>();

/** An SRS with tau = sha256("openledger-lab insecure srs" || seed) mod r. NOT SECURE: for experiments only. */
export async function insecureSrs(seed: number | string, order = 4096): Promise<Srs> {
  await initBn254();
  const key = `${seed}:${order}`;
  const hit = cache.get(key);
  if (hit) return hit;
  if (!Number.isInteger(Math.log2(order))) {
    throw new DAConfigError({ code: "da/srs-bad-order", message: `SRS order ${order} is not a power of two`, hint: "use 2^k points", fields: { order } });
  }
  const digest = createHash("sha256").update(`openledger-lab insecure srs ${seed}`).digest("hex");
  const tau = new mcl.Fr();
  tau.setStr((BigInt(`0x${digest}`) % FR_MODULUS).toString(16), 16);
  const g1: mcl.G1[] = [g1Generator()];
  const g2: mcl.G2[] = [g2Generator()];
  for (let i = 1; i < order; i++) {
    g1.push(mcl.mul(g1[i - 1]!, tau));
    g2.push(mcl.mul(g2[i - 1]!, tau));
  }
  normalizeInPlace(g1);
  normalizeInPlace(g2);
  const srs: Srs = { kind: "insecure-seeded", source: `seed ${seed} (INSECURE: tau is derivable from the seed)`, order, g1, g2 };
  cache.set(key, srs);
  return srs;
}

// gnark-crypto's flags in the top two bits of the first byte.
const FLAG_MASK = 0b1100_0000;
const COMPRESSED_SMALLEST = 0b1000_0000;
const COMPRESSED_LARGEST = 0b1100_0000;
const COMPRESSED_INFINITY = 0b0100_0000;
const HALF_P = (FP_MODULUS - 1n) / 2n;

function readBig(bytes: Uint8Array, clearFlags: boolean): bigint {
  let v = 0n;
  for (let i = 0; i < bytes.length; i++) v = (v << 8n) | BigInt(clearFlags && i === 0 ? bytes[i]! & ~FLAG_MASK : bytes[i]!);
  return v;
}

function writeBig(v: bigint, out: Uint8Array, at: number): void {
  for (let i = 31; i >= 0; i--) {
    out[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function fp(v: bigint): mcl.Fp {
  const f = new mcl.Fp();
  f.setStr(v.toString(16), 16);
  return f;
}

const big = (f: mcl.Fp) => BigInt(`0x${f.getStr(16)}`);

function badPoint(file: string, index: number, why: string): never {
  throw new DAEncodingError({
    code: "da/srs-bad-point",
    message: `point ${index} of ${file}: ${why}`,
    hint: "the file is not EigenDA's g1.point/g2.point format (gnark compressed), or is damaged",
    fields: { file, index },
  });
}

/** Decodes one gnark-compressed G1 point (32 bytes). */
export function decompressG1(bytes: Uint8Array, file = "g1", index = 0): mcl.G1 {
  const flag = bytes[0]! & FLAG_MASK;
  if (flag === COMPRESSED_INFINITY) return new mcl.G1();
  if (flag !== COMPRESSED_SMALLEST && flag !== COMPRESSED_LARGEST) badPoint(file, index, "not a compressed point");
  const x = readBig(bytes, true);
  if (x >= FP_MODULUS) badPoint(file, index, "x is not below p");
  const rhs = mcl.add(mcl.mul(mcl.sqr(fp(x)), fp(x)), fp(3n));
  const [ok, root] = mcl.squareRoot(rhs);
  if (!ok) badPoint(file, index, "x is not on the curve");
  let y = big(root);
  if (y > HALF_P !== (flag === COMPRESSED_LARGEST)) y = FP_MODULUS - y;
  const p = new mcl.G1();
  p.setStr(`1 ${x} ${y}`, 10);
  return p;
}

let twistB: mcl.Fp2 | undefined;
function g2CurveB(): mcl.Fp2 {
  if (!twistB) {
    const nine = new mcl.Fp2();
    nine.setInt(9, 1);
    const three = new mcl.Fp2();
    three.setInt(3, 0);
    twistB = mcl.mul(three, mcl.inv(nine));
  }
  return twistB;
}

function fp2Largest(a0: bigint, a1: bigint): boolean {
  return a1 !== 0n ? a1 > HALF_P : a0 > HALF_P;
}

/** Decodes one gnark-compressed G2 point (64 bytes: x.imaginary with the flag, then x.real). */
export function decompressG2(bytes: Uint8Array, file = "g2", index = 0): mcl.G2 {
  const flag = bytes[0]! & FLAG_MASK;
  if (flag === COMPRESSED_INFINITY) return new mcl.G2();
  if (flag !== COMPRESSED_SMALLEST && flag !== COMPRESSED_LARGEST) badPoint(file, index, "not a compressed point");
  const x1 = readBig(bytes.subarray(0, 32), true);
  const x0 = readBig(bytes.subarray(32, 64), false);
  if (x0 >= FP_MODULUS || x1 >= FP_MODULUS) badPoint(file, index, "x is not below p");
  const x = new mcl.Fp2();
  x.set_a(fp(x0));
  x.set_b(fp(x1));
  const [ok, root] = mcl.squareRoot(mcl.add(mcl.mul(mcl.sqr(x), x), g2CurveB()));
  if (!ok) badPoint(file, index, "x is not on the twist");
  const y = fp2Largest(big(root.get_a()), big(root.get_b())) === (flag === COMPRESSED_LARGEST) ? root : mcl.neg(root);
  const p = new mcl.G2();
  p.setStr(`1 ${x0} ${x1} ${big(y.get_a())} ${big(y.get_b())}`, 10);
  if (!p.isValidOrder()) badPoint(file, index, "not in the prime-order subgroup");
  return p;
}

export function compressG1(p: mcl.G1): Uint8Array {
  const out = new Uint8Array(32);
  if (p.isZero()) {
    out[0] = COMPRESSED_INFINITY;
    return out;
  }
  const n = mcl.normalize(p);
  writeBig(big(n.getX()), out, 0);
  out[0]! |= big(n.getY()) > HALF_P ? COMPRESSED_LARGEST : COMPRESSED_SMALLEST;
  return out;
}

export function compressG2(p: mcl.G2): Uint8Array {
  const out = new Uint8Array(64);
  if (p.isZero()) {
    out[0] = COMPRESSED_INFINITY;
    return out;
  }
  const n = mcl.normalize(p);
  writeBig(big(n.getX().get_b()), out, 0);
  writeBig(big(n.getX().get_a()), out, 32);
  out[0]! |= fp2Largest(big(n.getY().get_a()), big(n.getY().get_b())) ? COMPRESSED_LARGEST : COMPRESSED_SMALLEST;
  return out;
}

/** Writes an SRS as g1.point / g2.point files (EigenDA's format), atomically. */
export function writeSrsPointFiles(srs: Srs, g1Path: string, g2Path: string): void {
  const g1 = new Uint8Array(32 * srs.g1.length);
  for (let i = 0; i < srs.g1.length; i++) g1.set(compressG1(srs.g1[i]!), 32 * i);
  const g2 = new Uint8Array(64 * srs.g2.length);
  for (let i = 0; i < srs.g2.length; i++) g2.set(compressG2(srs.g2[i]!), 64 * i);
  writeFileAtomic(g1Path, g1);
  writeFileAtomic(g2Path, g2);
}

/**
 * Reads the first `order` G1 and G2 powers from the ceremony's point files. The G2 file must hold
 * `order` points too: the length proof commits to x^(order - length) p(x) in G2.
 */
export async function loadSrsPointFiles(g1Path: string, g2Path: string, order: number): Promise<Srs> {
  await initBn254();
  const g1Bytes = readFileSync(g1Path);
  const g2Bytes = readFileSync(g2Path);
  if (g1Bytes.length < 32 * order || g2Bytes.length < 64 * order) {
    throw new DAConfigError({
      code: "da/srs-too-short",
      message: `the point files hold ${g1Bytes.length / 32} G1 and ${g2Bytes.length / 64} G2 points; ${order} of each are needed`,
      hint: "download more of the ceremony's points or lower the SRS order",
      fields: { order, g1Points: g1Bytes.length / 32, g2Points: g2Bytes.length / 64 },
    });
  }
  const g1: mcl.G1[] = [];
  const g2: mcl.G2[] = [];
  for (let i = 0; i < order; i++) g1.push(decompressG1(g1Bytes.subarray(32 * i, 32 * i + 32), g1Path, i));
  for (let i = 0; i < order; i++) g2.push(decompressG2(g2Bytes.subarray(64 * i, 64 * i + 64), g2Path, i));
  if (!g1[0]!.isEqual(g1Generator()) || !g2[0]!.isEqual(g2Generator())) {
    throw new DAEncodingError({ code: "da/srs-bad-generator", message: "the first points are not BN254's standard generators", hint: "the files belong to another setup", fields: { g1Path, g2Path } });
  }
  return { kind: "ceremony", source: `${g1Path}, ${g2Path}`, order, g1, g2 };
}
