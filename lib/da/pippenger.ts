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
import * as mcl from "mcl-wasm";
import { FR_MODULUS, Fr } from "./field.js";

/** The exports of mcl's WebAssembly instance that this file calls (pointers are heap offsets). */
interface MclModule {
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  _mclBnG2_clear(p: number): void;
  _mclBnG2_add(out: number, a: number, b: number): void;
  _mclBnG2_sub(out: number, a: number, b: number): void;
  _mclBnG2_dbl(out: number, a: number): void;
}

// mcl-wasm sets `mod` once initialised; a live read of its exports object (an ES import of a
// CommonJS module copies named exports when first loaded, before that).
const load = createRequire(import.meta.url);
const mclExports = load("mcl-wasm") as { mod: MclModule };
/** Bytes of one Jacobian G2 point on mcl's heap (as mcl.G2's copyToMem writes it). */
const G2_BYTES = (load("mcl-wasm/dist/constants.js") as { MCLBN_G2_SIZE: number }).MCLBN_G2_SIZE;

/** Scalars are below r < 2^254. */
export const SCALAR_BITS = 254;

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
export function signedDigits(scalars: readonly bigint[], c: number, windows: number): Int32Array {
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
