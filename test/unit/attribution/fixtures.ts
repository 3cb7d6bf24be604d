import type { Batch, TraceableModel } from "../../../lib/attribution/model.js";
import { rng } from "../../../lib/random.js";

/** A seeded batch of n standard-normal examples of dimension dim with labels in [0, K). */
export function randomBatch(n: number, dim: number, K: number, seed: number): Batch {
  const r = rng(seed);
  return { n, dim, x: Float64Array.from({ length: n * dim }, () => r.normal()), y: Int32Array.from({ length: n }, () => r.int(K)) };
}

/** Seeded parameters for a model, scaled so activations stay in a useful range. */
export function randomParams(model: TraceableModel, seed: number): Float64Array {
  const r = rng(seed);
  return Float64Array.from({ length: model.numParams }, () => 0.5 * r.normal());
}
