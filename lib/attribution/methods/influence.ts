/**
 * Influence functions (Koh & Liang 2017): score(zᵢ, z_t) = ∇ℓ(z_t)ᵀ H⁻¹ ∇ℓ(zᵢ), H the Hessian of
 * the regularised mean training loss at the optimum. Removing zᵢ changes the test loss by about
 * score / n. Three ways to apply H⁻¹: exact (Cholesky of the full Hessian, small models),
 * conjugate gradient on Hessian-vector products, and LiSSA's stochastic Neumann series.
 */

import { rng as makeRng } from "../../random.js";
import { AttributionError } from "../errors.js";
import { taskGradients } from "../gradients.js";
import { cholesky, choleskySolve, conjugateGradient, dot, norm } from "../linalg.js";
import { hessianVectorProduct, subset } from "../model.js";
import { exactHessian } from "../retrain.js";
import { type AttributionTask, type Attributor, pairScores, rowDots, type Scores, verifyTask } from "./attributor.js";

/** gᵢᵀ H⁻¹ gᵢ for every training example, one solve each. */
async function selfInverseHvps(task: AttributionTask, solve: (v: Float64Array) => Promise<Float64Array>): Promise<Float64Array> {
  const G = await taskGradients(task, task.params, task.train);
  const p = G.dim;
  const X = new Float64Array(G.n * p);
  for (let i = 0; i < G.n; i++) X.set(await solve(G.data.subarray(i * p, (i + 1) * p)), i * p);
  return rowDots(X, G.data, G.n, p);
}

async function inverseHvps(task: AttributionTask, solve: (v: Float64Array) => Promise<Float64Array>): Promise<Scores & { ihvp: Float64Array }> {
  const G = await taskGradients(task, task.params, task.train);
  const V = await taskGradients(task, task.params, task.test);
  const p = G.dim;
  const X = new Float64Array(V.n * p);
  for (let t = 0; t < V.n; t++) X.set(await solve(V.data.subarray(t * p, (t + 1) * p)), t * p);
  return { ...pairScores("", X, V.n, G.data, G.n, p), ihvp: X };
}

export class ExactInfluence implements Attributor {
  readonly name = "influence-exact";
  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const p = task.model.numParams;
    const L = cholesky(await exactHessian(task.model, task.params, task.train, task.l2), p);
    const { nTest, nTrain, data } = await inverseHvps(task, async (v) => choleskySolve(L, p, v));
    return { method: this.name, nTest, nTrain, data };
  }
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const p = task.model.numParams;
    const L = cholesky(await exactHessian(task.model, task.params, task.train, task.l2), p);
    return selfInverseHvps(task, async (v) => choleskySolve(L, p, v));
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
    const { nTest, nTrain, data } = await inverseHvps(task, async (v) => {
      const r = await solve(v);
      iters += r.iterations;
      return r.x;
    });
    this.lastIterations = iters / Math.max(1, nTest);
    return { method: this.name, nTest, nTrain, data };
  }
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const solve = await this.solver(task);
    return selfInverseHvps(task, async (v) => (await solve(v)).x);
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
 * chains are run and averaged.
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
  constructor(readonly opts: { depth?: number; batchSize?: number; seed?: number; repeats?: number } = {}) {
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

  /** H⁻¹v as the mean of `repeats` independent chains, each on its own minibatch stream. */
  private async solver(task: AttributionTask): Promise<(v: Float64Array) => Promise<Float64Array>> {
    const seed = this.opts.seed ?? task.seed ?? 0;
    const depth = this.opts.depth ?? 200;
    const bs = Math.min(this.opts.batchSize ?? 128, task.train.n);
    const full = (v: Float64Array) => hessianVectorProduct(task.model, task.params, task.train, v, task.l2);
    const scale = 1.1 * (await largestEigenvalue(full, task.model.numParams, seed));
    const indefinite = async (curvature: number, where: { iteration?: number; chain?: number }) => {
      // the damping must cover the curvature met and the full Hessian's most negative one
      const smallest = await smallestEigenvalue(full, task.model.numParams, seed);
      const suggestedL2 = Number((task.l2 + 2 * Math.max(Math.abs(Math.min(0, curvature)), Math.abs(Math.min(0, smallest)))).toPrecision(2));
      return new AttributionError({
        code: "influence/indefinite-hessian",
        message: `LiSSA met curvature ${curvature.toExponential(3)} in the damped Hessian (l2 = ${task.l2}): its series diverges there`,
        hint: `raise the damping to l2 ≥ ${suggestedL2}, or use the exact (Cholesky) solver`,
        fields: { l2: task.l2, curvature, smallestEigenvalue: smallest, suggestedL2, ...where },
      });
    };
    if (!(scale > 0)) throw await indefinite(scale / 1.1, {});
    const streams = Array.from({ length: this.repeats }, (_, c) => makeRng(seed).fork(c === 0 ? "lissa-batches" : `lissa-batches:${c}`));
    return async (v) => {
      const mean = new Float64Array(v.length);
      const vNorm = norm(v);
      if (vNorm === 0) return mean;
      for (const [chain, r] of streams.entries()) {
        let h = new Float64Array(v);
        for (let j = 0; j < depth; j++) {
          const idx = Array.from({ length: bs }, () => r.int(task.train.n));
          const Hh = await hessianVectorProduct(task.model, task.params, subset(task.train, idx), h, task.l2);
          const curvature = dot(h, Hh) / dot(h, h);
          if (!(curvature > 0) && Number.isFinite(curvature)) throw await indefinite(curvature, { iteration: j, chain });
          h = h.map((x, i) => v[i] + x - Hh[i] / scale);
          const growth = norm(h) / ((j + 2) * vNorm); // h is h_{j+1}: at most (j + 2)‖v‖ while the series contracts
          if (!(growth <= 1 + 1e-9))
            throw new AttributionError({
              code: "influence/lissa-diverged",
              message: `LiSSA's iterate grew to ${growth.toExponential(3)} × the bound a converging series keeps, at iteration ${j} of chain ${chain}`,
              hint: "a minibatch Hessian has eigenvalues above 2 × the scale or the Hessian is ill-conditioned: raise the batch size or the damping (l2), or use the exact or CG solver",
              fields: { l2: task.l2, scale, batchSize: bs, iteration: j, chain, growth },
            });
        }
        for (let i = 0; i < v.length; i++) mean[i] += h[i] / scale / this.repeats;
      }
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
