/**
 * The training corpus of a language model as one suffix array, for the span attributors
 * (span-match.ts, infini-gram.ts). The corpus is the training examples themselves: each window's
 * T + 1 token ids (its inputs and its last target), separated, so a match never crosses two
 * windows, every position maps back to its window, and a text seen in two overlapping windows
 * counts twice, as training sees it twice. Token ids, not characters: any tokenizer.
 */

import { AttributionError } from "../errors.js";
import type { Batch } from "../model.js";
import { buildIndex, type SuffixIndex } from "../suffix-array.js";
import type { AttributionTask, Scores } from "./attributor.js";

/** The suffix array over every training window; `index.docOf` maps a position to its window. */
export interface SpanCorpus {
  index: SuffixIndex;
  /** Training windows (the index's documents). */
  nTrain: number;
  /** Block size: a window holds T + 1 ids. */
  T: number;
}

function blockSize(batch: Batch, role: "train" | "test"): number {
  if (batch.yDim !== batch.dim)
    throw new AttributionError({
      code: "span/not-a-language-model",
      message: `the ${role} batch has ${batch.dim} inputs and ${batch.yDim ?? 1} targets per row, not a language model's T and T`,
      hint: "span attribution reads next-token windows: pass batches built by lmBatch or continuationBatch",
      fields: { role, dim: batch.dim, yDim: batch.yDim ?? 1 },
    });
  return batch.dim;
}

/** Row r of a language-model batch as its T + 1 token ids (x, then the last target). */
export function sequenceOf(batch: Batch, r: number): Int32Array {
  const T = batch.dim;
  const ids = new Int32Array(T + 1);
  for (let t = 0; t < T; t++) ids[t] = batch.x[r * T + t];
  ids[T] = batch.y[(r + 1) * T - 1];
  return ids;
}

/**
 * The weight of each target of row r (target t is id t + 1 of its sequence): the batch's weights
 * (a continuation's, the prompt's at 0), else 1/T each (a training window's mean loss).
 */
export function targetWeightsOf(batch: Batch, r: number): Float64Array {
  const T = batch.dim;
  return batch.weights ? batch.weights.slice(r * T, (r + 1) * T) : new Float64Array(T).fill(1 / T);
}

/** One suffix array over all the training windows of a language-model batch. */
export function spanCorpus(train: Batch): SpanCorpus {
  const T = blockSize(train, "train");
  return { index: buildIndex(Array.from({ length: train.n }, (_, i) => sequenceOf(train, i))), nTrain: train.n, T };
}

/** Refuses a task whose training windows are not the corpus's (their number or block size). */
function checkCorpusFits(corpus: SpanCorpus, train: Batch, test: Batch, method: string): void {
  const T = blockSize(train, "train");
  blockSize(test, "test");
  if (train.n !== corpus.nTrain || T !== corpus.T)
    throw new AttributionError({
      code: "span/corpus-mismatch",
      message: `${method}: the corpus indexes ${corpus.nTrain} windows of ${corpus.T} tokens, the task trains on ${train.n} of ${T}`,
      hint: "build the corpus with spanCorpus(task.train) from the same training batch",
      fields: { method, corpusWindows: corpus.nTrain, corpusT: corpus.T, trainWindows: train.n, trainT: T },
    });
}

/** A span attributor's scores, with the wall seconds each test point's queries took. */
export interface SpanScores extends Scores {
  querySeconds: Float64Array;
}

/**
 * The template both span attributors fill: each test point's ids and target weights, scored into
 * its row of credits per training window by `scoreRow`, one query per test point, timed.
 */
export function scoreTestPoints(corpus: SpanCorpus, task: AttributionTask, method: string, scoreRow: (ids: Int32Array, weights: Float64Array, row: Float64Array) => void): SpanScores {
  checkCorpusFits(corpus, task.train, task.test, method);
  const { n } = task.test;
  const data = new Float64Array(n * corpus.nTrain);
  const querySeconds = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const t0 = performance.now();
    scoreRow(sequenceOf(task.test, r), targetWeightsOf(task.test, r), data.subarray(r * corpus.nTrain, (r + 1) * corpus.nTrain));
    querySeconds[r] = (performance.now() - t0) / 1000;
  }
  return { method, nTest: n, nTrain: corpus.nTrain, data, querySeconds };
}
