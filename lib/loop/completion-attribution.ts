// Proof of Attribution for one paid completion of the Factory's language model, two ways.
//
// By gradients: DataInf on the adapter's per-example gradients through the GPT's own forward,
// the test value the completion's −log-likelihood given its prompt; rolled up as the classifier's
// scores are (the windows that helped pay).
//
// By exact match, beside it: a suffix array over each contributor's training windows (Infini-gram's
// idea, one index per contributor), the completion scanned left to right, and each span of at
// least `minLength` tokens found verbatim credited to the contributors whose windows hold it, in
// proportion to their occurrences. Credits land on the windows, so they roll up to contributors
// and the datanet as any per-example scores do.
import { keccak256 } from "ethers";
import { type Aggregate, aggregate } from "../attribution/aggregation.js";
import { continuationExample, lmBatch } from "../attribution/factory-model.js";
import type { GradientStore } from "../attribution/gradients.js";
import { DataInf } from "../attribution/methods/datainf.js";
import type { TraceableModel } from "../attribution/model.js";
import type { InferenceRecord } from "../attribution/onchain.js";
import { attributeByMatch, buildIndex, type MatchAttribution, type SuffixIndex } from "../attribution/suffix-array.js";
import { sha256Hex } from "../files.js";
import type { Datanet } from "../intelligence/datanets.js";
import { type RolledUp, rollUp, type TrainingSet } from "./classifier.js";
import { LoopError } from "./errors.js";

/** Per contributor of a text datanet: its suffix index and which datanet examples its documents are. */
export interface ContributorIndexes {
  datanet: Datanet;
  indexes: SuffixIndex[];
  /** Per contributor, the datanet example index of each of its index's documents. */
  examplesOf: number[][];
}

/** One suffix array per contributor over its training windows (each window one document). */
export function contributorIndexes(datanet: Datanet): ContributorIndexes {
  if (datanet.modality !== "text")
    throw new LoopError("loop/not-text", `datanet ${datanet.name} holds ${datanet.modality}, not text`, "attribute text output against a text datanet", { datanet: datanet.name });
  const T = datanet.xShape[0]!;
  const examplesOf: number[][] = datanet.contributors.map(() => []);
  for (let i = 0; i < datanet.n; i++) examplesOf[datanet.contributorOf[i]!]!.push(i);
  const indexes = examplesOf.map((ex) => buildIndex(ex.map((i) => Int32Array.from((datanet.x as Int32Array).subarray(i * T, (i + 1) * T)))));
  return { datanet, indexes, examplesOf };
}

export interface TextAttribution {
  match: MatchAttribution;
  /** Matched tokens credited to each training window. */
  scores: Float64Array;
  aggregate: Aggregate;
}

/** Exact-match attribution of `output` (token ids) to the datanet's contributors. */
export function attributeTextByMatch(ci: ContributorIndexes, output: ArrayLike<number>, minLength: number): TextAttribution {
  const match = attributeByMatch(ci.indexes, output, minLength);
  const scores = new Float64Array(ci.datanet.n);
  match.documentScores.forEach((docs, c) => {
    for (const [doc, credit] of docs) scores[ci.examplesOf[c]![doc]!] += credit;
  });
  const agg = aggregate(scores, {
    datanetOf: new Int32Array(ci.datanet.n),
    contributorOf: ci.datanet.contributorOf,
    datanets: [ci.datanet.name],
    contributors: ci.datanet.contributors.map((c) => c.address),
  });
  return { match, scores, aggregate: agg };
}

const bytesOf = (a: Float64Array | Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** What the AttributionRegistry records of a text inference: prompt and output hashes, method, evidence. */
export function textInferenceRecord(o: { inferenceId: string; modelId: string; adapterId: string; prompt: Int32Array; output: Int32Array; method: string; scores: Float64Array }): InferenceRecord {
  return {
    inferenceId: o.inferenceId,
    modelId: o.modelId,
    adapterId: o.adapterId,
    inputHash: keccak256(bytesOf(o.prompt)),
    outputHash: keccak256(bytesOf(o.output)),
    method: o.method,
    evidenceHash: `0x${sha256Hex(bytesOf(o.scores))}`,
  };
}

/**
 * Gradient-based attribution of one completion of the Factory's language model: DataInf on the
 * adapter's per-example gradients, the test value being the completion's −log-likelihood given
 * its prompt (position weights 1 on the completion's tokens, 0 on the prompt's), the training
 * examples the run's windows. Rolled up as the classifier's: the windows that helped pay.
 */
export async function attributeTextByGradient(
  m: { model: TraceableModel; params: Float64Array },
  train: TrainingSet,
  prompt: ArrayLike<number>,
  completion: ArrayLike<number>,
  gradients?: GradientStore,
): Promise<RolledUp> {
  const T = train.batch.dim;
  const ex = continuationExample(prompt, completion, T);
  const test = lmBatch(ex.x, ex.y, 1, T, ex.weights);
  const scores = (await new DataInf().attribute({ model: m.model, params: m.params, train: train.batch, test, l2: 0, gradients })).data;
  return rollUp(scores, train);
}
