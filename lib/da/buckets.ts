// Pippenger's buckets in affine form, for G1 and G2 MSMs on mcl's heap.
//
// Bucket accumulation is most of an MSM's work. Here each bucket stays affine (z = 1) and points
// are added to it by batched affine additions in WebAssembly (wasm/affine-batch.ts: one field
// inversion per batch, by Montgomery's trick), about half the field multiplications of mcl's mixed
// Jacobian addition. A bucket takes at most one addition per batch: a point whose bucket is already
// in the batch (the top window's few small digits make many) goes to a second, Jacobian bucket by
// mcl's mixed addition, joined to the affine one before the bucket sum; an empty bucket takes the
// point as it is, and equal x (a doubling, or a sum at infinity) goes to mcl and is normalised back.
// Points added must be affine (normalizeOnHeap).
import { createRequire } from "node:module";
import { bn254 } from "@noble/curves/bn254.js";
import { type AffineBatchExports, affineBatchKernel, FP_BYTES, FP2_BYTES, PAIR_BYTES, S_ONE, S_ZERO, SCRATCH_SLOTS } from "./wasm/affine-batch.js";

export type GroupName = "G1" | "G2";

/** mcl's exported point functions for one group (pointers are heap offsets). */
export interface GroupFunctions {
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

/** mcl's heap (malloc, free, its memory). */
export function mclHeap(): MclHeap {
  return mclExports.mod;
}

export interface Group {
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

export function group(name: GroupName): Group {
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

/** Points normalised per mcl call (batched inversions, with mcl's scratch kept small). */
const NORMALIZE_PIECE = 1024;

/** Puts `count` points at `pointer` in affine form; returns which are the point at infinity (bucket adds skip them). */
export function normalizeOnHeap(g: Group, pointer: number, count: number): Uint8Array {
  for (let at = 0; at < count; at += NORMALIZE_PIECE) g.fn.normalizeVec(pointer + g.bytes * at, pointer + g.bytes * at, Math.min(NORMALIZE_PIECE, count - at));
  const zero = new Uint8Array(count);
  for (let at = 0; at < count; at++) zero[at] = g.fn.isZero(pointer + g.bytes * at) ? 1 : 0;
  return zero;
}

/** Additions per batch (one inversion each); at most a quarter of the buckets, so few land twice in one. */
const AFFINE_BATCH = 512;

/** Buckets B_0 .. B_(count-1) for digits 1 .. count, affine, on mcl's heap (free() when done). */
export class AffineBuckets {
  private readonly base: number;
  private readonly batchLimit: number;
  private readonly words: Uint32Array;
  private readonly pairWords: Int32Array;
  private readonly filled: Uint8Array;
  private readonly overflowed: Uint8Array;
  private readonly inBatch: Int32Array;
  private readonly pairs: number;
  private readonly prefix: number;
  private readonly running: number;
  private readonly sum: number;
  private readonly xParts: number[];
  private batch = 0;
  private pending = 0;

  constructor(
    private readonly g: Group,
    private readonly count: number,
  ) {
    const mod = mclExports.mod;
    this.batchLimit = Math.max(1, Math.min(AFFINE_BATCH, count >> 2));
    this.base = mod._malloc(g.bytes * (2 * count + 2) + PAIR_BYTES * this.batchLimit + g.coordinateBytes * this.batchLimit);
    this.running = this.base + g.bytes * 2 * count;
    this.sum = this.running + g.bytes;
    this.pairs = this.sum + g.bytes;
    this.prefix = this.pairs + PAIR_BYTES * this.batchLimit;
    // Views after the last allocation (mcl's memory may have grown).
    this.words = new Uint32Array(mod.wasmMemory.buffer);
    this.pairWords = new Int32Array(mod.wasmMemory.buffer, this.pairs, 3 * this.batchLimit);
    this.filled = new Uint8Array(count);
    this.overflowed = new Uint8Array(count);
    this.inBatch = new Int32Array(count).fill(-1);
    // x's Fp limbs: x itself in G1, x's two parts (48 bytes apart) in G2.
    this.xParts = g.name === "G1" ? [0] : [0, FP_BYTES / 4];
  }

  private bucket(b: number): number {
    return this.base + this.g.bytes * b;
  }

  private overflow(b: number): number {
    return this.base + this.g.bytes * (this.count + b);
  }

  private flush(): void {
    if (this.pending > 0) this.g.batchAdd(this.pairs, this.pending, this.prefix, affineAdder().scratch);
    this.pending = 0;
    this.batch++;
  }

  private sameX(a: number, b: number): boolean {
    const w = this.words;
    for (const part of this.xParts) for (let j = 0; j < 8; j++) if (w[a / 4 + part + j] !== w[b / 4 + part + j]) return false;
    return true;
  }

  /** B_b += point (or -point): `point` an affine point's heap offset, not at infinity. */
  add(b: number, point: number, negate: boolean): void {
    const { fn, bytes } = this.g;
    const at = this.bucket(b);
    if (!this.filled[b]) {
      this.words.copyWithin(at / 4, point / 4, (point + bytes) / 4);
      if (negate) fn.neg(at, at);
      this.filled[b] = 1;
    } else if (this.inBatch[b] === this.batch) {
      const o = this.overflow(b);
      if (!this.overflowed[b]) fn.clear(o);
      this.overflowed[b] = 1;
      if (negate) fn.sub(o, o, point);
      else fn.add(o, o, point);
    } else if (this.sameX(at, point)) {
      if (negate) fn.sub(at, at, point);
      else fn.add(at, at, point);
      if (fn.isZero(at)) this.filled[b] = 0;
      else fn.normalize(at, at);
    } else {
      const k = 3 * this.pending;
      this.pairWords[k] = at;
      this.pairWords[k + 1] = point;
      this.pairWords[k + 2] = negate ? 1 : 0;
      this.inBatch[b] = this.batch;
      if (++this.pending === this.batchLimit) this.flush();
    }
  }

  /** total += sum_b (b + 1) B_b (running sums from the top bucket down); the buckets are then empty. */
  sumInto(total: number): void {
    const { fn } = this.g;
    this.flush();
    fn.clear(this.running);
    fn.clear(this.sum);
    for (let b = this.count - 1; b >= 0; b--) {
      if (!this.filled[b]) fn.clear(this.bucket(b));
      const whole = this.overflowed[b] ? this.overflow(b) : this.bucket(b);
      if (this.overflowed[b]) fn.add(whole, whole, this.bucket(b));
      fn.add(this.running, this.running, whole);
      fn.add(this.sum, this.sum, this.running);
    }
    fn.add(total, total, this.sum);
    this.filled.fill(0);
    this.overflowed.fill(0);
  }

  free(): void {
    mclExports.mod._free(this.base);
  }
}
