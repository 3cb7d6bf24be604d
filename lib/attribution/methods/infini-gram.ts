/**
 * ∞-gram attribution as a scorer over training windows (Liu et al. 2024, "Infini-gram"): for each
 * continuation token of a test point, the longest suffix of what precedes it that occurs in the
 * training corpus followed by a token gives the ∞-gram estimate P∞(token | context) =
 * count(context · token) / count(context · any); each window holding context · token is credited
 * its share of that probability (its occurrences / count(context · any)), times the target's weight.
 * A window's score is then the part of the continuation's ∞-gram likelihood it supplies; the
 * scores of a test point sum to Σ weightₜ · P∞(tokenₜ | contextₜ). The ids are those the model
 * reads: a short prompt's left padding is context too.
 */

import { infiniGramAt, occurrences } from "../suffix-array.js";
import type { AttributionTask, Attributor } from "./attributor.js";
import { type SpanCorpus, type SpanScores, scoreTestPoints } from "./span-corpus.js";

export class InfiniGram implements Attributor {
  readonly name = "infini-gram";
  constructor(readonly opts: { corpus: SpanCorpus }) {}

  async attribute(task: AttributionTask): Promise<SpanScores> {
    const { index } = this.opts.corpus;
    return scoreTestPoints(this.opts.corpus, task, this.name, (ids, weights, row) => {
      for (let t = 0; t < weights.length; t++) {
        if (weights[t] === 0) continue;
        // target t is id t + 1, everything before it the context
        const q = infiniGramAt(index, ids, t + 1);
        if (q.targetCount === 0) continue;
        for (const [window, c] of occurrences(index, ids, q.contextStart, q.contextLength + 1)) row[window] += (weights[t] * c) / q.followers;
      }
    });
  }
}
