/**
 * Leave-one-out correlation: for each test point, Spearman's ρ between the attribution scores and
 * the actual change of the test output when each training example is removed and the model
 * retrained, averaged over test points.
 */
import type { Scores } from "../methods/attributor.js";
import { mean, spearman } from "./stats.js";

/** looOutputs[i][t]: output on test t after retraining without training example i; base: with all. */
export function looCorrelation(scores: Scores, looOutputs: Float64Array[], base: Float64Array, examples?: number[]): { corr: number; perTest: Float64Array } {
  const idx = examples ?? looOutputs.map((_, i) => i);
  const perTest = new Float64Array(scores.nTest);
  for (let t = 0; t < scores.nTest; t++) {
    // removing a helpful example lowers the output: the actual effect of keeping it is base − loo
    const actual = idx.map((_, k) => base[t] - looOutputs[k][t]);
    const predicted = idx.map((i) => scores.data[t * scores.nTrain + i]);
    perTest[t] = spearman(predicted, actual);
  }
  return { corr: mean(perTest), perTest };
}
