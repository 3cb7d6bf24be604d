// Multi-scalar multiplications over fixed bases (the SRS's points never change), in G1 and G2.
//
// A prepared basis holds every point times 2^(c w) for each window w, in affine form, on mcl's
// heap for the life of the process. Then one set of buckets serves all windows (digit w of scalar
// i goes with P_i 2^(c w)): an MSM costs n x windows bucket additions and one bucket sum, with no
// doublings and no per-window bucket sums; the buckets are affine (buckets.ts).
// Building a basis costs about 255 doublings per point, so it pays off over repeated MSMs: the
// G2 length commitment and proof (prepareLengthTables) and FK20's per-position G1 MSMs.
import * as mcl from "mcl-wasm";
import { AffineBuckets, type GroupName, group, mclHeap, normalizeOnHeap } from "./buckets.js";
import { SCALAR_BITS, signedDigits } from "./pippenger.js";

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

/** Builds the fixed-base table of `points` (all of one group). */
export function prepareFixedBase(points: readonly (mcl.G1 | mcl.G2)[]): FixedBase {
  const name: GroupName = points[0] instanceof mcl.G1 ? "G1" : "G2";
  const g = group(name);
  const mod = mclHeap();
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
  const zero = normalizeOnHeap(g, pointer, count * windows);
  return { group: name, pointer, count, window, windows, zero };
}

/** sum_i P_i * scalars[i] over the first scalars.length points of a prepared basis; equal to mcl's mulVec. */
export function fixedBaseMsm(table: FixedBase, scalars: readonly bigint[]): mcl.G1 | mcl.G2 {
  const g = group(table.group);
  const mod = mclHeap();
  const size = g.bytes;
  const n = scalars.length;
  if (n > table.count) throw new RangeError(`${n} scalars for a prepared basis of ${table.count} points`);
  const { window: c, windows, count, pointer } = table;
  const digits = signedDigits(scalars, c, windows);
  const total = mod._malloc(size);
  const buckets = new AffineBuckets(g, 2 ** (c - 1));
  try {
    for (let w = 0; w < windows; w++) {
      const row = w * n;
      const slots = pointer + size * w * count;
      for (let i = 0; i < n; i++) {
        const d = digits[row + i]!;
        if (d !== 0 && !table.zero[w * count + i]) buckets.add(Math.abs(d) - 1, slots + size * i, d < 0);
      }
    }
    g.fn.clear(total);
    buckets.sumInto(total);
    const out = table.group === "G1" ? new mcl.G1() : new mcl.G2();
    out.copyFromMem(total);
    return out;
  } finally {
    buckets.free();
    mod._free(total);
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
