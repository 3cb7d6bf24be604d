/**
 * Influence functions (Koh & Liang 2017): score(zᵢ, z_t) = ∇ℓ(z_t)ᵀ H⁻¹ ∇ℓ(zᵢ), H the Hessian of
 * the regularised mean training loss at the optimum. Removing zᵢ changes the test loss by about
 * score / n. Three ways to apply H⁻¹: exact (Cholesky of the full Hessian, small models),
 * conjugate gradient on Hessian-vector products, and LiSSA's stochastic Neumann series.
 */

import { rng as makeRng } from "../../random.js";
import { type JobRef, type PoolOptions, runJobs } from "../../worker-pool.js";
import { AttributionError } from "../errors.js";
import { taskGradients } from "../gradients.js";
import { type JobModel, jobModel, modelOf } from "../job-models.js";
import { cholesky, choleskySolve, conjugateGradient, dot, norm } from "../linalg.js";
import { type Batch, hessianVectorProduct, subset, type TraceableModel } from "../model.js";
import { exactHessian } from "../retrain.js";
import { type AttributionTask, type Attributor, pairScores, rowDots, type Scores, verifyTask } from "./attributor.js";

/** H⁻¹ applied to each of n vectors (row-major n × p), answered in the same layout. */
type SolveAll = (vectors: Float64Array, n: number) => Promise<Float64Array>;

/** A one-vector solver applied to each vector in turn. */
function eachVector(solve: (v: Float64Array) => Promise<Float64Array>, p: number): SolveAll {
  return async (vectors, n) => {
    const X = new Float64Array(n * p);
    for (let i = 0; i < n; i++) X.set(await solve(vectors.subarray(i * p, (i + 1) * p)), i * p);
    return X;
  };
}

/** gᵢᵀ H⁻¹ gᵢ for every training example. */
async function selfInverseHvps(task: AttributionTask, solve: SolveAll): Promise<Float64Array> {
  const G = await taskGradients(task, task.params, task.train);
  return rowDots(await solve(G.data, G.n), G.data, G.n, G.dim);
}

async function inverseHvps(task: AttributionTask, solve: SolveAll): Promise<Scores & { ihvp: Float64Array }> {
  const G = await taskGradients(task, task.params, task.train);
  const V = await taskGradients(task, task.params, task.test);
  const X = await solve(V.data, V.n);
  return { ...pairScores("", X, V.n, G.data, G.n, G.dim), ihvp: X };
}

export class ExactInfluence implements Attributor {
  readonly name = "influence-exact";
  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const p = task.model.numParams;
    const L = cholesky(await exactHessian(task.model, task.params, task.train, task.l2), p);
    const { nTest, nTrain, data } = await inverseHvps(
      task,
      eachVector(async (v) => choleskySolve(L, p, v), p),
    );
    return { method: this.name, nTest, nTrain, data };
  }
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const p = task.model.numParams;
    const L = cholesky(await exactHessian(task.model, task.params, task.train, task.l2), p);
    return selfInverseHvps(
      task,
      eachVector(async (v) => choleskySolve(L, p, v), p),
    );
  }
}

export class CGInfluence implements Attributor {
  readonly name = "influence-cg";
  lastIterations = 0;
  constructor(readonly opts: { maxIter?: number; tol?: number } = {}) {}
  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const solve = await this.solver(task);
    let iters = 0;
    const { nTest, nTrain, data } = await inverseHvps(
      task,
      eachVector(async (v) => {
        const r = await solve(v);
        iters += r.iterations;
        return r.x;
      }, task.model.numParams),
    );
    this.lastIterations = iters / Math.max(1, nTest);
    return { method: this.name, nTest, nTrain, data };
  }
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const solve = await this.solver(task);
    return selfInverseHvps(
      task,
      eachVector(async (v) => (await solve(v)).x, task.model.numParams),
    );
  }

  /**
   * (H + l2·I)⁻¹v by CG, which is only defined where the damped Hessian is positive definite: a
   * network away from a strict minimum is not, and there CG may converge to a meaningless answer
   * or blow up. So the smallest eigenvalue is estimated first (power iteration on λ_max·I − H),
   * and CG's own negative-curvature check backs the estimate up; either refusal names a damping
   * that works with a margin, l2 + 2·|λ_min|.
   */
  private async solver(task: AttributionTask): Promise<(v: Float64Array) => ReturnType<typeof conjugateGradient>> {
    const H = (u: Float64Array) => hessianVectorProduct(task.model, task.params, task.train, u, task.l2);
    const smallest = await smallestEigenvalue(H, task.model.numParams, task.seed ?? 0);
    const refuse = (curvature: number, iteration?: number) => {
      const suggestedL2 = Number((task.l2 + 2 * Math.max(Math.abs(curvature), Math.abs(Math.min(0, smallest)))).toPrecision(2));
      return new AttributionError({
        code: "influence/indefinite-hessian",
        message: `the damped Hessian (l2 = ${task.l2}) has negative curvature ${Math.min(curvature, smallest).toExponential(3)}: conjugate-gradient influence is undefined there`,
        hint: `raise the damping to l2 ≥ ${suggestedL2}, or use the exact (Cholesky) or LiSSA solver`,
        fields: { l2: task.l2, smallestEigenvalue: smallest, curvature, suggestedL2, ...(iteration === undefined ? {} : { iteration }) },
      });
    };
    if (smallest <= 0) throw refuse(smallest);
    return async (v) => {
      try {
        return await conjugateGradient(H, new Float64Array(v), { maxIter: this.opts.maxIter ?? 200, tol: this.opts.tol ?? 1e-8 });
      } catch (error) {
        if (error instanceof AttributionError && error.code === "cg/negative-curvature") throw refuse(error.fields.rayleigh as number, error.fields.iteration as number);
        throw error;
      }
    };
  }
}

/** Largest eigenvalue of the operator by seeded power iteration. */
export async function largestEigenvalue(apply: (v: Float64Array) => Promise<Float64Array>, dim: number, seed: number, iters = 30): Promise<number> {
  const r = makeRng(seed).fork("power-iteration");
  let v = Float64Array.from({ length: dim }, () => r.normal());
  let lambda = 0;
  for (let i = 0; i < iters; i++) {
    const nv = norm(v);
    v = v.map((x) => x / nv);
    const Av = await apply(v);
    lambda = dot(v, Av);
    v = Av;
  }
  return lambda;
}

/** Smallest eigenvalue of a symmetric operator: λ_max − the largest eigenvalue of λ_max·I − A (both by power iteration). */
export async function smallestEigenvalue(apply: (v: Float64Array) => Promise<Float64Array>, dim: number, seed: number, iters = 100): Promise<number> {
  const top = await largestEigenvalue(apply, dim, seed, iters);
  const shifted = async (v: Float64Array) => {
    const Av = await apply(v);
    return v.map((x, i) => top * x - Av[i]);
  };
  return top - (await largestEigenvalue(shifted, dim, seed + 1, iters));
}

/**
 * LiSSA (Agarwal et al. 2017): h_j = v + (I − H_B/s) h_{j−1} on fresh minibatches B, so
 * h_J/s → H⁻¹v. The scale s is 1.1 × H's largest eigenvalue (power iteration), so the series
 * converges without a hand-set constant. One chain's estimate carries the sampling noise of its
 * minibatches; as in Koh and Liang's implementation (its `repeat` count), `repeats` independent
 * chains are run and averaged. The chains are independent worker jobs (lib/worker-pool.ts, each
 * seeded by its index, gathered in order): the same estimate for any worker count.
 *
 * The series converges only where every damped minibatch Hessian is positive definite with
 * eigenvalues below 2s; elsewhere it grows without bound or sums to a meaningless answer. So each
 * step checks the curvature hᵀH_Bh/hᵀh along the iterate (≤ 0: `influence/indefinite-hessian`, with
 * a damping that makes the Hessian positive definite, as CG names it) and the iterate's size:
 * while every ‖I − H_B/s‖ ≤ 1, ‖h_j‖ ≤ (j + 1)‖v‖, and an iterate beyond that bound, or not
 * finite, stops the chain (`influence/lissa-diverged`).
 */
export class LiSSAInfluence implements Attributor {
  readonly name = "influence-lissa";
  constructor(readonly opts: { depth?: number; batchSize?: number; seed?: number; repeats?: number; pool?: PoolOptions } = {}) {
    const repeats = opts.repeats ?? 10;
    if (!Number.isInteger(repeats) || repeats < 1)
      throw new AttributionError({
        code: "lissa/bad-repeats",
        message: `LiSSA repeats = ${opts.repeats} is not a positive integer`,
        hint: "pass repeats: 1 or more independent chains (Koh and Liang average several)",
        fields: { repeats: String(opts.repeats) },
      });
  }

  get repeats(): number {
    return this.opts.repeats ?? 10;
  }

  /** H⁻¹v for each vector as the mean of `repeats` independent chains, each on its own minibatch stream. */
  private async solver(task: AttributionTask): Promise<SolveAll> {
    const seed = this.opts.seed ?? task.seed ?? 0;
    const full = (v: Float64Array) => hessianVectorProduct(task.model, task.params, task.train, v, task.l2);
    const scale = 1.1 * (await largestEigenvalue(full, task.model.numParams, seed));
    if (!(scale > 0)) throw await lissaIndefinite(task.model, task.params, task.train, task.l2, seed, scale / 1.1, {});
    const jobs = jobModel(task.model, this.opts.pool);
    const chain = { model: jobs.model, params: task.params, train: task.train, l2: task.l2, seed, depth: this.opts.depth ?? 200, batchSize: Math.min(this.opts.batchSize ?? 128, task.train.n), scale };
    return async (vectors, n) => {
      const specs = Array.from({ length: this.repeats }, (_, c): LissaChainSpec => ({ ...chain, chain: c, vectors, n }));
      const chains = await runJobs<LissaChainSpec, Float64Array>(LISSA_CHAIN, specs, jobs.options);
      const mean = new Float64Array(vectors.length);
      for (const h of chains) for (let i = 0; i < mean.length; i++) mean[i] += h[i] / scale / this.repeats;
      return mean;
    };
  }

  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const { nTest, nTrain, data } = await inverseHvps(task, await this.solver(task));
    return { method: this.name, nTest, nTrain, data };
  }

  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    return selfInverseHvps(task, await this.solver(task));
  }
}

/** One LiSSA chain over n vectors: the chain's minibatch stream runs on from one vector to the next. */
export interface LissaChainSpec {
  model: JobModel;
  params: Float64Array;
  train: Batch;
  l2: number;
  /** The method's seed: the chain's stream is forked from it by the chain's index. */
  seed: number;
  chain: number;
  depth: number;
  batchSize: number;
  /** s of the series (1.1 × the full Hessian's largest eigenvalue). */
  scale: number;
  /** n × p, row-major. */
  vectors: Float64Array;
  n: number;
}

/** The job: the chain's last iterate h_J for each vector (a zero vector's stays zero and draws no batches). */
export async function lissaChainJob(spec: LissaChainSpec): Promise<Float64Array> {
  const model = await modelOf(spec.model);
  const { params, train, l2, scale, chain, vectors } = spec;
  const p = model.numParams;
  const r = makeRng(spec.seed).fork(chain === 0 ? "lissa-batches" : `lissa-batches:${chain}`);
  const out = new Float64Array(spec.n * p);
  for (let t = 0; t < spec.n; t++) {
    const v = vectors.subarray(t * p, (t + 1) * p);
    const vNorm = norm(v);
    if (vNorm === 0) continue;
    let h = new Float64Array(v);
    for (let j = 0; j < spec.depth; j++) {
      const idx = Array.from({ length: spec.batchSize }, () => r.int(train.n));
      const Hh = await hessianVectorProduct(model, params, subset(train, idx), h, l2);
      const curvature = dot(h, Hh) / dot(h, h);
      if (!(curvature > 0) && Number.isFinite(curvature)) throw await lissaIndefinite(model, params, train, l2, spec.seed, curvature, { iteration: j, chain });
      h = h.map((x, i) => v[i] + x - Hh[i] / scale);
      const growth = norm(h) / ((j + 2) * vNorm); // h is h_{j+1}: at most (j + 2)‖v‖ while the series contracts
      if (!(growth <= 1 + 1e-9))
        throw new AttributionError({
          code: "influence/lissa-diverged",
          message: `LiSSA's iterate grew to ${growth.toExponential(3)} × the bound a converging series keeps, at iteration ${j} of chain ${chain}`,
          hint: "a minibatch Hessian has eigenvalues above 2 × the scale or the Hessian is ill-conditioned: raise the batch size or the damping (l2), or use the exact or CG solver",
          fields: { l2, scale, batchSize: spec.batchSize, iteration: j, chain, growth },
        });
    }
    out.set(h, t * p);
  }
  return out;
}

const LISSA_CHAIN: JobRef = { module: import.meta.url, name: "lissaChainJob", local: lissaChainJob };

/** LiSSA's refusal of negative curvature, naming a damping that covers it and the full Hessian's most negative one. */
async function lissaIndefinite(
  model: TraceableModel,
  params: Float64Array,
  train: Batch,
  l2: number,
  seed: number,
  curvature: number,
  where: { iteration?: number; chain?: number },
): Promise<AttributionError> {
  const full = (v: Float64Array) => hessianVectorProduct(model, params, train, v, l2);
  const smallest = await smallestEigenvalue(full, model.numParams, seed);
  const suggestedL2 = Number((l2 + 2 * Math.max(Math.abs(Math.min(0, curvature)), Math.abs(Math.min(0, smallest)))).toPrecision(2));
  return new AttributionError({
    code: "influence/indefinite-hessian",
    message: `LiSSA met curvature ${curvature.toExponential(3)} in the damped Hessian (l2 = ${l2}): its series diverges there`,
    hint: `raise the damping to l2 ≥ ${suggestedL2}, or use the exact (Cholesky) solver`,
    fields: { l2, curvature, smallestEigenvalue: smallest, suggestedL2, ...where },
  });
}
