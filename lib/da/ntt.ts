// Number-theoretic transforms over BN254's Fr: radix-2, in place, natural order in and out.
// An EigenDA blob holds a polynomial's coefficients (EIP-4844 blobs hold evaluations), so encoding
// is an NTT of the zero-extended coefficients over a domain `codingRate` times the blob length.
//
// The butterflies work on plain bigints with one `%` per product and compare-and-subtract for sums
// and differences (a `%` on every add, as Fr.add does, costs as much again); every value stays in
// [0, r), so the outputs are the canonical field elements Fr's own operations give.
import { DAEncodingError } from "./errors.js";
import { FR_MODULUS, Fr, rootOfUnity } from "./field.js";

const R = FR_MODULUS;

/** Puts `values` (a power-of-two count) in bit-reversed index order, in place. */
export function bitReverse<T>(values: T[]): void {
  const n = values.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const swap = values[i]!;
      values[i] = values[j]!;
      values[j] = swap;
    }
  }
}

function requirePowerOfTwo(n: number): void {
  if (n === 0 || (n & (n - 1)) !== 0) {
    throw new DAEncodingError({ code: "da/bad-domain", message: `an NTT of ${n} points`, hint: "NTT sizes are powers of two", fields: { n } });
  }
}

// Powers root^0 .. root^(n/2 - 1) of each root used: the stage of length `len` takes every
// (n/len)-th one. Encoding uses a handful of domain sizes (and FK20 thousands of transforms of one
// size), so each table is built once.
const twiddleTables = new Map<bigint, bigint[]>();

function twiddles(root: bigint, n: number): bigint[] {
  const hit = twiddleTables.get(root);
  if (hit && hit.length === n / 2) return hit;
  const table = new Array<bigint>(Math.max(1, n / 2));
  table[0] = 1n;
  for (let k = 1; k < n / 2; k++) table[k] = (table[k - 1]! * root) % R;
  twiddleTables.set(root, table);
  return table;
}

/** A copy of `values` reduced into [0, r) (callers may pass negatives or r itself). */
function canonical(values: readonly bigint[]): bigint[] {
  return values.map((v) => (v >= 0n && v < R ? v : Fr.create(v)));
}

/**
 * The radix-2 stages from length `firstLen` up, on `a` already in bit-reversed order: each
 * butterfly (u, v) -> (u + w v, u - w v), w = root^(k n / len).
 */
function butterflyStages(a: bigint[], root: bigint, firstLen: number): void {
  const n = a.length;
  const table = twiddles(root, n);
  for (let len = firstLen; len <= n; len <<= 1) {
    const half = len >> 1;
    const stride = n / len;
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < half; k++) {
        const u = a[start + k]!;
        const v = k === 0 ? a[start + half]! : (a[start + k + half]! * table[k * stride]!) % R;
        const sum = u + v;
        a[start + k] = sum >= R ? sum - R : sum;
        const difference = u - v;
        a[start + k + half] = difference < 0n ? difference + R : difference;
      }
    }
  }
}

function transform(values: readonly bigint[], root: bigint): bigint[] {
  requirePowerOfTwo(values.length);
  const a = canonical(values);
  bitReverse(a);
  butterflyStages(a, root, 2);
  return a;
}

/** Evaluations of the polynomial with these coefficients at 1, w, w^2, ... (w a primitive n-th root). */
export function ntt(coefficients: readonly bigint[]): bigint[] {
  return transform(coefficients, rootOfUnity(coefficients.length));
}

/**
 * The NTT over `domainSize` points of `coefficients` zero-extended to that size (equal to
 * ntt(padded)). In bit-reversed order coefficient rev(k) lands at position k * spread (spread =
 * domainSize / length) with zeros after it, and the first log2(spread) stages, whose butterflies
 * only ever see (u, 0), copy it over its block: they are done as that copy.
 */
export function extendedNtt(coefficients: readonly bigint[], domainSize: number): bigint[] {
  const m = coefficients.length;
  requirePowerOfTwo(m);
  requirePowerOfTwo(domainSize);
  if (domainSize < m) {
    throw new DAEncodingError({
      code: "da/bad-domain",
      message: `${m} coefficients on a domain of ${domainSize} points`,
      hint: "the domain holds at least as many points as coefficients",
      fields: { n: domainSize },
    });
  }
  const spread = domainSize / m;
  const reversed = canonical(coefficients);
  bitReverse(reversed);
  const a = new Array<bigint>(domainSize);
  for (let k = 0; k < m; k++) a.fill(reversed[k]!, k * spread, (k + 1) * spread);
  butterflyStages(a, rootOfUnity(domainSize), 2 * spread);
  return a;
}

/** Coefficients from evaluations at the n-th roots of unity. */
export function intt(evaluations: readonly bigint[]): bigint[] {
  const n = evaluations.length;
  const out = transform(evaluations, Fr.inv(rootOfUnity(n)));
  const nInv = Fr.inv(BigInt(n));
  for (let i = 0; i < n; i++) out[i] = (out[i]! * nInv) % R;
  return out;
}

/** Evaluations at shift * w^i: the NTT of coefficients scaled by shift^i. */
export function cosetNtt(coefficients: readonly bigint[], shift: bigint): bigint[] {
  let s = 1n;
  const scaled = coefficients.map((c) => {
    const v = Fr.mul(c, s);
    s = Fr.mul(s, shift);
    return v;
  });
  return ntt(scaled);
}

export function cosetIntt(evaluations: readonly bigint[], shift: bigint): bigint[] {
  const coefficients = intt(evaluations);
  const inv = Fr.inv(shift);
  let s = 1n;
  for (let i = 0; i < coefficients.length; i++) {
    coefficients[i] = Fr.mul(coefficients[i]!, s);
    s = Fr.mul(s, inv);
  }
  return coefficients;
}

/** Horner evaluation of a polynomial given by coefficients. */
export function evaluatePolynomial(coefficients: readonly bigint[], x: bigint): bigint {
  let acc = 0n;
  for (let i = coefficients.length - 1; i >= 0; i--) acc = Fr.add(Fr.mul(acc, x), coefficients[i]!);
  return acc;
}
