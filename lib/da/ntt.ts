// Number-theoretic transforms over BN254's Fr: radix-2, natural order in and out. An EigenDA blob
// holds a polynomial's coefficients (EIP-4844 blobs hold evaluations), so encoding is an NTT of the
// zero-extended coefficients over a domain `codingRate` times the blob length.
//
// The butterflies run in WebAssembly (wasm/montgomery.ts): the values are written to the kernel's
// memory once, every stage runs there, and the canonical field elements are read back once.
import { DAEncodingError } from "./errors.js";
import { FR_MODULUS, Fr, rootOfUnity } from "./field.js";
import { ELEMENT_BYTES, MontgomeryKernel } from "./wasm/montgomery.js";

const R = FR_MODULUS;
/** Built once at module load: a small module compiles synchronously. */
const kernel = new MontgomeryKernel(R);
// The kernel's memory: one scratch element, one constant (the INTT's 1/n), the twiddles, the data.
const SCRATCH = 0;
const CONSTANT = ELEMENT_BYTES;
const TWIDDLES = 2 * ELEMENT_BYTES;

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

// Powers root^0 .. root^(n/2 - 1) of each root used, in Montgomery form as the kernel's memory holds
// them: the stage of length `len` takes every (n/len)-th one. Encoding uses a handful of domain
// sizes (and FK20 thousands of transforms of one size), so each table is built once.
const twiddleTables = new Map<bigint, BigUint64Array>();

function twiddles(root: bigint, n: number): BigUint64Array {
  const hit = twiddleTables.get(root);
  if (hit) return hit;
  const count = Math.max(1, n / 2);
  const powers = new Array<bigint>(count);
  powers[0] = kernel.toMontgomery(1n);
  for (let k = 1; k < count; k++) powers[k] = (powers[k - 1]! * root) % R;
  const table = new BigUint64Array(4 * count);
  for (let k = 0; k < count; k++) {
    const v = powers[k]!;
    table.set([v, v >> 64n, v >> 128n, v >> 192n], 4 * k);
  }
  twiddleTables.set(root, table);
  return table;
}

/** v reduced into [0, r) (callers may pass negatives or r itself). */
function canonical(v: bigint): bigint {
  return v >= 0n && v < R ? v : Fr.create(v);
}

/**
 * Writes `values` to the kernel in bit-reversed order, each repeated `spread` times (the first
 * log2(spread) stages of a zero-extended transform, whose butterflies only see (u, 0), are that
 * copy), runs the stages from length 2 * spread up with `root`, scales by `scale` when given, and
 * reads the n = values.length * spread results back.
 */
function runTransform(values: readonly bigint[], spread: number, root: bigint, scale?: bigint): bigint[] {
  const m = values.length;
  const n = m * spread;
  const table = twiddles(root, n);
  const data = TWIDDLES + table.length * 8;
  kernel.reserve(data + n * ELEMENT_BYTES);
  kernel.words.set(table, TWIDDLES / 8);
  const reversed = values.map(canonical);
  bitReverse(reversed);
  for (let k = 0; k < m; k++) {
    const at = data + k * spread * ELEMENT_BYTES;
    kernel.writeOne(at, reversed[k]!);
    for (let c = 1; c < spread; c++) kernel.copy(at + c * ELEMENT_BYTES, at, 1);
  }
  kernel.exports.nttStages(data, n, TWIDDLES, 2 * spread, SCRATCH);
  if (scale !== undefined) {
    kernel.writeOne(CONSTANT, kernel.toMontgomery(scale));
    kernel.exports.scale(data, n, CONSTANT);
  }
  return kernel.read(data, n);
}

/** Evaluations of the polynomial with these coefficients at 1, w, w^2, ... (w a primitive n-th root). */
export function ntt(coefficients: readonly bigint[]): bigint[] {
  requirePowerOfTwo(coefficients.length);
  return runTransform(coefficients, 1, rootOfUnity(coefficients.length));
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
  return runTransform(coefficients, domainSize / m, rootOfUnity(domainSize));
}

/** Coefficients from evaluations at the n-th roots of unity. */
export function intt(evaluations: readonly bigint[]): bigint[] {
  const n = evaluations.length;
  requirePowerOfTwo(n);
  return runTransform(evaluations, 1, Fr.inv(rootOfUnity(n)), Fr.inv(BigInt(n)));
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
