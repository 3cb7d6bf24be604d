// Multi-scalar multiplications over fixed bases (the SRS's points never change), in G1 and G2.
//
// A prepared basis holds every point times 2^(c w) for each window w, in affine form, on mcl's
// heap for the life of the process. Then one set of buckets serves all windows (digit w of scalar
// i goes with P_i 2^(c w)): an MSM costs n x windows bucket additions and one bucket sum, with no
// doublings and no per-window bucket sums. The buckets stay affine too, and are filled by batched
// affine additions in WebAssembly (wasm/affine-batch.ts: one field inversion per batch, by
// Montgomery's trick), about half the field multiplications of mcl's mixed Jacobian addition.
// Building a basis costs about 255 doublings per point, so it pays off over repeated MSMs: the
// G2 length commitment and proof (prepareLengthTables) and FK20's per-position G1 MSMs.
import { createRequire } from "node:module";
import { bn254 } from "@noble/curves/bn254.js";
import * as mcl from "mcl-wasm";
import { SCALAR_BITS, signedDigits } from "./pippenger.js";
import { type AffineBatchExports, affineBatchKernel, FP_BYTES, FP2_BYTES, PAIR_BYTES, S_ONE, S_ZERO, SCRATCH_SLOTS } from "./wasm/affine-batch.js";

type GroupName = "G1" | "G2";

/** mcl's exported point functions for one group (pointers are heap offsets). */
interface GroupFunctions {
  clear(p: number): void;
  add(out: number, a: number, b: number): void;
  sub(out: number, a: number, b: number): void;
  dbl(out: number, a: number): void;
  neg(out: number, a: number): void;
  isZero(a: number): number;
  normalize(out: number, a: number): void;
  normalizeVec(out: number, points: number, count: number): void;
}

interface MclHeap {
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  wasmMemory: WebAssembly.Memory;
}

const load = createRequire(import.meta.url);
// mcl-wasm sets `mod` once initialised: read it live.
const mclExports = load("mcl-wasm") as { mod: MclHeap & Record<string, unknown> };
const mclSizes = load("mcl-wasm/dist/constants.js") as { MCLBN_G1_SIZE: number; MCLBN_G2_SIZE: number };

interface Group {
  name: GroupName;
  /** Bytes of one point on mcl's heap (x, y, z). */
  bytes: number;
  /** Bytes of one coordinate (Fp or Fp2). */
  coordinateBytes: number;
  fn: GroupFunctions;
  batchAdd(pairs: number, count: number, prefix: number, scratch: number): void;
}

let adder: { kernel: AffineBatchExports; scratch: number } | undefined;

/** The batched affine adder on mcl's heap, with its scratch (zero and one written), made on first use. */
function affineAdder(): { kernel: AffineBatchExports; scratch: number } {
  if (adder) return adder;
  const mod = mclExports.mod;
  const p = bn254.fields.Fp.ORDER;
  const scratch = mod._malloc(SCRATCH_SLOTS * FP2_BYTES);
  const words = new Uint32Array(mod.wasmMemory.buffer);
  words.fill(0, scratch / 4, (scratch + SCRATCH_SLOTS * FP2_BYTES) / 4);
  const one = (1n << 256n) % p; // 1 in Montgomery form
  for (let j = 0; j < 8; j++) words[(scratch + S_ONE * FP2_BYTES) / 4 + j] = Number((one >> BigInt(32 * j)) & 0xffffffffn);
  if (words[(scratch + S_ZERO * FP2_BYTES) / 4] !== 0) throw new Error("the affine adder's scratch is not zeroed");
  adder = { kernel: affineBatchKernel(p, mod.wasmMemory), scratch };
  return adder;
}

function group(name: GroupName): Group {
  const mod = mclExports.mod;
  const f = (op: string) => mod[`_mclBn${name}_${op}`] as (...args: number[]) => number;
  const { kernel } = affineAdder();
  return {
    name,
    bytes: name === "G1" ? mclSizes.MCLBN_G1_SIZE : mclSizes.MCLBN_G2_SIZE,
    coordinateBytes: name === "G1" ? FP_BYTES : FP2_BYTES,
    fn: {
      clear: f("clear"),
      add: f("add"),
      sub: f("sub"),
      dbl: f("dbl"),
      neg: f("neg"),
      isZero: f("isZero"),
      normalize: f("normalize"),
      normalizeVec: f("normalizeVec"),
    },
    batchAdd: name === "G1" ? kernel.g1BatchAdd : kernel.g2BatchAdd,
  };
}

/** A basis prepared for fixed-base MSMs (see the file's head). */
export interface FixedBase {
  group: GroupName;
  /** Heap offset of point i times 2^(c w), at slot w * count + i. */
  pointer: number;
  count: number;
  window: number;
  windows: number;
  /** Slots holding the point at infinity (skipped: the affine adder has no form for it). */
  zero: Uint8Array;
}

/**
 * The window minimising bucket additions (windows x n) plus the bucket sum (2^c Jacobian
 * additions, each weighing about 2.4 bucket additions), from 2 to 16 bits.
 */
export function fixedBaseWindow(n: number): number {
  let best = 2;
  let bestCost = Infinity;
  for (let c = 2; c <= 16; c++) {
    const cost = Math.ceil((SCALAR_BITS + 1) / c) * n + 2.4 * 2 ** c;
    if (cost < bestCost) [best, bestCost] = [c, cost];
  }
  return best;
}

/** Points normalised per mcl call (batched inversions, with mcl's scratch kept small). */
const NORMALIZE_PIECE = 1024;

/** Builds the fixed-base table of `points` (all of one group). */
export function prepareFixedBase(points: readonly (mcl.G1 | mcl.G2)[]): FixedBase {
  const name: GroupName = points[0] instanceof mcl.G1 ? "G1" : "G2";
  const g = group(name);
  const mod = mclExports.mod;
  const size = g.bytes;
  const count = points.length;
  const window = fixedBaseWindow(count);
  const windows = Math.ceil((SCALAR_BITS + 1) / window);
  const pointer = mod._malloc(size * count * windows);
  const slot = (w: number, i: number) => pointer + size * (w * count + i);
  for (let i = 0; i < count; i++) {
    points[i]!.copyToMem(slot(0, i));
    for (let w = 1; w < windows; w++) {
      g.fn.dbl(slot(w, i), slot(w - 1, i));
      for (let k = 1; k < window; k++) g.fn.dbl(slot(w, i), slot(w, i));
    }
  }
  for (let at = 0; at < count * windows; at += NORMALIZE_PIECE) {
    g.fn.normalizeVec(pointer + size * at, pointer + size * at, Math.min(NORMALIZE_PIECE, count * windows - at));
  }
  const zero = new Uint8Array(count * windows);
  for (let at = 0; at < count * windows; at++) zero[at] = g.fn.isZero(pointer + size * at) ? 1 : 0;
  return { group: name, pointer, count, window, windows, zero };
}

/** Additions per batch (one inversion each); at most a quarter of the buckets, so few land twice in one. */
const AFFINE_BATCH = 512;

/**
 * sum_i P_i * scalars[i] over the first scalars.length points of a prepared basis; equal to mcl's
 * mulVec. Each digit's point is added to its affine bucket by the batched adder, a bucket at most
 * once per batch. A point whose bucket is already in the batch (the top window's few small digits
 * make many) goes to a second, Jacobian bucket by mcl's mixed addition, joined to the affine one
 * before the bucket sum; an empty bucket takes the point as it is, and equal x (a doubling, or a
 * sum at infinity) goes to mcl and is normalised back.
 */
export function fixedBaseMsm(table: FixedBase, scalars: readonly bigint[]): mcl.G1 | mcl.G2 {
  const g = group(table.group);
  const { fn } = g;
  const mod = mclExports.mod;
  const size = g.bytes;
  const n = scalars.length;
  if (n > table.count) throw new RangeError(`${n} scalars for a prepared basis of ${table.count} points`);
  const { window: c, windows, count, pointer } = table;
  const bucketCount = 2 ** (c - 1);
  const batchLimit = Math.max(1, Math.min(AFFINE_BATCH, bucketCount >> 2));
  const digits = signedDigits(scalars, c, windows);
  const { scratch } = affineAdder();
  const base = mod._malloc(size * (2 * bucketCount + 2) + PAIR_BYTES * batchLimit + g.coordinateBytes * batchLimit);
  const bucket = (b: number) => base + size * b;
  const overflow = (b: number) => base + size * (bucketCount + b);
  const running = base + size * 2 * bucketCount;
  const total = running + size;
  const pairs = total + size;
  const prefix = pairs + PAIR_BYTES * batchLimit;
  const words = new Uint32Array(mod.wasmMemory.buffer); // after the last allocation
  const pairWords = new Int32Array(mod.wasmMemory.buffer, pairs, 3 * batchLimit);
  const filled = new Uint8Array(bucketCount);
  const overflowed = new Uint8Array(bucketCount);
  const inBatch = new Int32Array(bucketCount).fill(-1);
  let batch = 0;
  let pending = 0;
  // x's Fp limbs: x itself in G1, x's two parts (48 bytes apart) in G2.
  const xParts = table.group === "G1" ? [0] : [0, FP_BYTES / 4];

  const flush = () => {
    if (pending > 0) g.batchAdd(pairs, pending, prefix, scratch);
    pending = 0;
    batch++;
  };
  const sameX = (a: number, b: number) => {
    for (const part of xParts) for (let j = 0; j < 8; j++) if (words[a / 4 + part + j] !== words[b / 4 + part + j]) return false;
    return true;
  };
  const accumulate = (b: number, point: number, negate: number) => {
    const at = bucket(b);
    if (!filled[b]) {
      words.copyWithin(at / 4, point / 4, (point + size) / 4);
      if (negate) fn.neg(at, at);
      filled[b] = 1;
    } else if (inBatch[b] === batch) {
      const o = overflow(b);
      if (!overflowed[b]) fn.clear(o);
      overflowed[b] = 1;
      if (negate) fn.sub(o, o, point);
      else fn.add(o, o, point);
    } else if (sameX(at, point)) {
      if (negate) fn.sub(at, at, point);
      else fn.add(at, at, point);
      if (fn.isZero(at)) filled[b] = 0;
      else fn.normalize(at, at);
    } else {
      pairWords[3 * pending] = at;
      pairWords[3 * pending + 1] = point;
      pairWords[3 * pending + 2] = negate;
      inBatch[b] = batch;
      if (++pending === batchLimit) flush();
    }
  };
  try {
    for (let w = 0; w < windows; w++) {
      const row = w * n;
      const slots = pointer + size * w * count;
      for (let i = 0; i < n; i++) {
        const d = digits[row + i]!;
        if (d === 0 || table.zero[w * count + i]) continue;
        accumulate(Math.abs(d) - 1, slots + size * i, d < 0 ? 1 : 0);
      }
    }
    flush();
    // Each bucket's whole: the affine part plus its Jacobian overflow; then sum_b (b + 1) B_b by running sums.
    fn.clear(running);
    fn.clear(total);
    for (let b = bucketCount - 1; b >= 0; b--) {
      if (!filled[b]) fn.clear(bucket(b));
      const whole = overflowed[b] ? overflow(b) : bucket(b);
      if (overflowed[b]) fn.add(whole, whole, bucket(b));
      fn.add(running, running, whole);
      fn.add(total, total, running);
    }
    const out = table.group === "G1" ? new mcl.G1() : new mcl.G2();
    out.copyFromMem(total);
    return out;
  } finally {
    mod._free(base);
  }
}

/** fixedBaseMsm of a G1 basis. */
export function fixedBaseG1(table: FixedBase, scalars: readonly bigint[]): mcl.G1 {
  return fixedBaseMsm(table, scalars) as mcl.G1;
}

/** fixedBaseMsm of a G2 basis. */
export function fixedBaseG2(table: FixedBase, scalars: readonly bigint[]): mcl.G2 {
  return fixedBaseMsm(table, scalars) as mcl.G2;
}
