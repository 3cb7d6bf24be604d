/**
 * Exact-match span attribution as a scorer over training windows: the test point's ids scanned left
 * to right for the longest span found verbatim in the training corpus (suffix-array.ts, as
 * attributeByMatch scans generated text); a span of at least `minLength` tokens credits the
 * continuation tokens it supplies (the targets whose token and the token before it both lie in the
 * span, by their weight) to the windows holding it, in proportion to their occurrences; the scan
 * goes on after the span. The ids are those the model reads: a short prompt's left padding too.
 */

import { AttributionError } from "../errors.js";
import { longestMatchAt, occurrences } from "../suffix-array.js";
import type { AttributionTask, Attributor } from "./attributor.js";
import { type SpanCorpus, type SpanScores, scoreTestPoints } from "./span-corpus.js";

export class SpanMatch implements Attributor {
  readonly name = "exact-match";
  constructor(readonly opts: { corpus: SpanCorpus; minLength: number }) {
    if (!(Number.isInteger(opts.minLength) && opts.minLength >= 2))
      throw new AttributionError({
        code: "span/bad-min-length",
        message: `minLength must be an integer ≥ 2, got ${opts.minLength}`,
        hint: "a span supplies the targets between its tokens: ask for at least 2 tokens (e.g. 6 characters, 3 word pieces)",
        fields: { minLength: opts.minLength },
      });
  }

  async attribute(task: AttributionTask): Promise<SpanScores> {
    const { index } = this.opts.corpus;
    return scoreTestPoints(this.opts.corpus, task, this.name, (ids, weights, row) => {
      for (let a = 0; a < ids.length; ) {
        const m = longestMatchAt(index, ids, a);
        if (m.length < this.opts.minLength) {
          a++;
          continue;
        }
        // target t predicts id t + 1: the span [a, a + L) supplies targets a … a + L − 2
        let credit = 0;
        for (let t = a; t <= a + m.length - 2; t++) credit += weights[t];
        if (credit > 0) for (const [window, c] of occurrences(index, ids, a, m.length)) row[window] += (credit * c) / m.count;
        a += m.length;
      }
    });
  }
}
