/**
 * The one interface every attribution method implements: given a trained model, its training set
 * and some test points, a score for every (test, train) pair. Sign convention throughout:
 * score > 0 means the training example helped the test point (up-weighting it lowers the test
 * loss / raises its margin; removing it would hurt), score < 0 means it hurt.
 */

import { AttributionError, HashMismatchError } from "../errors.js";
import type { GradientStore } from "../gradients.js";
import { matmulABt } from "../linalg.js";
import type { Batch, TraceableModel } from "../model.js";
import type { Checkpoint } from "../retrain.js";
import { hashParams, verifyCheckpoint } from "../retrain.js";

export interface AttributionTask {
  model: TraceableModel;
  params: Float64Array;
  /** If given, the parameters must hash to it (the hash the Model Factory recorded). */
  paramsHash?: string;
  train: Batch;
  test: Batch;
  /** The l2 coefficient of the training objective: the damping of every Hessian. */
  l2: number;
  /** Kept checkpoints (TracIn-CP). */
  checkpoints?: Checkpoint[];
  /** Independently trained models (TRAK's ensemble); the first is usually `params`. */
  ensemble?: { params: Float64Array; hash?: string }[];
  seed?: number;
  /** Where per-example gradients are computed once and read back (absent: computed in memory). */
  gradients?: GradientStore;
}

/** nTest × nTrain, row-major: data[t * nTrain + i]. */
export interface Scores {
  method: string;
  nTest: number;
  nTrain: number;
  data: Float64Array;
}

export interface Attributor {
  readonly name: string;
  attribute(task: AttributionTask): Promise<Scores>;
  /**
   * τ(zᵢ, zᵢ) for every training example (mislabel detection), computed without the
   * nTrain × nTrain score matrix; equal to its diagonal.
   */
  selfInfluence?(task: AttributionTask): Promise<Float64Array>;
}

/** Self-influence of every training example by `method`, refused for a method that has none. */
export async function selfInfluence(method: Attributor, task: AttributionTask): Promise<Float64Array> {
  if (!method.selfInfluence) {
    throw new AttributionError({
      code: "attribution/no-self-influence",
      message: `${method.name} defines no self-influence`,
      hint: "use Grad-Dot, TracIn-CP, an influence function, DataInf or TRAK",
      fields: { method: method.name },
    });
  }
  return method.selfInfluence(task);
}

/** Σⱼ a[i·d + j]·b[i·d + j] for each row i: the diagonal of A·Bᵀ without forming it. */
export function rowDots(a: Float64Array, b: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[i * d + j] * b[i * d + j];
    out[i] = s;
  }
  return out;
}

export function verifyTask(task: AttributionTask): void {
  if (task.paramsHash !== undefined) {
    const actual = hashParams(task.params);
    if (actual !== task.paramsHash) {
      throw new HashMismatchError({
        code: "attribution/params-hash-mismatch",
        message: `model parameters hash to ${actual}, but ${task.paramsHash} was recorded`,
        hint: "attribute against the recorded checkpoint: reload it, do not edit parameters in place",
        fields: { actual, recorded: task.paramsHash },
      });
    }
  }
  for (const [i, cp] of (task.checkpoints ?? []).entries()) verifyCheckpoint(cp, `checkpoint ${i} (step ${cp.step})`);
  for (const [i, m] of (task.ensemble ?? []).entries()) {
    if (m.hash !== undefined) verifyCheckpoint({ params: m.params, hash: m.hash }, `ensemble model ${i}`);
  }
}

/** V (nTest×d) · Gᵀ (d×nTrain). */
export function pairScores(method: string, V: Float64Array, nTest: number, G: Float64Array, nTrain: number, d: number): Scores {
  return { method, nTest, nTrain, data: matmulABt(V, G, nTest, d, nTrain) };
}

/** Row t of a score matrix. */
export function scoresFor(s: Scores, t: number): Float64Array {
  return s.data.subarray(t * s.nTrain, (t + 1) * s.nTrain);
}
