/**
 * A text baseline for the identification task that uses no model at all: character n-gram
 * TF-IDF vectors (idf from the training texts, smoothed: log((1 + n) / (1 + df))), compared by
 * cosine. Scored in the attribution layout (nTest × nTrain, higher = more alike), so the same
 * identification metric reads it: when gradient methods sit near chance, this says whether the
 * datanets are separable by their text at all on the same windows and prompts.
 */
import { AttributionError } from "../errors.js";
import type { Scores } from "../methods/attributor.js";

type SparseVector = Map<string, number>;

function countGrams(text: string, order: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + order <= text.length; i++) {
    const g = text.slice(i, i + order);
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  return counts;
}

function tfidfUnit(counts: Map<string, number>, idf: (g: string) => number): SparseVector {
  const v: SparseVector = new Map();
  let norm = 0;
  for (const [g, c] of counts) {
    const w = c * idf(g);
    v.set(g, w);
    norm += w * w;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (const [g, w] of v) v.set(g, w * scale);
  return v;
}

function sparseDot(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let s = 0;
  for (const [g, w] of small) s += w * (large.get(g) ?? 0);
  return s;
}

/** Cosine of character `order`-gram TF-IDF vectors of every (test, train) pair of texts. */
export function ngramTfidfScores(trainTexts: readonly string[], testTexts: readonly string[], order = 3): Scores {
  if (!Number.isInteger(order) || order < 1) {
    throw new AttributionError({ code: "attribution/ngram-order", message: `an n-gram order of ${order}`, hint: "use a positive integer order (3 for character trigrams)", fields: { order } });
  }
  const n = trainTexts.length;
  const trainCounts = trainTexts.map((t) => countGrams(t, order));
  const df = new Map<string, number>();
  for (const counts of trainCounts) for (const g of counts.keys()) df.set(g, (df.get(g) ?? 0) + 1);
  const idf = (g: string) => Math.log((1 + n) / (1 + (df.get(g) ?? 0)));
  const train = trainCounts.map((c) => tfidfUnit(c, idf));
  const data = new Float64Array(testTexts.length * n);
  testTexts.forEach((text, t) => {
    const v = tfidfUnit(countGrams(text, order), idf);
    for (let i = 0; i < n; i++) data[t * n + i] = sparseDot(v, train[i]);
  });
  return { method: `ngram-${order}-tfidf`, nTest: testTexts.length, nTrain: n, data };
}
