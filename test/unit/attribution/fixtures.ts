import { buildLmDatanets, type LmDatanetParams } from "../../../lib/attribution/experiments/index.js";
import { FactoryModel, lmBatch } from "../../../lib/attribution/factory-model.js";
import { loadLmBase } from "../../../lib/attribution/lm-base.js";
import type { Batch, TraceableModel } from "../../../lib/attribution/model.js";
import { rng } from "../../../lib/random.js";
import { initTf } from "../../../lib/tf/index.js";

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

/** The language-model experiment at its smallest: the quick base, four documents per datanet, a few steps and re-trainings. */
export const tinyLmParams: LmDatanetParams = {
  seed: 3,
  datanets: "fortunes-files",
  pretrain: "quick",
  baseSeed: 1,
  documentsPerDatanet: 4,
  heldOutPerDatanet: 2,
  stride: 24,
  lora: { r: 1, alpha: 2, targets: ["lm_head"] },
  steps: 4,
  batchSize: 8,
  lr: 0.01,
  warmupSteps: 1,
  checkpointEvery: 2,
  promptChars: 8,
  continuationChars: 8,
  generatedPerDatanet: 1,
  temperature: 0.6,
  trakModels: 1,
  trakDim: 8,
  trakRidge: 0,
  ldsSubsets: 2,
  counterfactualK: 2,
  counterfactualTests: 1,
  matchMinLength: 4,
  topDocuments: 2,
};

/**
 * The quick character base (the lm experiments' default, loaded by loadLmBase) cut into tinyLmParams'
 * datanet windows, as a Factory model whose only
 * trainable tensor is lm_head: the training batch and parameters the known-answer tests read.
 */
export async function tinyLmWindows() {
  const { tf } = await initTf({ quiet: true });
  const { model, weights, tokenizer, blockSize: T } = await loadLmBase(tf, tinyLmParams);
  const dn = buildLmDatanets(tinyLmParams, T, (s) => tokenizer.encode(s));
  const fm = new FactoryModel({ model, weights, trainable: ["lm_head.weight"] });
  const params = await fm.readParams(weights);
  const train = lmBatch(dn.data.x, dn.data.y, dn.data.n, T);
  return { T, dn, fm, params, train };
}
