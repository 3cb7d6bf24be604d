// Pippenger's bucket method for G2 multi-scalar multiplications, on mcl's own point arithmetic.
//
// mcl-wasm's G2 mulVec costs about one scalar multiplication per point whatever the count (its
// G2 path has no bucket method), while a blob's length commitment and length proof are G2 MSMs of
// thousands of points. Here each scalar is cut into signed c-bit digits; per window every point is
// added to (or subtracted from) the bucket of its digit, the buckets are summed by a running sum
// (sum_b b * B_b with two additions per bucket), and the windows are joined by c doublings. Points
// and buckets stay on mcl's WebAssembly heap and its exported G2 functions are called on them
// directly: through mcl-wasm's object wrappers every addition would copy its points in and out.
import { createRequire } from "node:module";
import { bn254 } from "@noble/curves/bn254.js";
import * as mcl from "mcl-wasm";
import { FR_MODULUS, Fr } from "./field.js";
import { FP_BYTES, FP2_BYTES, type G2AffineExports, g2AffineKernel, PAIR_BYTES, S_ONE, S_ZERO, SCRATCH_SLOTS } from "./wasm/g2-affine.js";

/** The exports of mcl's WebAssembly instance that this file calls (pointers are heap offsets). */
interface MclModule {
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  _mclBnG2_clear(p: number): void;
  _mclBnG2_add(out: number, a: number, b: number): void;
  _mclBnG2_sub(out: number, a: number, b: number): void;
  _mclBnG2_dbl(out: number, a: number): void;
  _mclBnG2_normalizeVec(out: number, points: number, count: number): void;
  _mclBnG2_normalize(out: number, a: number): void;
  _mclBnG2_neg(out: number, a: number): void;
  _mclBnG2_isZero(a: number): number;
  wasmMemory: WebAssembly.Memory;
}

// mcl-wasm sets `mod` once initialised; a live read of its exports object (an ES import of a
// CommonJS module copies named exports when first loaded, before that).
const load = createRequire(import.meta.url);
const mclExports = load("mcl-wasm") as { mod: MclModule };
/** Bytes of one Jacobian G2 point on mcl's heap (as mcl.G2's copyToMem writes it). */
const G2_BYTES = (load("mcl-wasm/dist/constants.js") as { MCLBN_G2_SIZE: number }).MCLBN_G2_SIZE;

/** Scalars are below r < 2^254. */
const SCALAR_BITS = 254;

/** The window minimising (windows) x (points + 2 x buckets) additions, from 2 to 16 bits. */
export function pippengerWindow(n: number): number {
  let best = 2;
  let bestCost = Infinity;
  for (let c = 2; c <= 16; c++) {
    const cost = Math.ceil((SCALAR_BITS + 1) / c) * (n + 2 * 2 ** (c - 1));
    if (cost < bestCost) [best, bestCost] = [c, cost];
  }
  return best;
}

/**
 * Each scalar's signed base-2^c digits, window-major (digits[w * n + i]), each in
 * [-(2^(c-1) - 1), 2^(c-1)]: a digit above half the base borrows from the next window, so
 * windows * c >= 255 bits always leave the last digit without a carry.
 */
function signedDigits(scalars: readonly bigint[], c: number, windows: number): Int32Array {
  const n = scalars.length;
  const digits = new Int32Array(windows * n);
  const words = new Uint32Array(9); // 8 words of the scalar and one zero word to read past its top
  const half = 2 ** (c - 1);
  for (let i = 0; i < n; i++) {
    let s = scalars[i]!;
    if (s < 0n || s >= FR_MODULUS) s = Fr.create(s);
    for (let k = 0; k < 8; k++, s >>= 32n) words[k] = Number(s & 0xffffffffn);
    let carry = 0;
    for (let w = 0; w < windows; w++) {
      const bit = w * c;
      const word = bit >>> 5;
      const shift = bit & 31;
      let raw = words[word]! >>> shift;
      if (shift + c > 32) raw |= words[word + 1]! << (32 - shift);
      let d = (raw & (2 * half - 1)) + carry;
      carry = d > half ? 1 : 0;
      if (carry) d -= 2 * half;
      digits[w * n + i] = d;
    }
  }
  return digits;
}

/** Stage 2 for one set of buckets: sum_b (b + 1) B_b, added to `total`, from the top bucket down by running sums. */
function addBucketSum(mod: MclModule, bucket: (b: number) => number, bucketCount: number, running: number, windowSum: number, total: number): void {
  mod._mclBnG2_clear(running);
  mod._mclBnG2_clear(windowSum);
  for (let b = bucketCount - 1; b >= 0; b--) {
    mod._mclBnG2_add(running, running, bucket(b));
    mod._mclBnG2_add(windowSum, windowSum, running);
  }
  mod._mclBnG2_add(total, total, windowSum);
}

/** sum_i points[i] * scalars[i] in G2 by Pippenger's method; equal to mcl's mulVec. */
export function pippengerG2(points: readonly mcl.G2[], scalars: readonly bigint[]): mcl.G2 {
  const mod = mclExports.mod;
  const size = G2_BYTES;
  const n = scalars.length;
  const c = pippengerWindow(n);
  const windows = Math.ceil((SCALAR_BITS + 1) / c);
  const bucketCount = 2 ** (c - 1);
  const digits = signedDigits(scalars, c, windows);

  // One heap block: the points, the buckets, the running sum, the window's sum and the total.
  const base = mod._malloc(size * (n + bucketCount + 3));
  const point = (i: number) => base + size * i;
  const bucket = (b: number) => base + size * (n + b);
  const running = bucket(bucketCount);
  const windowSum = running + size;
  const total = windowSum + size;
  try {
    for (let i = 0; i < n; i++) points[i]!.copyToMem(point(i));
    mod._mclBnG2_clear(total);
    for (let w = windows - 1; w >= 0; w--) {
      for (let k = 0; k < c; k++) mod._mclBnG2_dbl(total, total);
      // Stage 1: each point into the bucket of its digit.
      for (let b = 0; b < bucketCount; b++) mod._mclBnG2_clear(bucket(b));
      const row = w * n;
      for (let i = 0; i < n; i++) {
        const d = digits[row + i]!;
        if (d > 0) mod._mclBnG2_add(bucket(d - 1), bucket(d - 1), point(i));
        else if (d < 0) mod._mclBnG2_sub(bucket(-d - 1), bucket(-d - 1), point(i));
      }
      // Stage 2: sum_b b * B_b as the sum of the running sums from the top bucket down.
      addBucketSum(mod, bucket, bucketCount, running, windowSum, total);
    }
    const out = new mcl.G2();
    out.copyFromMem(total);
    return out;
  } finally {
    mod._free(base);
  }
}

/**
 * A G2 basis prepared for fixed-base MSMs (the SRS's points never change): every point times
 * 2^(c w) for each window w, in affine form, on mcl's heap for the life of the process. Then one
 * set of buckets serves all windows (digit w of scalar i goes with P_i 2^(c w)): an MSM costs
 * n x windows mixed additions and one bucket sum, with no doublings and no per-window bucket sums,
 * and affine points make every bucket addition a mixed one (less than half a Jacobian addition in
 * mcl). Building it costs about 255 doublings per point, so it pays off over repeated MSMs.
 */
export interface G2FixedBase {
  /** Heap offset of point i times 2^(c w), at slot w * count + i. */
  pointer: number;
  count: number;
  window: number;
  windows: number;
  /** Slots holding the point at infinity (skipped: the affine adder has no form for it). */
  zero: Uint8Array;
}

/**
 * The window minimising bucket additions (windows x n, mixed) plus the bucket sum (2^c Jacobian
 * additions, each weighing about 2.4 mixed ones in mcl's G2), from 2 to 16 bits.
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

/** Builds the fixed-base table of `points` (see G2FixedBase). */
export function prepareG2FixedBase(points: readonly mcl.G2[]): G2FixedBase {
  const mod = mclExports.mod;
  const size = G2_BYTES;
  const count = points.length;
  const window = fixedBaseWindow(count);
  const windows = Math.ceil((SCALAR_BITS + 1) / window);
  const pointer = mod._malloc(size * count * windows);
  const slot = (w: number, i: number) => pointer + size * (w * count + i);
  for (let i = 0; i < count; i++) {
    points[i]!.copyToMem(slot(0, i));
    for (let w = 1; w < windows; w++) {
      mod._mclBnG2_dbl(slot(w, i), slot(w - 1, i));
      for (let k = 1; k < window; k++) mod._mclBnG2_dbl(slot(w, i), slot(w, i));
    }
  }
  // Affine form, by batched inversions, in pieces that keep mcl's scratch space small.
  for (let at = 0; at < count * windows; at += MSM_NORMALIZE_PIECE) {
    mod._mclBnG2_normalizeVec(pointer + size * at, pointer + size * at, Math.min(MSM_NORMALIZE_PIECE, count * windows - at));
  }
  const zero = new Uint8Array(count * windows);
  for (let at = 0; at < count * windows; at++) zero[at] = mod._mclBnG2_isZero(pointer + size * at) ? 1 : 0;
  return { pointer, count, window, windows, zero };
}

const MSM_NORMALIZE_PIECE = 1024;

/** The batched affine adder on mcl's heap, with its scratch (zero and one written), made on first use. */
let affineAdder: { kernel: G2AffineExports; scratch: number } | undefined;

function affine(): { kernel: G2AffineExports; scratch: number } {
  if (affineAdder) return affineAdder;
  const mod = mclExports.mod;
  const p = bn254.fields.Fp.ORDER;
  const scratch = mod._malloc(SCRATCH_SLOTS * FP2_BYTES);
  const words = new Uint32Array(mod.wasmMemory.buffer);
  words.fill(0, scratch / 4, scratch / 4 + (SCRATCH_SLOTS * FP2_BYTES) / 4);
  const one = (1n << 256n) % p; // 1 in Montgomery form
  for (let j = 0; j < 8; j++) words[(scratch + S_ONE * FP2_BYTES) / 4 + j] = Number((one >> BigInt(32 * j)) & 0xffffffffn);
  if (words[(scratch + S_ZERO * FP2_BYTES) / 4] !== 0) throw new Error("scratch not zeroed");
  affineAdder = { kernel: g2AffineKernel(p, mod.wasmMemory), scratch };
  return affineAdder;
}

/** Additions per batch (one Fp2 inversion each); at most half the buckets, so few land twice in one. */
const AFFINE_BATCH = 512;

/**
 * sum_i P_i * scalars[i] over the first scalars.length points of a prepared basis; equal to
 * pippengerG2. The buckets stay affine: each digit's point is added by the batched affine adder
 * (wasm/g2-affine.ts), a bucket at most once per batch. A point whose bucket is already in the
 * batch (the top window's few small digits make many) goes to a second, Jacobian bucket by mcl's
 * mixed addition, joined to the affine one before the bucket sum; an empty bucket takes the point
 * as it is, and equal x (a doubling, or a sum at infinity) goes to mcl and is normalised back.
 */
export function fixedBaseG2(table: G2FixedBase, scalars: readonly bigint[]): mcl.G2 {
  const mod = mclExports.mod;
  const size = G2_BYTES;
  const n = scalars.length;
  if (n > table.count) throw new RangeError(`${n} scalars for a prepared basis of ${table.count} points`);
  const { window: c, windows, count, pointer } = table;
  const bucketCount = 2 ** (c - 1);
  const batchLimit = Math.max(1, Math.min(AFFINE_BATCH, bucketCount >> 2));
  const digits = signedDigits(scalars, c, windows);
  const { kernel, scratch } = affine();
  const base = mod._malloc(size * (2 * bucketCount + 3) + PAIR_BYTES * batchLimit + FP2_BYTES * batchLimit);
  const bucket = (b: number) => base + size * b;
  const overflow = (b: number) => base + size * (bucketCount + b);
  const running = base + size * 2 * bucketCount;
  const windowSum = running + size;
  const total = windowSum + size;
  const pairs = total + size;
  const prefix = pairs + PAIR_BYTES * batchLimit;
  const words = new Uint32Array(mod.wasmMemory.buffer); // after the last allocation
  const pairWords = new Int32Array(mod.wasmMemory.buffer, pairs, 3 * batchLimit);
  const filled = new Uint8Array(bucketCount);
  const overflowed = new Uint8Array(bucketCount);
  const inBatch = new Int32Array(bucketCount).fill(-1);
  let batch = 0;
  let pending = 0;

  const flush = () => {
    if (pending > 0) kernel.batchAdd(pairs, pending, prefix, scratch);
    pending = 0;
    batch++;
  };
  const sameX = (a: number, b: number) => {
    const [wa, wb] = [a / 4, b / 4];
    for (let j = 0; j < 8; j++) if (words[wa + j] !== words[wb + j] || words[wa + 12 + j] !== words[wb + 12 + j]) return false;
    return true;
  };
  const accumulate = (b: number, point: number, negate: number) => {
    const at = bucket(b);
    if (!filled[b]) {
      words.copyWithin(at / 4, point / 4, (point + size) / 4);
      if (negate) mod._mclBnG2_neg(at, at);
      filled[b] = 1;
    } else if (inBatch[b] === batch) {
      const o = overflow(b);
      if (!overflowed[b]) mod._mclBnG2_clear(o);
      overflowed[b] = 1;
      if (negate) mod._mclBnG2_sub(o, o, point);
      else mod._mclBnG2_add(o, o, point);
    } else if (sameX(at, point)) {
      if (negate) mod._mclBnG2_sub(at, at, point);
      else mod._mclBnG2_add(at, at, point);
      if (mod._mclBnG2_isZero(at)) filled[b] = 0;
      else mod._mclBnG2_normalize(at, at);
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
    // Each bucket's whole: the affine part plus its Jacobian overflow.
    for (let b = 0; b < bucketCount; b++) {
      if (!filled[b]) mod._mclBnG2_clear(bucket(b));
      if (overflowed[b]) mod._mclBnG2_add(overflow(b), overflow(b), bucket(b));
    }
    mod._mclBnG2_clear(total);
    addBucketSum(mod, (b) => (overflowed[b] ? overflow(b) : bucket(b)), bucketCount, running, windowSum, total);
    const out = new mcl.G2();
    out.copyFromMem(total);
    return out;
  } finally {
    mod._free(base);
  }
}
