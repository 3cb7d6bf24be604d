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
import { FR_MODULUS, Fr } from "./field.js";

function frOf(v: bigint): mcl.Fr {
  const f = new mcl.Fr();
  f.setStr(v.toString(16), 16);
  return f;
}

/** log2 of the ceremony's G2 size: EigenDA's length proofs are taken against a 2^28 setup. */
export const EIGENDA_SRS_LOG_ORDER = 28;

/** [tau^(2^28 - 2^i)]_1 for i = 0..27, gnark-compressed (EigenDA resources/srs G1ReversePowerOf2SRS). */
export const EIGENDA_G1_REVERSE_POWER_OF_2_HEX = [
  "d902537c5ac68b39468f8cfcc46b00da353024b618b0454e6847d2aee530e850",
  "c672cec11e3d0c0096d550635d28c4b51dd3c2deb407a5985f458f5a8610fe94",
  "c2ee739ae261af377f3c65362049fef9402013bd898351eb60e0d7429a56f880",
  "d9d7adde8d4e55e87312fcb7713fdd1e8713358347d7c8bc1ac21fa1ef1db34a",
  "8f89ac9e77846d29af1c58af31cfc3fe61c45ca14cf0a10f7aa71605b868c0e7",
  "e3adc6dbd3cb5c694b17bdb974860d07222f9ffd75655d8800702f455ddffc97",
  "cb36c6a5486f20baf22e4ca283ee475b70447c35e16b749d710caa4bc7bf2ac9",
  "86aa256a555695131099bc873d2d23dd0f31d6fa9e0117f2dc913565380f8536",
  "ac25b7bfc07913ee0aa062624b6c06f0218dcf1f03f232397761463d079be7fe",
  "a219ecf6ee97fe6b32ab434e3daff9ed6cbe8f467979ad1c6f39ee9dc660b212",
  "97840fcc4dd766fa0748bf2d50dd85242d4bb031fac39f8bb8f12d1146b0d443",
  "95b23343161483eed8834b7d595f5ac18b8c5dfe85d40538c83027a12b7e0ca6",
  "82e393213e64aef7726afb4ee823b58634087a47330ef6150c6e9e496a18cc5a",
  "e11a52ebf3628f51663a2fb41de1b755d28b764dde082521072531cf53bbb895",
  "c6318eb9dfa5f5627ceddde2f026af4e3ef79b7f1702f497b353437f57f188e4",
  "cfdc1c150ef291fa5eb1bdd2743815eebea02b4a89b3b0b1cc801269fb2502d6",
  "88723a42d3025fbb3beb27a75cf1266e37c59959a434ccabd04c332c888afc7c",
  "ebc857866d0cbb6ce20c2abd612cb99d1d2f4446e5330255c77f69bcfc56c8be",
  "ecc72a85bca27e6e6d9dcc73e15bd528b9bb1b4dc5b158e87d821571859820eb",
  "899e0d8eda7fcd5d0fcb7488574361663a7d05e920c11643101c1c996aad21b7",
  "87f814468e6e5b08526830fe3ce8fde7b5385f53e7654d3c061f5f602c5452b6",
  "a26d44f770db3207696477d61e7feedc3f0a83ea58f37b9ef914834fb32895b8",
  "90ec8f5ba15034bf2faa5b650606b7786e3c5c16201488c4411de3a40476874c",
  "ad10e224d82572833b2854c327a5db10a0b6c617c367e3aff58f5862aab90a41",
  "8ccb85c07ad9092316ea6f95161e0a64ed7cca863f23bc22300225bf456d094a",
  "d20165a1b364337df11a35fb687aa62382236938f8f740cb7059b656e1f4dd1c",
  "a9d669092e951729fcc2eaf05ff706cf372e04cbde166f48833337fa37b69537",
  "eb34e5696bcd208899dbd9d1e7604ec39cc594eeedae3eaf40ff8695ab25ca72",
] as const;

export interface Srs {
  /** "insecure-seeded" when tau is derivable from a seed; "ceremony" when loaded from point files. */
  kind: "insecure-seeded" | "ceremony";
  /** Where the points came from: the seed, or the files. */
  source: string;
  /** Number of G1 powers; blobs may have at most `order` field elements. */
  order: number;
  /** [tau^i]_1, i < order. */
  g1: mcl.G1[];
  /** [tau^i]_2: as many as the G2 file holds (the length commitment takes `length` of them, a chunk proof check chunkLength + 1). */
  g2: mcl.G2[];
  /** [tau^(2^28 - n + i)]_2, i < n (g2.trailing.point): length proofs multiply by tau^(2^28 - length). */
  g2Trailing: mcl.G2[];
  /** [tau^(2^28 - 2^i)]_1, i = 0..27: the G1 side of the length-proof check. */
  g1ReversePowerOf2: mcl.G1[];
}

/** The published [tau^(2^28 - 2^i)]_1 points, decompressed (bn254 initialised). */
export function publishedG1ReversePowerOf2(): mcl.G1[] {
  return EIGENDA_G1_REVERSE_POWER_OF_2_HEX.map((h, i) => decompressG1(Buffer.from(h, "hex"), "G1ReversePowerOf2SRS", i));
}

const cache = new Map<string, Srs>();

/**
 * An SRS with tau = sha256("openledger-lab insecure srs" || seed) mod r. NOT SECURE: anyone who
 * knows the seed knows tau and can forge every proof. For tests and experiments only; it has the
 * layout of EigenDA's real one (G1 and G2 prefixes, the trailing G2 points of a 2^28 setup, the
 * [tau^(2^28 - 2^i)]_1), so the code that uses it is the code that uses the ceremony's points.
 */
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
  const tauBig = BigInt(`0x${digest}`) % FR_MODULUS;
  const setup = 2n ** BigInt(EIGENDA_SRS_LOG_ORDER);
  const g2Trailing: mcl.G2[] = [mcl.mul(g2Generator(), frOf(Fr.pow(tauBig, setup - BigInt(order))))];
  for (let i = 1; i < order; i++) g2Trailing.push(mcl.mul(g2Trailing[i - 1]!, tau));
  const g1ReversePowerOf2 = Array.from({ length: EIGENDA_SRS_LOG_ORDER }, (_, i) => mcl.mul(g1Generator(), frOf(Fr.pow(tauBig, setup - 2n ** BigInt(i)))));
  normalizeInPlace(g1);
  normalizeInPlace(g2);
  normalizeInPlace(g2Trailing);
  const srs: Srs = { kind: "insecure-seeded", source: `seed ${seed} (INSECURE: tau is derivable from the seed)`, order, g1, g2, g2Trailing, g1ReversePowerOf2 };
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

/** Writes an SRS as g1.point / g2.point (and, given a path, g2.trailing.point) files in EigenDA's layout, atomically. */
export function writeSrsPointFiles(srs: Srs, g1Path: string, g2Path: string, g2TrailingPath?: string): void {
  const g2Bytes = (points: readonly mcl.G2[]) => {
    const out = new Uint8Array(64 * points.length);
    for (let i = 0; i < points.length; i++) out.set(compressG2(points[i]!), 64 * i);
    return out;
  };
  const g1 = new Uint8Array(32 * srs.g1.length);
  for (let i = 0; i < srs.g1.length; i++) g1.set(compressG1(srs.g1[i]!), 32 * i);
  writeFileAtomic(g1Path, g1);
  writeFileAtomic(g2Path, g2Bytes(srs.g2));
  if (g2TrailingPath) writeFileAtomic(g2TrailingPath, g2Bytes(srs.g2Trailing));
}

/** How many `size`-byte points a point file holds; refuses a file that is not a whole number of them. */
export function pointCount(bytes: Uint8Array, size: number, file: string): number {
  if (bytes.length % size !== 0) {
    throw new DAEncodingError({
      code: "da/srs-bad-file-size",
      message: `${file} is ${bytes.length} bytes, not a whole number of ${size}-byte points`,
      hint: "the file is truncated or not a point file",
      fields: { file, length: bytes.length, pointBytes: size },
    });
  }
  return bytes.length / size;
}

/**
 * Reads the first `order` G1 powers from a g1.point prefix of any length, every G2 power the
 * g2.point file holds (at least 2: a chunk check needs [tau^chunkLength]_2), and, given
 * g2.trailing.point, its last `order` points for length proofs against the 2^28 setup; the
 * [tau^(2^28 - 2^i)]_1 are EigenDA's published ones unless given (files written from another
 * setup need their own). Without a trailing file the SRS commits and checks chunks but cannot make
 * length proofs (da/srs-no-trailing-points).
 */
export async function loadSrsPointFiles(g1Path: string, g2Path: string, order: number, g2TrailingPath?: string, g1ReversePowerOf2?: mcl.G1[]): Promise<Srs> {
  await initBn254();
  const g1Bytes = readFileSync(g1Path);
  const g2Bytes = readFileSync(g2Path);
  const trailingBytes = g2TrailingPath ? readFileSync(g2TrailingPath) : new Uint8Array(0);
  const g1Points = pointCount(g1Bytes, 32, g1Path);
  const g2Points = pointCount(g2Bytes, 64, g2Path);
  const trailingPoints = g2TrailingPath ? pointCount(trailingBytes, 64, g2TrailingPath) : 0;
  if (g1Points < order || g2Points < 2 || (g2TrailingPath !== undefined && trailingPoints < order)) {
    throw new DAConfigError({
      code: "da/srs-too-short",
      message: `the point files hold ${g1Points} G1, ${g2Points} G2 and ${trailingPoints} trailing G2 points; ${order} G1 (and trailing) points are needed`,
      hint: "use longer prefixes of the published files or lower the SRS order",
      fields: { order, g1Points, g2Points },
    });
  }
  const g1 = Array.from({ length: order }, (_, i) => decompressG1(g1Bytes.subarray(32 * i, 32 * i + 32), g1Path, i));
  const g2 = Array.from({ length: g2Points }, (_, i) => decompressG2(g2Bytes.subarray(64 * i, 64 * i + 64), g2Path, i));
  const skip = trailingPoints - (g2TrailingPath ? order : 0);
  const g2Trailing = Array.from({ length: g2TrailingPath ? order : 0 }, (_, i) => decompressG2(trailingBytes.subarray(64 * (skip + i), 64 * (skip + i + 1)), g2TrailingPath ?? "", skip + i));
  if (!g1[0]!.isEqual(g1Generator()) || !g2[0]!.isEqual(g2Generator())) {
    throw new DAEncodingError({ code: "da/srs-bad-generator", message: "the first points are not BN254's standard generators", hint: "the files belong to another setup", fields: { g1Path, g2Path } });
  }
  const sources = [g1Path, g2Path, ...(g2TrailingPath ? [g2TrailingPath] : [])].join(", ");
  return { kind: "ceremony", source: sources, order, g1, g2, g2Trailing, g1ReversePowerOf2: g1ReversePowerOf2 ?? publishedG1ReversePowerOf2() };
}
