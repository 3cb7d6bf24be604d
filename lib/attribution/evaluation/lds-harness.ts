/**
 * One harness for every kind of evidence: any attributor's scores (gradient methods, span scorers)
 * judged by LDS (lds.ts) against the same re-trainings, each with a percentile-bootstrap interval
 * over test points. The bootstrap draws are made once from the seed and shared by every method, so
 * the intervals are paired: two methods are compared on the same resampled test sets.
 */
import { rng as makeRng } from "../../random.js";
import { AttributionError } from "../errors.js";
import type { AttributionTask, Attributor, Scores } from "../methods/attributor.js";
import { type LdsGroundTruth, lds } from "./lds.js";
import { bootstrapMeanInterval } from "./stats.js";

/** A method's LDS: the mean over test points, each test point's, and the bootstrap interval of the mean. */
export interface LdsReport {
  lds: number;
  perTest: Float64Array;
  low: number;
  high: number;
}

export interface LdsHarnessOptions {
  /** Seeds the bootstrap draws. */
  seed: number;
  /** Bootstrap resamples (1000 by default). */
  resamples?: number;
  /** The interval's coverage (0.95 by default). */
  level?: number;
}

/** Each attributor's scores on the same task, in the order given. */
export async function attributeSideBySide(attributors: Record<string, Attributor>, task: AttributionTask): Promise<Record<string, Scores>> {
  const out: Record<string, Scores> = {};
  for (const [key, method] of Object.entries(attributors)) out[key] = await method.attribute(task);
  return out;
}

/** `resamples` seeded draws of n test points with replacement. */
export function bootstrapDraws(n: number, resamples: number, seed: number): Int32Array[] {
  const r = makeRng(seed).fork("lds-bootstrap");
  return Array.from({ length: resamples }, () => Int32Array.from({ length: n }, () => r.int(n)));
}

function checkShapes(key: string, s: Scores, gt: LdsGroundTruth): void {
  const nTest = gt.outputs[0]?.length ?? 0;
  const largest = Math.max(-1, ...gt.subsets.map((sub) => (sub.length ? sub[sub.length - 1] : -1)));
  if (s.nTest !== nTest || largest >= s.nTrain || gt.outputs.length !== gt.subsets.length)
    throw new AttributionError({
      code: "lds/shape-mismatch",
      message: `${key}: scores of ${s.nTest} test points × ${s.nTrain} training examples against ${gt.subsets.length} subsets (largest index ${largest}) with outputs on ${nTest} test points`,
      hint: "score the test points the re-trainings were evaluated on, over the training set the subsets were drawn from",
      fields: { method: key, nTest: s.nTest, nTrain: s.nTrain, groundTruthTests: nTest, largestIndex: largest, subsets: gt.subsets.length, outputs: gt.outputs.length },
    });
}

/** LDS of every method's scores on one ground truth, with paired seeded bootstrap intervals over test points. */
export function ldsSideBySide(scores: Record<string, Scores>, gt: LdsGroundTruth, opts: LdsHarnessOptions): Record<string, LdsReport> {
  const nTest = gt.outputs[0]?.length ?? 0;
  for (const [key, s] of Object.entries(scores)) checkShapes(key, s, gt);
  const draws = bootstrapDraws(nTest, opts.resamples ?? 1000, opts.seed);
  const out: Record<string, LdsReport> = {};
  for (const [key, s] of Object.entries(scores)) {
    const r = lds(s, gt);
    out[key] = { ...r, ...bootstrapMeanInterval(r.perTest, draws, opts.level) };
  }
  return out;
}
