// The NTT on JavaScript bigints, as lib/da/ntt.ts computed it before its butterflies moved to
// WebAssembly: the reference the kernel's transforms are checked against.
import { FR_MODULUS, Fr, rootOfUnity } from "../../../lib/da/field.js";
import { bitReverse } from "../../../lib/da/ntt.js";

const R = FR_MODULUS;

function butterflyStages(a: bigint[], root: bigint, firstLen: number): void {
  const n = a.length;
  for (let len = firstLen; len <= n; len <<= 1) {
    const half = len >> 1;
    const step = Fr.pow(root, BigInt(n / len));
    for (let start = 0; start < n; start += len) {
      for (let k = 0, w = 1n; k < half; k++, w = (w * step) % R) {
        const u = a[start + k]!;
        const v = (a[start + k + half]! * w) % R;
        a[start + k] = (u + v) % R;
        a[start + k + half] = (u - v + R) % R;
      }
    }
  }
}

export function referenceNtt(values: readonly bigint[], root = rootOfUnity(values.length)): bigint[] {
  const a = values.map((v) => Fr.create(v));
  bitReverse(a);
  butterflyStages(a, root, 2);
  return a;
}

export function referenceIntt(values: readonly bigint[]): bigint[] {
  const n = values.length;
  const nInv = Fr.inv(BigInt(n));
  return referenceNtt(values, Fr.inv(rootOfUnity(n))).map((v) => (v * nInv) % R);
}

export function referenceExtendedNtt(coefficients: readonly bigint[], domainSize: number): bigint[] {
  return referenceNtt(coefficients.concat(new Array<bigint>(domainSize - coefficients.length).fill(0n)));
}
