// Number-theoretic transforms over BN254's Fr: radix-2, in place, natural order in and out.
// An EigenDA blob holds a polynomial's coefficients (EIP-4844 blobs hold evaluations), so encoding
// is an NTT of the zero-extended coefficients over a domain `codingRate` times the blob length.
import { DAEncodingError } from "./errors.js";
import { Fr, rootOfUnity } from "./field.js";

/** Puts `values` (a power-of-two count) in bit-reversed index order, in place. */
export function bitReverse<T>(values: T[]): void {
  const n = values.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) [values[i], values[j]] = [values[j]!, values[i]!];
  }
}

function transform(values: readonly bigint[], root: bigint): bigint[] {
  const n = values.length;
  if (n === 0 || (n & (n - 1)) !== 0) {
    throw new DAEncodingError({ code: "da/bad-domain", message: `an NTT of ${n} points`, hint: "NTT sizes are powers of two", fields: { n } });
  }
  const a = values.slice();
  bitReverse(a);
  for (let len = 2; len <= n; len <<= 1) {
    const step = Fr.pow(root, BigInt(n / len));
    const half = len >> 1;
    const twiddles = new Array<bigint>(half);
    twiddles[0] = 1n;
    for (let k = 1; k < half; k++) twiddles[k] = Fr.mul(twiddles[k - 1]!, step);
    for (let start = 0; start < n; start += len) {
      for (let k = 0; k < half; k++) {
        const u = a[start + k]!;
        const v = Fr.mul(a[start + k + half]!, twiddles[k]!);
        a[start + k] = Fr.add(u, v);
        a[start + k + half] = Fr.sub(u, v);
      }
    }
  }
  return a;
}

/** Evaluations of the polynomial with these coefficients at 1, w, w^2, ... (w a primitive n-th root). */
export function ntt(coefficients: readonly bigint[]): bigint[] {
  return transform(coefficients, rootOfUnity(coefficients.length));
}

/** Coefficients from evaluations at the n-th roots of unity. */
export function intt(evaluations: readonly bigint[]): bigint[] {
  const n = evaluations.length;
  const out = transform(evaluations, Fr.inv(rootOfUnity(n)));
  const nInv = Fr.inv(BigInt(n));
  for (let i = 0; i < n; i++) out[i] = Fr.mul(out[i]!, nInv);
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
