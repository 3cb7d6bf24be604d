// Pippenger's bucket method for G2 multi-scalar multiplications, on mcl's own point arithmetic.
//
// mcl-wasm's G2 mulVec costs about one scalar multiplication per point whatever the count (its
// G2 path has no bucket method), while a blob's length commitment and length proof are G2 MSMs of
// thousands of points. Here each scalar is cut into signed c-bit digits; per window every point is
// added to (or subtracted from) the bucket of its digit, the buckets are summed by a running sum
// (sum_b b * B_b with two additions per bucket), and the windows are joined by c doublings. Points
// and buckets stay on mcl's WebAssembly heap, the buckets affine (buckets.ts): through mcl-wasm's
// object wrappers every addition would copy its points in and out.
import * as mcl from "mcl-wasm";
import { AffineBuckets, group, mclHeap, normalizeOnHeap } from "./buckets.js";
import { FR_MODULUS, Fr } from "./field.js";

/** Scalars are below r < 2^254. */
export const SCALAR_BITS = 254;

/**
 * The window minimising (windows) x (points + 2 x buckets) additions, from 2 to 16 bits, a bucket
 * sum's Jacobian addition weighing about 1.2 of the buckets' batched affine ones (2.4 per bucket).
 */
export function pippengerWindow(n: number): number {
  let best = 2;
  let bestCost = Infinity;
  for (let c = 2; c <= 16; c++) {
    const cost = Math.ceil((SCALAR_BITS + 1) / c) * (n + 2.4 * 2 ** c);
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

/** sum_i points[i] * scalars[i] in G2 by Pippenger's method; equal to mcl's mulVec. */
export function pippengerG2(points: readonly mcl.G2[], scalars: readonly bigint[]): mcl.G2 {
  const g = group("G2");
  const mod = mclHeap();
  const size = g.bytes;
  const n = scalars.length;
  const c = pippengerWindow(n);
  const windows = Math.ceil((SCALAR_BITS + 1) / c);
  const digits = signedDigits(scalars, c, windows);
  // The points (affine, for the buckets' additions) and the total, then the buckets.
  const base = mod._malloc(size * (n + 1));
  const point = (i: number) => base + size * i;
  const total = point(n);
  let buckets: AffineBuckets | undefined;
  try {
    for (let i = 0; i < n; i++) points[i]!.copyToMem(point(i));
    const zero = normalizeOnHeap(g, base, n);
    buckets = new AffineBuckets(g, 2 ** (c - 1));
    g.fn.clear(total);
    for (let w = windows - 1; w >= 0; w--) {
      for (let k = 0; k < c; k++) g.fn.dbl(total, total);
      const row = w * n;
      for (let i = 0; i < n; i++) {
        const d = digits[row + i]!;
        if (d !== 0 && !zero[i]) buckets.add(Math.abs(d) - 1, point(i), d < 0);
      }
      buckets.sumInto(total);
    }
    const out = new mcl.G2();
    out.copyFromMem(total);
    return out;
  } finally {
    buckets?.free();
    mod._free(base);
  }
}
