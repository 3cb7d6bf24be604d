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

export async function counterfactualRemoval(
  scores: Scores,
  k: number,
  tests: number[],
  lossAfterRemoving: (removed: number[], t: number) => Promise<number>,
  baseLoss: (t: number) => number,
  seed: number,
): Promise<CounterfactualResult> {
  const r = makeRng(seed).fork("counterfactual");
  const perTest: { topK: number; random: number }[] = [];
  for (const t of tests) {
    const row = scores.data.subarray(t * scores.nTrain, (t + 1) * scores.nTrain);
    const top = Array.from(row.keys())
      .sort((a, b) => row[b] - row[a])
      .slice(0, k);
    const rand = r.shuffle(Array.from({ length: scores.nTrain }, (_, i) => i)).slice(0, k);
    const base = baseLoss(t);
    perTest.push({ topK: (await lossAfterRemoving(top, t)) - base, random: (await lossAfterRemoving(rand, t)) - base });
  }
  return { k, topK: mean(perTest.map((p) => p.topK)), random: mean(perTest.map((p) => p.random)), perTest };
}
