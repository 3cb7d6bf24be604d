/**
 * Linear datamodeling score (Park et al. 2023; dattri's definition): draw m subsets Sⱼ of
 * α·n training examples (α = ½), retrain on each, record the model output f(z_t; θ(Sⱼ)) on every
 * test point; the attribution predicts g(z_t, Sⱼ) = Σ_{i∈Sⱼ} τ(z_t)ᵢ. LDS is Spearman's ρ between
 * the m actual and predicted values, averaged over test points.
 */
import { rng as makeRng } from "../../random.js";
import type { Scores } from "../methods/attributor.js";
import { mean, spearman } from "./stats.js";

/** Seeded subsets of ⌊α·n⌋ distinct indices each (sorted). */
export function sampleSubsets(n: number, m: number, alpha: number, seed: number): Int32Array[] {
  const r = makeRng(seed).fork("lds-subsets");
  const k = Math.floor(alpha * n);
  return Array.from({ length: m }, () => Int32Array.from(r.shuffle(Array.from({ length: n }, (_, i) => i)).slice(0, k)).sort());
}

export interface LdsGroundTruth {
  subsets: Int32Array[];
  /** outputs[j][t]: model output on test t after training on subset j. */
  outputs: Float64Array[];
}

/** Retrains on each subset in turn (in order) and records the outputs. */
export async function ldsGroundTruth(subsets: Int32Array[], retrainOutputs: (subset: Int32Array, j: number) => Float64Array | Promise<Float64Array>): Promise<LdsGroundTruth> {
  const outputs: Float64Array[] = [];
  for (const [j, s] of subsets.entries()) outputs.push(await retrainOutputs(s, j));
  return { subsets, outputs };
}

export function lds(scores: Scores, gt: LdsGroundTruth): { lds: number; perTest: Float64Array } {
  const perTest = new Float64Array(scores.nTest);
  for (let t = 0; t < scores.nTest; t++) {
    const row = scores.data.subarray(t * scores.nTrain, (t + 1) * scores.nTrain);
    const predicted = gt.subsets.map((s) => {
      let sum = 0;
      for (const i of s) sum += row[i];
      return sum;
    });
    const actual = gt.outputs.map((o) => o[t]);
    perTest[t] = spearman(predicted, actual);
  }
  return { lds: mean(perTest), perTest };
}
