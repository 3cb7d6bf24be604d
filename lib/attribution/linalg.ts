/**
 * Dense Float64 linear algebra for the small problems attribution needs exactly (Hessians of a
 * few hundred parameters, Gram matrices of projected features). Row-major throughout.
 */
import { AttributionError } from "./errors.js";

export function dot(a: ArrayLike<number>, b: ArrayLike<number>, aOff = 0, bOff = 0, len = a.length - aOff): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += a[aOff + i] * b[bOff + i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** C (m×n) = A (m×k) · B (k×n); ikj order so the inner loop walks both B and C contiguously. */
export function matmul(A: Float64Array, B: Float64Array, m: number, k: number, n: number, C = new Float64Array(m * n)): Float64Array {
  C.fill(0);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const a = A[i * k + p];
      if (a === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) C[ci + j] += a * B[bp + j];
    }
  }
  return C;
}

/** C (k×n) = Aᵀ · B with A (m×k), B (m×n): the batch-summed weight gradient of a dense layer. */
export function matmulAtB(A: Float64Array, B: Float64Array, m: number, k: number, n: number, C = new Float64Array(k * n)): Float64Array {
  C.fill(0);
  for (let i = 0; i < m; i++) {
    const ai = i * k;
    const bi = i * n;
    for (let p = 0; p < k; p++) {
      const a = A[ai + p];
      if (a === 0) continue;
      const cp = p * n;
      for (let j = 0; j < n; j++) C[cp + j] += a * B[bi + j];
    }
  }
  return C;
}

/** C (m×k) = A (m×n) · Bᵀ with B (k×n): back-propagating a signal through a dense layer. */
export function matmulABt(A: Float64Array, B: Float64Array, m: number, n: number, k: number, C = new Float64Array(m * k)): Float64Array {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < k; j++) C[i * k + j] = dot(A, B, i * n, j * n, n);
  }
  return C;
}

/** In-place Cholesky factor L (lower) of a symmetric positive definite n×n matrix. */
export function cholesky(M: Float64Array, n: number): Float64Array {
  const L = new Float64Array(M);
  for (let j = 0; j < n; j++) {
    let d = L[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0)) {
      throw new AttributionError({
        code: "linalg/not-positive-definite",
        message: `matrix is not positive definite (pivot ${j} = ${d})`,
        hint: "add damping (a larger l2 / lambda) so the Hessian is invertible",
        fields: { pivot: j, value: d },
      });
    }
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = L[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / ljj;
    }
    for (let k = j + 1; k < n; k++) L[j * n + k] = 0;
  }
  return L;
}

/** Solves (L Lᵀ) x = b given the Cholesky factor. */
export function choleskySolve(L: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/**
 * Conjugate gradient for A x = b, A symmetric positive definite (a damped Hessian). CG is only
 * defined there, and fails silently elsewhere (steps along negative curvature blow up to 1e18 and
 * NaN), so it refuses instead: `cg/negative-curvature` when a search direction p has pᵀAp ≤ 0
 * (its Rayleigh quotient, an upper bound on A's smallest eigenvalue, is in the fields), and
 * `cg/diverged` when the residual grows a millionfold or stops being finite.
 */
export async function conjugateGradient(
  apply: (v: Float64Array) => Promise<Float64Array>,
  b: Float64Array,
  opts: { maxIter?: number; tol?: number } = {},
): Promise<{ x: Float64Array; iterations: number; residual: number }> {
  const n = b.length;
  const maxIter = opts.maxIter ?? n;
  const tol = opts.tol ?? 1e-10;
  const x = new Float64Array(n);
  const r = new Float64Array(b);
  const p = new Float64Array(b);
  let rr = dot(r, r);
  const bNorm = Math.sqrt(rr) || 1;
  let it = 0;
  for (; it < maxIter && Math.sqrt(rr) / bNorm > tol; it++) {
    const Ap = await apply(p);
    const pAp = dot(p, Ap);
    if (!Number.isFinite(pAp))
      throw new AttributionError({
        code: "cg/diverged",
        message: `the operator gave a non-finite product at conjugate gradient's iteration ${it}`,
        hint: "check the model's parameters and the Hessian-vector product for overflow; raise the damping",
        fields: { iteration: it, residual: Math.sqrt(rr) / bNorm },
      });
    if (pAp <= 0) {
      const rayleigh = pAp / dot(p, p);
      throw new AttributionError({
        code: "cg/negative-curvature",
        message: `conjugate gradient met a direction of curvature ${rayleigh.toExponential(3)} at iteration ${it}: the operator is not positive definite`,
        hint: "damp the Hessian by more than the curvature's magnitude (fields.rayleigh), or use the exact or LiSSA solver",
        fields: { iteration: it, rayleigh },
      });
    }
    const alpha = rr / pAp;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * Ap[i];
    }
    const rrNew = dot(r, r);
    if (!Number.isFinite(rrNew) || Math.sqrt(rrNew) / bNorm > 1e6)
      throw new AttributionError({
        code: "cg/diverged",
        message: `conjugate gradient's residual grew to ${(Math.sqrt(rrNew) / bNorm).toExponential(3)} of the right-hand side at iteration ${it}`,
        hint: "the operator is ill-conditioned: raise the damping, or use the exact solver",
        fields: { iteration: it, residual: Math.sqrt(rrNew) / bNorm },
      });
    const beta = rrNew / rr;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
    rr = rrNew;
  }
  return { x, iterations: it, residual: Math.sqrt(rr) / bNorm };
}
