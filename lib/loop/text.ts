// Proof of Attribution for one paid inference of the Factory's language model, by exact match:
// a suffix array over each contributor's training windows (Infini-gram's idea, one index per
// contributor), the generated continuation scanned left to right, and each span of at least
// `minLength` tokens found verbatim credited to the contributors whose windows hold it, in
// proportion to their occurrences. Credits land on the windows, so they roll up to contributors
// and the datanet as any per-example scores do.
import { keccak256 } from "ethers";
import { type Aggregate, aggregate } from "../attribution/aggregation.js";
import type { InferenceRecord } from "../attribution/onchain.js";
import { attributeByMatch, buildIndex, type MatchAttribution, type SuffixIndex } from "../attribution/suffix-array.js";
import { sha256Hex } from "../files.js";
import type { Datanet } from "../intelligence/datanets.js";
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
