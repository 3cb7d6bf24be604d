/**
 * DataInf (Kwon et al., ICLR 2024). Per layer l, the damped Gauss–Newton Hessian
 * H_l = (1/n) Σᵢ gᵢₗgᵢₗᵀ + λ_l I is inverted with the order of sum and inverse swapped, which
 * the Sherman–Morrison formula makes closed form:
 *
 *   (H_l)⁻¹ v ≈ 1/(n λ_l) Σᵢ ( v − (gᵢₗ·v) / (λ_l + ‖gᵢₗ‖²) · gᵢₗ ),
 *
 * with λ_l = c × (1/n) Σᵢ ‖gᵢₗ‖² / d_l (the mean squared gradient entry of layer l; the damping
 * factor c is 0.1 unless given, as in the paper's code: mean over examples of mean(g²), divided by
 * 10), one group l per parameter tensor as
 * the reference code iterates its gradient dictionaries (datainfGroups). The influence of training point k
 * on test point t sums over layers: Σ_l (H_l⁻¹ v_tl) · g_kl. The paper reports −that as "influence"
 * (positive = harmful); here the score keeps the lab's convention (positive = helpful).
 *
 * Also here, for the DataInf-vs-LiSSA comparison: the same per-layer damped Hessian applied
 * exactly (eigen/Cholesky) and by the LiSSA recursion the paper compares against.
 */

import { AttributionError } from "../errors.js";
import { type BlockSpan, blockRows, type GradientSet, taskGradients } from "../gradients.js";
import { cholesky, choleskySolve } from "../linalg.js";
import type { DenseBlock } from "../model.js";
import { type AttributionTask, type Attributor, type Scores, verifyTask } from "./attributor.js";
import { normalizeRows } from "./grad-dot.js";

/** The paper's damping factor: λ_l is a tenth of layer l's mean squared gradient entry. */
export const DATAINF_LAMBDA_FACTOR = 0.1;

/** λ_l = factor (0.1 unless given) × mean over examples of the mean squared entry of their layer-l gradient. */
export function datainfLambda(rows: Float64Array, n: number, d: number, factor = DATAINF_LAMBDA_FACTOR): number {
  let s = 0;
  for (let i = 0; i < rows.length; i++) s += rows[i] * rows[i];
  return (factor * s) / (n * d);
}

/** Refuses a damping factor that is not a positive finite number (λ_l must be positive for the inverse to exist). */
export function checkDampingFactor(factor: number): void {
  if (!(typeof factor === "number" && Number.isFinite(factor) && factor > 0)) {
    throw new AttributionError({
      code: "datainf/bad-damping-factor",
      message: `DataInf's damping factor ${String(factor)} is not a positive finite number`,
      hint: `give a factor > 0 (the paper's is ${DATAINF_LAMBDA_FACTOR}: λ_l is that times the layer's mean squared gradient entry)`,
      fields: { dampingFactor: typeof factor === "number" ? factor : String(factor) },
    });
  }
}

/** DataInf's closed-form approximation of (H_l)⁻¹ v for one layer; G is n×d. */
export function datainfInverseHvp(G: Float64Array, n: number, d: number, v: Float64Array, lambda: number): Float64Array {
  const out = new Float64Array(d);
  let coefSum = 0;
  for (let i = 0; i < n; i++) {
    let gv = 0;
    let gg = 0;
    const o = i * d;
    for (let j = 0; j < d; j++) {
      gv += G[o + j] * v[j];
      gg += G[o + j] * G[o + j];
    }
    const c = gv / (lambda + gg);
    coefSum += 1;
    for (let j = 0; j < d; j++) out[j] -= c * G[o + j];
  }
  for (let j = 0; j < d; j++) out[j] = (out[j] + coefSum * v[j]) / (n * lambda);
  return out;
}

/** (1/n GᵀG + λI)⁻¹ v solved exactly (the "accurate" reference of the paper's Table 1). */
export function layerExactInverseHvp(G: Float64Array, n: number, d: number, vs: Float64Array[], lambda: number): Float64Array[] {
  const M = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const o = i * d;
    for (let a = 0; a < d; a++) {
      const ga = G[o + a] / n;
      if (ga === 0) continue;
      for (let b = 0; b < d; b++) M[a * d + b] += ga * G[o + b];
    }
  }
  for (let a = 0; a < d; a++) M[a * d + a] += lambda;
  const L = cholesky(M, d);
  return vs.map((v) => choleskySolve(L, d, v));
}

/**
 * LiSSA on the same layer: h ← v + h − α((1/n) Σ (gᵢ·h) gᵢ + λ h), as in the paper's baseline.
 * The damped layer Hessian is positive definite, so the recursion converges exactly when α is
 * below 2/λ_max; then every step contracts and ‖h_j‖ ≤ (j + 1)‖v‖. An iterate beyond that bound
 * (or not finite) stops it with `datainf/lissa-diverged`, naming a step that converges:
 * 1/(λ + mean ‖gᵢ‖²), below 1/λ_max since the mean squared norm is the trace of (1/n) GᵀG.
 */
export function layerLissaInverseHvp(G: Float64Array, n: number, d: number, v: Float64Array, lambda: number, iterations: number, alpha: number): Float64Array {
  let h = new Float64Array(v);
  let vNorm = 0;
  for (const x of v) vNorm += x * x;
  vNorm = Math.sqrt(vNorm);
  for (let it = 0; it < iterations; it++) {
    const Hh = new Float64Array(d);
    for (let i = 0; i < n; i++) {
      const o = i * d;
      let gh = 0;
      for (let j = 0; j < d; j++) gh += G[o + j] * h[j];
      for (let j = 0; j < d; j++) Hh[j] += (gh * G[o + j]) / n;
    }
    h = h.map((x, j) => v[j] + x - alpha * (Hh[j] + lambda * x));
    let hNorm = 0;
    for (const x of h) hNorm += x * x;
    const growth = Math.sqrt(hNorm) / ((it + 2) * vNorm); // h is h_{it+1}
    if (vNorm > 0 && !(growth <= 1 + 1e-9)) {
      let meanSq = 0;
      for (let i = 0; i < n * d; i++) meanSq += (G[i] * G[i]) / n;
      const suggestedAlpha = Number((1 / (lambda + meanSq)).toPrecision(2));
      throw new AttributionError({
        code: "datainf/lissa-diverged",
        message: `the per-layer LiSSA recursion grew to ${growth.toExponential(3)} × the bound a converging series keeps, at iteration ${it} (step α = ${alpha})`,
        hint: `use a step α ≤ ${suggestedAlpha} (1/(λ + mean ‖gᵢ‖²)), or leave lissaAlpha unset`,
        fields: { alpha, lambda, iteration: it, growth, suggestedAlpha },
      });
    }
  }
  // the recursion converges to (αH)⁻¹v; undo α
  return h.map((x) => x * alpha);
}

export type LayerSolver = "datainf" | "exact" | "lissa";

/**
 * DataInf's parameter groups. "tensor" (the default) is the reference implementation's: one group
 * per parameter tensor, so a dense block's weight and its bias are inverted separately (and LoRA's
 * A and B, which are tensors of their own). "block" keeps weight and bias of a block together.
 */
export type DatainfGrouping = "tensor" | "block";

/** The groups of a model's parameter vector under a grouping. */
export function datainfGroups(blocks: readonly DenseBlock[], grouping: DatainfGrouping = "tensor"): BlockSpan[] {
  return blocks.flatMap((b) => {
    if (grouping === "block" || !b.bias) return [{ name: b.name, offset: b.offset, size: b.size }];
    const w = b.rows * b.cols;
    return [
      { name: `${b.name}:weight`, offset: b.offset, size: w },
      { name: `${b.name}:bias`, offset: b.offset + w, size: b.cols },
    ];
  });
}

function checkGroups(G: GradientSet, groups: BlockSpan[] | undefined): BlockSpan[] {
  if (G.projection || !(groups ?? G.blocks)) {
    throw new AttributionError({
      code: "method/projected-gradients",
      message: "DataInf needs per-layer gradients; these were projected",
      hint: "compute gradients without a projection for DataInf (it is already cheap per layer)",
      fields: { method: "datainf" },
    });
  }
  return groups ?? (G.blocks as BlockSpan[]);
}

/**
 * Per-layer influence from per-example gradient sets of train and test (both unprojected, with
 * their block spans). `solver` picks how each layer's damped Hessian is inverted.
 */
export function layerwiseInfluence(
  G: GradientSet,
  V: GradientSet,
  solver: LayerSolver,
  opts: { lissaIterations?: number; lissaAlpha?: number; groups?: BlockSpan[]; dampingFactor?: number } = {},
): { data: Float64Array; lambdas: Record<string, number> } {
  const groups = checkGroups(G, opts.groups);
  checkGroups(V, opts.groups);
  const data = new Float64Array(V.n * G.n);
  const lambdas: Record<string, number> = {};
  for (const span of groups) {
    const d = span.size;
    const g = blockRows(G, span);
    const vRows = blockRows(V, span);
    const lambda = datainfLambda(g, G.n, d, opts.dampingFactor);
    lambdas[span.name] = lambda;
    if (!(lambda > 0)) continue; // a layer with all-zero gradients carries no influence
    const vs = Array.from({ length: V.n }, (_, t) => vRows.subarray(t * d, (t + 1) * d));
    let hs: Float64Array[];
    if (solver === "exact") hs = layerExactInverseHvp(g, G.n, d, vs, lambda);
    else if (solver === "lissa") {
      // α below 1/(λ_max + λ) keeps the recursion contracting; ‖gᵢ‖² bounds λ_max from above.
      let maxSq = 0;
      for (let i = 0; i < G.n; i++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += g[i * d + j] ** 2;
        maxSq = Math.max(maxSq, s);
      }
      const alpha = opts.lissaAlpha ?? 1 / (maxSq + lambda);
      hs = vs.map((v) => layerLissaInverseHvp(g, G.n, d, v, lambda, opts.lissaIterations ?? 10, alpha));
    } else hs = vs.map((v) => datainfInverseHvp(g, G.n, d, v, lambda));
    for (let t = 0; t < V.n; t++) {
      const h = hs[t];
      for (let i = 0; i < G.n; i++) {
        let s = 0;
        const o = i * d;
        for (let j = 0; j < d; j++) s += h[j] * g[o + j];
        data[t * G.n + i] += s;
      }
    }
  }
  return { data, lambdas };
}

/**
 * Self-influence gᵢᵀ(H_l)⁻¹gᵢ summed over groups, with DataInf's closed form:
 *   (1/(nλ)) Σₖ (‖gᵢ‖² − (gₖ·gᵢ)²/(λ + ‖gₖ‖²)),
 * accumulated row by row: O(n²·d) time, O(n) memory (no n × n matrix).
 */
export function datainfSelfInfluence(G: GradientSet, groups?: BlockSpan[], dampingFactor = DATAINF_LAMBDA_FACTOR): Float64Array {
  const out = new Float64Array(G.n);
  const n = G.n;
  for (const span of checkGroups(G, groups)) {
    const d = span.size;
    const g = blockRows(G, span);
    const lambda = datainfLambda(g, n, d, dampingFactor);
    if (!(lambda > 0)) continue;
    const norms = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += g[i * d + j] ** 2;
      norms[i] = s;
    }
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let k = 0; k < n; k++) {
        let gk = 0;
        for (let j = 0; j < d; j++) gk += g[k * d + j] * g[i * d + j];
        acc += norms[i] - (gk * gk) / (lambda + norms[k]);
      }
      out[i] += acc / (n * lambda);
    }
  }
  return out;
}

/** The gradient set with unit-length rows when asked (DataInf's unitGradients variant). */
function unitIf(G: GradientSet, unit: boolean | undefined): GradientSet {
  return unit ? { ...G, data: normalizeRows(G.data, G.n, G.dim) } : G;
}

/** Refuses a model count that is not a positive integer. */
function checkModels(models: number): void {
  if (!(Number.isInteger(models) && models >= 1)) {
    throw new AttributionError({
      code: "datainf/bad-models",
      message: `DataInf's model count ${String(models)} is not a positive integer`,
      hint: "give models ≥ 1 (1, the paper's: the scores of the one trained model)",
      fields: { models: typeof models === "number" ? models : String(models) },
    });
  }
}

export class DataInf implements Attributor {
  readonly name = "datainf";
  /** The per-group λ_l of the last attribution (of its first model). */
  lastLambdas: Record<string, number> = {};
  /**
   * `dampingFactor`: λ_l as a multiple of layer l's mean squared gradient entry (the paper's 0.1
   * when absent). `unitGradients` (a variant, not the paper's method; off when absent): every
   * per-example gradient, train and test, scaled to unit length over all its layers before the
   * per-layer solve, as Grad-Cos normalises, so no example weighs by its loss's size. `models`
   * (a variant; 1 when absent, the paper's): the scores are the mean of DataInf's scores at the
   * first `models` members of the task's ensemble (models trained on the same data under other
   * seeds, as TRAK's ensemble), so a ranking depends less on one run's initialisation.
   */
  constructor(readonly opts: { grouping?: DatainfGrouping; dampingFactor?: number; unitGradients?: boolean; models?: number } = {}) {
    if (opts.dampingFactor !== undefined) checkDampingFactor(opts.dampingFactor);
    if (opts.models !== undefined) checkModels(opts.models);
  }

  /** The parameter vectors DataInf is computed at: the task's own, or the first `models` of its ensemble (refused, before any work, when it has fewer). */
  private modelsOf(task: AttributionTask): Float64Array[] {
    const models = this.opts.models ?? 1;
    if (models === 1) return [task.params];
    const members = task.ensemble ?? [];
    if (members.length < models) {
      throw new AttributionError({
        code: "datainf/ensemble-too-small",
        message: `DataInf averages over ${models} models, but the task's ensemble holds ${members.length}`,
        hint: `pass task.ensemble with at least ${models} independently trained models, or lower models`,
        fields: { models, ensemble: members.length },
      });
    }
    return members.slice(0, models).map((m) => m.params);
  }

  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const models = this.modelsOf(task);
    const groups = datainfGroups(task.model.blocks, this.opts.grouping);
    let mean: Float64Array | undefined;
    for (const [m, params] of models.entries()) {
      const G = unitIf(await taskGradients(task, params, task.train), this.opts.unitGradients);
      const V = unitIf(await taskGradients(task, params, task.test), this.opts.unitGradients);
      const { data, lambdas } = layerwiseInfluence(G, V, "datainf", { groups, dampingFactor: this.opts.dampingFactor });
      if (m === 0) this.lastLambdas = lambdas;
      mean = accumulateMean(mean, data, models.length);
    }
    return { method: this.name, nTest: task.test.n, nTrain: task.train.n, data: mean as Float64Array };
  }

  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const models = this.modelsOf(task);
    const groups = datainfGroups(task.model.blocks, this.opts.grouping);
    let mean: Float64Array | undefined;
    for (const params of models) {
      const G = unitIf(await taskGradients(task, params, task.train), this.opts.unitGradients);
      mean = accumulateMean(mean, datainfSelfInfluence(G, groups, this.opts.dampingFactor), models.length);
    }
    return mean as Float64Array;
  }
}

/** `values / count` added to `sum` (zeros on the first call): a mean built one model at a time; with one model, `values` itself. */
function accumulateMean(sum: Float64Array | undefined, values: Float64Array, count: number): Float64Array {
  if (count === 1) return values;
  const out = sum ?? new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] += values[i] / count;
  return out;
}
