/**
 * Counterfactual removal: for a test point, drop the k training examples its attribution ranks
 * most helpful, retrain, and measure the increase of its test loss; compare with dropping k
 * random examples. A faithful attribution makes the first much larger than the second.
 */
import { rng as makeRng } from "../../random.js";
import type { Scores } from "../methods/attributor.js";
import { mean } from "./stats.js";

export interface CounterfactualResult {
  k: number;
  /** Mean test-loss increase after removing the top-k attributed examples. */
  topK: number;
  /** Mean test-loss increase after removing k random examples. */
  random: number;
  perTest: { topK: number; random: number }[];
}

/** Per test point: the k training examples its attribution ranks most helpful, and k seeded random ones. */
export interface RemovalSet {
  t: number;
  top: number[];
  random: number[];
}

/** The removals of the test, drawn as counterfactualRemoval draws them (to retrain them elsewhere, e.g. as worker jobs). */
export function counterfactualRemovalSets(scores: Scores, k: number, tests: number[], seed: number): RemovalSet[] {
  const r = makeRng(seed).fork("counterfactual");
  return tests.map((t) => {
    const row = scores.data.subarray(t * scores.nTrain, (t + 1) * scores.nTrain);
    const top = Array.from(row.keys())
      .sort((a, b) => row[b] - row[a])
      .slice(0, k);
    const random = r.shuffle(Array.from({ length: scores.nTrain }, (_, i) => i)).slice(0, k);
    return { t, top, random };
  });
}

/** The result from each removal set's losses after retraining (`after[j]` for `sets[j]`). */
export function counterfactualResult(k: number, sets: readonly RemovalSet[], after: readonly { top: number; random: number }[], baseLoss: (t: number) => number): CounterfactualResult {
  const perTest = sets.map(({ t }, j) => ({ topK: after[j].top - baseLoss(t), random: after[j].random - baseLoss(t) }));
  return { k, topK: mean(perTest.map((p) => p.topK)), random: mean(perTest.map((p) => p.random)), perTest };
}

export async function counterfactualRemoval(
  scores: Scores,
  k: number,
  tests: number[],
  lossAfterRemoving: (removed: number[], t: number) => number | Promise<number>,
  baseLoss: (t: number) => number,
  seed: number,
): Promise<CounterfactualResult> {
  const sets = counterfactualRemovalSets(scores, k, tests, seed);
  const after: { top: number; random: number }[] = [];
  for (const { t, top, random } of sets) after.push({ top: await lossAfterRemoving(top, t), random: await lossAfterRemoving(random, t) });
  return counterfactualResult(k, sets, after, baseLoss);
}
