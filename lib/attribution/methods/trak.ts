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
 *
 * Each member's features are a worker job (lib/worker-pool.ts; its projection seeded by its
 * index, the members gathered in order), so the scores are the same for any worker count.
 */

import { type JobRef, type PoolOptions, runJobs } from "../../worker-pool.js";
import { AttributionError } from "../errors.js";
import { type GradientSet, perExampleGradients } from "../gradients.js";
import { type JobModel, jobModel, modelOf } from "../job-models.js";
import { cholesky, choleskySolve, matmulAtB } from "../linalg.js";
import { type Batch, headSignal, type TraceableModel } from "../model.js";
import type { ProjectionKind, ProjectionSpec } from "../projection.js";
import { type AttributionTask, type Attributor, type Scores, verifyTask } from "./attributor.js";

export interface TrakOptions {
  projectionDim: number;
  kind?: ProjectionKind;
  seed?: number;
  /** Added to the diagonal of ΦᵀΦ (0: the paper's formula). */
  ridge?: number;
  /** The ensemble members run as worker jobs (default: LAB_WORKERS). */
  pool?: PoolOptions;
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

  /**
   * Every member's projected features, Q and factor of ΦᵀΦ + ridge·I. The features are worker jobs
   * (one per member, gathered in order); with a gradient store, only the members it lacks are
   * computed, and the store (this process's) keeps what they answer.
   */
  private async memberFeatures(task: AttributionTask, withTest: boolean): Promise<{ Phi: Float64Array; L: Float64Array; q: Float64Array; Psi?: Float64Array }[]> {
    const seed = this.opts.seed ?? task.seed ?? 0;
    const members = this.members(task).map((m, mi) => ({
      params: m.params,
      opts: { target: "margin" as const, projection: { kind: this.opts.kind ?? "rademacher", dim: this.opts.projectionDim, seed: seed * 1000 + mi } },
    }));
    const store = task.gradients;
    const stored = async (m: (typeof members)[number]) =>
      store !== undefined && (await store.has(task.model, m.params, task.train, m.opts)) && (!withTest || (await store.has(task.model, m.params, task.test, m.opts)));
    const missing: number[] = [];
    for (const [mi, m] of members.entries()) if (!(await stored(m))) missing.push(mi);
    const jobs = jobModel(task.model, this.opts.pool);
    const computed = await runJobs<TrakFeaturesSpec, TrakFeatures>(
      TRAK_FEATURES,
      missing.map((mi) => ({ model: jobs.model, params: members[mi].params, train: task.train, test: withTest ? task.test : undefined, projection: members[mi].opts.projection })),
      jobs.options,
    );
    const answered = new Map(missing.map((mi, j) => [mi, computed[j]]));
    const out = [];
    for (const [mi, m] of members.entries()) {
      const features = answered.get(mi);
      // a set the store held when asked may be evicted since: then it is computed here
      const setOf = async (batch: Batch, job?: GradientSet) =>
        store ? store.get(task.model, m.params, batch, m.opts, async () => job ?? perExampleGradients(task.model, m.params, batch, m.opts)) : job!;
      const Phi = (await setOf(task.train, features?.Phi)).data;
      const Psi = withTest ? (await setOf(task.test, features?.Psi)).data : undefined;
      out.push({ Phi, L: this.factor(Phi, task.train.n), q: await outToLoss(task.model, m.params, task.train), Psi });
    }
    return out;
  }

  /** The Cholesky factor of ΦᵀΦ + ridge·I. */
  private factor(Phi: Float64Array, n: number): Float64Array {
    const k = this.opts.projectionDim;
    const gram = matmulAtB(Phi, Phi, n, k, k);
    for (let i = 0; i < k; i++) gram[i * k + i] += this.ridge;
    try {
      return cholesky(gram, k);
    } catch (cause) {
      throw new AttributionError({
        code: "trak/singular-gram",
        message: `ΦᵀΦ (${k}×${k}) of ${n} training features is singular with ridge ${this.ridge}`,
        hint: "project to fewer dimensions than training examples, or pass a positive ridge (report it with the scores)",
        fields: { projectionDim: k, nTrain: n, ridge: this.ridge },
        cause,
      });
    }
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
    for (const { Phi, L, q, Psi } of await this.memberFeatures(task, true)) {
      for (let i = 0; i < nTr; i++) meanQ[i] += q[i] / M;
      for (let t = 0; t < nT; t++) {
        const x = choleskySolve(L, k, Psi!.subarray(t * k, (t + 1) * k));
        for (let i = 0; i < nTr; i++) {
          let s = 0;
          for (let j = 0; j < k; j++) s += x[j] * Phi[i * k + j];
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
    for (const { Phi, L, q } of await this.memberFeatures(task, false)) {
      for (let i = 0; i < nTr; i++) {
        const phi = Phi.subarray(i * k, (i + 1) * k);
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

/** One ensemble member's projected features of the training set (and of the test set). */
export interface TrakFeaturesSpec {
  model: JobModel;
  params: Float64Array;
  train: Batch;
  test?: Batch;
  /** The member's projection (seeded by the member's index). */
  projection: ProjectionSpec;
}

export interface TrakFeatures {
  Phi: GradientSet;
  Psi?: GradientSet;
}

/** The job: one member's margin gradients, projected. */
export async function trakFeaturesJob(spec: TrakFeaturesSpec): Promise<TrakFeatures> {
  const model = await modelOf(spec.model);
  const opts = { target: "margin" as const, projection: spec.projection };
  const Phi = await perExampleGradients(model, spec.params, spec.train, opts);
  return { Phi, Psi: spec.test ? await perExampleGradients(model, spec.params, spec.test, opts) : undefined };
}

const TRAK_FEATURES: JobRef = { module: import.meta.url, name: "trakFeaturesJob", local: trakFeaturesJob };
