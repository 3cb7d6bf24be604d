/**
 * Mislabeled-data detection: flip the labels of a seeded 10% of the training set (each to another
 * class), train, rank training examples by self-influence τ(zᵢ, zᵢ) — how much an example's own
 * loss depends on its being in the training set — and report the ROC AUC of that ranking for
 * "this label was flipped".
 */
import { rng as makeRng } from "../../random.js";
import type { Batch } from "../model.js";
import { rocAuc } from "./stats.js";

export function flipLabels(batch: Batch, numClasses: number, fraction: number, seed: number): { batch: Batch; flipped: Uint8Array } {
  const r = makeRng(seed).fork("label-flip");
  const order = r.shuffle(Array.from({ length: batch.n }, (_, i) => i));
  const flipped = new Uint8Array(batch.n);
  const y = new Int32Array(batch.y);
  for (const i of order.slice(0, Math.round(fraction * batch.n))) {
    y[i] = (y[i] + 1 + r.int(numClasses - 1)) % numClasses;
    flipped[i] = 1;
  }
  return { batch: { ...batch, y }, flipped };
}

export function mislabelAuc(selfInfluence: ArrayLike<number>, flipped: Uint8Array): number {
  return rocAuc(selfInfluence, flipped);
}
