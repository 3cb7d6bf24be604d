/**
 * Seeded random projections (Johnson–Lindenstrauss): P is p×k with entries N(0, 1/k) (Gaussian)
 * or ±1/√k (Rademacher), so E[‖Pᵀg‖²] = ‖g‖² and inner products are preserved in expectation.
 * The same (seed, kind, p, k) always gives the same P, so stored projected gradients can be
 * recomputed and checked.
 */
import { rng as makeRng } from "../random.js";
import { AttributionError } from "./errors.js";

export type ProjectionKind = "gaussian" | "rademacher";

export interface ProjectionSpec {
  kind: ProjectionKind;
  dim: number;
  seed: number;
}

export interface Projection extends ProjectionSpec {
  inputDim: number;
  /** p×k row-major. */
  matrix: Float64Array;
}

export function makeProjection(inputDim: number, spec: ProjectionSpec): Projection {
  if (!Number.isInteger(spec.dim) || spec.dim <= 0) {
    throw new AttributionError({
      code: "projection/bad-dimension",
      message: `projection dimension must be a positive integer, got ${spec.dim}`,
      hint: "pass e.g. { dim: 512 }",
      fields: { dim: String(spec.dim) },
    });
  }
  const r = makeRng(spec.seed).fork(`projection/${spec.kind}/${inputDim}x${spec.dim}`);
  const k = spec.dim;
  const matrix = new Float64Array(inputDim * k);
  const s = 1 / Math.sqrt(k);
  if (spec.kind === "gaussian") for (let i = 0; i < matrix.length; i++) matrix[i] = r.normal() * s;
  else if (spec.kind === "rademacher") for (let i = 0; i < matrix.length; i++) matrix[i] = r.uint32() & 1 ? s : -s;
  else throw new AttributionError({
    code: "projection/unknown-kind",
    message: `unknown projection kind ${String(spec.kind)}`,
    hint: 'use "gaussian" or "rademacher"',
    fields: { kind: String(spec.kind) },
  });
  return { ...spec, inputDim, matrix };
}

/** Rows of G (n×p) projected: n×k. */
export function project(G: Float64Array, n: number, P: Projection): Float64Array {
  const p = P.inputDim;
  const k = P.dim;
  if (G.length !== n * p) throw new AttributionError({
    code: "projection/dimension-mismatch",
    message: `gradient rows have ${G.length / n} entries, projection expects ${p}`,
    hint: "project gradients of the model the projection was made for",
    fields: { rowLength: G.length / n, expected: p },
  });
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const oi = i * k;
    for (let a = 0; a < p; a++) {
      const g = G[i * p + a];
      if (g === 0) continue;
      const pa = a * k;
      for (let j = 0; j < k; j++) out[oi + j] += g * P.matrix[pa + j];
    }
  }
  return out;
}
