/**
 * Seeded random numbers: every experiment in the lab takes a seed, and the same seed gives the
 * same numbers on every machine and backend. SplitMix64 seeds xoshiro128** (fast, well-tested,
 * 32-bit arithmetic only, so it is exact in JavaScript).
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** Shuffles in place (Fisher–Yates) and returns the array. */
  shuffle<T>(items: T[]): T[];
  /** An independent stream derived from this seed and a label, so adding draws in one place
   *  does not shift the numbers drawn in another. */
  fork(label: string): Rng;
  /** A 32-bit integer, e.g. to seed tfjs initialisers. */
  uint32(): number;
}

function splitmix64(seed: bigint): () => bigint {
  let state = BigInt.asUintN(64, seed);
  return () => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
}

function hashLabel(label: string): bigint {
  // FNV-1a 64-bit: a stable label-to-seed map.
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(label)) {
    h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n);
  }
  return h;
}

export function rng(seed: number | bigint): Rng {
  if (typeof seed === "number" && !Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, got ${seed}`);
  }
  const seedBig = BigInt(seed);
  const sm = splitmix64(seedBig);
  const s = new Uint32Array(4);
  for (let i = 0; i < 2; i++) {
    const v = sm();
    s[2 * i] = Number(v & 0xffffffffn);
    s[2 * i + 1] = Number(v >> 32n);
  }
  const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const uint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  const next = () => (uint32() * 2 ** 21 + (uint32() >>> 11)) / 2 ** 53;
  let spareNormal: number | undefined;
  return {
    next,
    uint32,
    int(n) {
      if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
      return Math.floor(next() * n);
    },
    normal() {
      if (spareNormal !== undefined) {
        const v = spareNormal;
        spareNormal = undefined;
        return v;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spareNormal = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle(items) {
      for (let i = items.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [items[i], items[j]] = [items[j], items[i]];
      }
      return items;
    },
    fork(label) {
      return rng(BigInt.asUintN(63, seedBig ^ hashLabel(label)));
    },
  };
}

/**
 * The 32-bit linear congruential stream (Numerical Recipes' constants) that drew the random starts
 * of the logistic-regression benchmark's TRAK ensemble, kept so its recorded claims reproduce
 * exactly; new code draws from `rng`. Uniform in [0, 1) from a seed (0 counts as 1).
 */
export function lcgUniform(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
