// Proof of Attribution for one paid inference of the Factory's classifier: the adapter answers a
// query, DataInf scores every training example of the run against that answer (the predicted
// class, so the attribution is of what the customer was told), and the scores roll up to the
// run's contributors and datanets. What the AttributionRegistry records of it comes with it.
//
// The reward roll-up counts the examples that helped the answer (positive score), summed per
// contributor and datanet; an example that argued against it earns nothing. Netting helpful
// against harmful examples first (`net`, reported beside it) would, with a single datanet, leave
// the whole data share unpaid whenever that datanet's net influence is negative.
import { keccak256 } from "ethers";
import { type Aggregate, aggregate } from "../attribution/aggregation.js";
import type { GradientStore } from "../attribution/gradients.js";
import { DataInf } from "../attribution/methods/datainf.js";
import type { Batch, TraceableModel } from "../attribution/model.js";
import type { InferenceRecord } from "../attribution/onchain.js";
import { sha256Hex } from "../files.js";
import { LoopError } from "./errors.js";

/** The training split of a Factory run as attribution sees it. */
export interface TrainingSet {
  batch: Batch;
  datanetOf: Int32Array;
  /** Contributor address of each example. */
  contributorOf: readonly string[];
  datanets: string[];
}

/** Per-example scores of one inference, rolled up to contributors and datanets. */
export interface RolledUp {
  scores: Float64Array;
  /** Helpful examples only: what the data share is paid by. */
  aggregate: Aggregate;
  /** Every example, helpful and harmful, summed: for the report. */
  net: Aggregate;
  /** Training examples with a positive score. */
  helpful: number;
}

export interface ClassifierInference extends RolledUp {
  query: Batch;
  predicted: number;
  logits: Float64Array;
  record: InferenceRecord;
}

/** Rolls one inference's per-example scores up to the training set's contributors and datanets. */
export function rollUp(scores: Float64Array, train: TrainingSet): RolledUp {
  if (scores.length !== train.batch.n) {
    throw new LoopError("loop/scores-length", `${scores.length} scores for ${train.batch.n} training examples`, "score the training set the roll-up is given", {
      scores: scores.length,
      examples: train.batch.n,
    });
  }
  const addresses = [...new Set(train.contributorOf)];
  const provenance = {
    datanetOf: train.datanetOf,
    contributorOf: Int32Array.from(train.contributorOf, (a) => addresses.indexOf(a)),
    datanets: train.datanets,
    contributors: addresses,
  };
  const helpfulScores = scores.map((v) => Math.max(v, 0));
  return { scores, aggregate: aggregate(helpfulScores, provenance), net: aggregate(scores, provenance), helpful: helpfulScores.reduce((a, v) => a + (v > 0 ? 1 : 0), 0) };
}

const bytesOf = (a: Float64Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Serves `x` (one example) with the adapter and attributes the answer to the training set. */
export async function attributeClassifierInference(
  m: { model: TraceableModel; params: Float64Array; modelId: string; adapterId: string },
  train: TrainingSet,
  x: Float64Array,
  inferenceId: string,
  gradients?: GradientStore,
): Promise<ClassifierInference> {
  if (x.length !== m.model.inputDim) {
    throw new LoopError("loop/query-shape", `a query of ${x.length} values for a model of input ${m.model.inputDim}`, "pass one example's features", { got: x.length, want: m.model.inputDim });
  }
  const logits = await m.model.logits(m.params, x, 1);
  let predicted = 0;
  for (let k = 1; k < logits.length; k++) if (logits[k]! > logits[predicted]!) predicted = k;
  const query: Batch = { x, y: Int32Array.of(predicted), n: 1, dim: x.length };
  const scores = (await new DataInf().attribute({ model: m.model, params: m.params, train: train.batch, test: query, l2: 0, gradients })).data;
  const record: InferenceRecord = {
    inferenceId,
    modelId: m.modelId,
    adapterId: m.adapterId,
    inputHash: keccak256(bytesOf(x)),
    outputHash: keccak256(bytesOf(logits)),
    method: "datainf",
    evidenceHash: `0x${sha256Hex(bytesOf(scores))}`,
  };
  return { ...rollUp(scores, train), query, predicted, logits, record };
}
