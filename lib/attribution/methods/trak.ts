/**
 * TRAK (Park et al., ICML 2023). For each model m of an ensemble: features φᵢ = Pₘᵀ ∇_θ f(zᵢ; θₘ),
 * f the margin log(p/(1−p)) of the correct class, Pₘ a seeded Johnson–Lindenstrauss projection,
 * and the out-to-loss weights Qₘ = diag(1 − p(zᵢ; θₘ)). The ensemble is combined as the TRAK
 * library combines it (TRAKer.finalize_scores): the mean over models of the feature scores times
 * the mean over models of the Q weights,
 *
 *   τ(z_t)ᵢ = [ (1/M) Σₘ φₘ(z_t)ᵀ (ΦₘᵀΦₘ + ridge·I)⁻¹ φₘ(zᵢ) ] · [ (1/M) Σₘ Qₘ,ᵢ ],
 *
 * the one-step Newton estimate of the linearised model's response to removing zᵢ. `ridge` is an
 * explicit option (the library's lambda_reg): 0 is the paper's formula, which needs ΦᵀΦ of full
 * rank (more training examples than projected dimensions, features spanning all of them).
 */

import { AttributionError } from "../errors.js";
import { type GradientSet, taskGradients } from "../gradients.js";
import { cholesky, choleskySolve, matmulAtB } from "../linalg.js";
import { type Batch, headSignal, type TraceableModel } from "../model.js";
import type { ProjectionKind } from "../projection.js";
import { type AttributionTask, type Attributor, type Scores, verifyTask } from "./attributor.js";

export interface TrakOptions {
  projectionDim: number;
  kind?: ProjectionKind;
  seed?: number;
  /** Added to the diagonal of ΦᵀΦ (0: the paper's formula). */
  ridge?: number;
}

/** TRAK's out-to-loss weights 1 − p of the correct class (the model's own where it defines them). */
export async function outToLoss(model: TraceableModel, params: Float64Array, batch: Batch): Promise<Float64Array> {
  if (model.outToLoss) return model.outToLoss(params, batch);
  const K = model.numClasses;
  const probs = headSignal(await model.logits(params, batch.x, batch.n), batch.y, batch.n, K, "loss").probs;
  return Float64Array.from({ length: batch.n }, (_, i) => 1 - probs[i * K + batch.y[i]]);
}

export class TRAK implements Attributor {
  readonly name = "trak";
  readonly ridge: number;
  constructor(readonly opts: TrakOptions) {
    this.ridge = opts.ridge ?? 0;
    if (!(this.ridge >= 0))
      throw new AttributionError({
        code: "trak/bad-ridge",
        message: `TRAK ridge ${opts.ridge} is not a number ≥ 0`,
        hint: "pass ridge: 0 for the paper's formula, or a positive damping",
        fields: { ridge: String(opts.ridge) },
      });
  }

  private members(task: AttributionTask): { params: Float64Array }[] {
    const members = task.ensemble ?? [{ params: task.params }];
    if (members.length === 0) throw new AttributionError({ code: "trak/empty-ensemble", message: "TRAK ensemble is empty", hint: "pass task.ensemble with at least one trained model", fields: {} });
    return members;
  }

  /** Per member: projected train features Φ, the Cholesky factor of ΦᵀΦ + ridge·I, and Q. */
  private async member(
    task: AttributionTask,
    params: Float64Array,
    mi: number,
  ): Promise<{ Phi: GradientSet; L: Float64Array; q: Float64Array; projection: { kind: ProjectionKind; dim: number; seed: number } }> {
    const k = this.opts.projectionDim;
    const seed = this.opts.seed ?? task.seed ?? 0;
    const projection = { kind: this.opts.kind ?? "rademacher", dim: k, seed: seed * 1000 + mi } as const;
    const Phi = await taskGradients(task, params, task.train, { target: "margin", projection });
    const gram = matmulAtB(Phi.data, Phi.data, task.train.n, k, k);
    for (let i = 0; i < k; i++) gram[i * k + i] += this.ridge;
    let L: Float64Array;
    try {
      L = cholesky(gram, k);
    } catch (cause) {
      throw new AttributionError({
        code: "trak/singular-gram",
        message: `ΦᵀΦ (${k}×${k}) of ${task.train.n} training features is singular with ridge ${this.ridge}`,
        hint: "project to fewer dimensions than training examples, or pass a positive ridge (report it with the scores)",
        fields: { projectionDim: k, nTrain: task.train.n, ridge: this.ridge },
        cause,
      });
    }
    return { Phi, L, q: await outToLoss(task.model, params, task.train), projection };
  }

  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const members = this.members(task);
    const nT = task.test.n,
      nTr = task.train.n,
      k = this.opts.projectionDim,
      M = members.length;
    const featureScores = new Float64Array(nT * nTr);
    const meanQ = new Float64Array(nTr);
    for (const [mi, m] of members.entries()) {
      const { Phi, L, q, projection } = await this.member(task, m.params, mi);
      const Psi = await taskGradients(task, m.params, task.test, { target: "margin", projection });
      for (let i = 0; i < nTr; i++) meanQ[i] += q[i] / M;
      for (let t = 0; t < nT; t++) {
        const x = choleskySolve(L, k, Psi.data.subarray(t * k, (t + 1) * k));
        for (let i = 0; i < nTr; i++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += x[j] * Phi.data[i * k + j];
          featureScores[t * nTr + i] += s / M;
        }
      }
    }
    for (let t = 0; t < nT; t++) for (let i = 0; i < nTr; i++) featureScores[t * nTr + i] *= meanQ[i];
    return { method: `${this.name}-${M}`, nTest: nT, nTrain: nTr, data: featureScores };
  }

  /** τ(zᵢ)ᵢ for every training example, one solve each: no nTrain × nTrain matrix. */
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const members = this.members(task);
    const nTr = task.train.n,
      k = this.opts.projectionDim,
      M = members.length;
    const feature = new Float64Array(nTr);
    const meanQ = new Float64Array(nTr);
    for (const [mi, m] of members.entries()) {
      const { Phi, L, q } = await this.member(task, m.params, mi);
      for (let i = 0; i < nTr; i++) {
        const phi = Phi.data.subarray(i * k, (i + 1) * k);
        const x = choleskySolve(L, k, phi);
        let s = 0;
        for (let j = 0; j < k; j++) s += x[j] * phi[j];
        feature[i] += s / M;
        meanQ[i] += q[i] / M;
      }
    }
    return feature.map((f, i) => f * meanQ[i]);
  }
}
