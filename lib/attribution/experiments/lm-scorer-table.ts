/**
 * The language-model experiment's scorers as one table (notebook 05, section 7): each gradient
 * method and each span scorer with its identification AUC and recall, its LDS and the LDS's 95 %
 * bootstrap interval on the same re-trainings, and, for the gradient methods, the agreement with
 * exact match on generated text and their seconds; the caption gives the suffix array's size,
 * build time and query latency.
 */
import { LM_METHOD_KEYS, LM_SCORER_KEYS, type LmMetrics, type LmScorerKey } from "./lm-datanets.js";

const round = (v: number, digits: number) => +v.toFixed(digits);

function isGradient(key: LmScorerKey): boolean {
  return (LM_METHOD_KEYS as readonly string[]).includes(key);
}

/** One row per scorer (gradient methods, then span scorers), and the caption on the suffix array. */
export function lmScorerTable(m: LmMetrics, topDocuments: number): { rows: Record<string, string | number>[]; caption: string } {
  const hasLds = m.lds_subsets !== undefined;
  const rows = LM_SCORER_KEYS.map((k) => {
    // "no match": no generated output holds a verbatim span (the quick base writes mostly gibberish); span scorers are not compared with themselves
    const agreement = (value: number) => (!isGradient(k) ? "" : m.outputs_with_match ? round(value, 2) : "no match");
    return {
      method: k,
      "identification AUC": round(m[`auc_${k}`], 3),
      recall: round(m[`recall_${k}`], 3),
      [`LDS (${m.lds_subsets ?? 0} subsets)`]: hasLds ? round(m[`lds_${k}`], 3) : "",
      "LDS 95 % interval": hasLds ? `[${m[`lds_${k}_ci95_low`].toFixed(3)}, ${m[`lds_${k}_ci95_high`].toFixed(3)}]` : "",
      "share ρ vs exact match": agreement(m[`match_share_spearman_${k}`]),
      [`top-${topDocuments} documents shared with match`]: agreement(m[`match_top_document_overlap_${k}`]),
      seconds: isGradient(k) ? round(m[`seconds_${k}`], 2) : "",
    };
  });
  const ms = (s: number) => (1000 * s).toFixed(2);
  const caption =
    `span scorers: one suffix array over every training window, ${m.suffix_array_tokens} tokens built in ${m.suffix_array_build_seconds.toFixed(3)} s; ` +
    `a test point's queries take ${ms(m.exact_match_query_seconds_mean)} ms (p95 ${ms(m.exact_match_query_seconds_p95)}) by exact match, ` +
    `${ms(m.infini_gram_query_seconds_mean)} ms (p95 ${ms(m.infini_gram_query_seconds_p95)}) by ∞-gram`;
  return { rows, caption };
}
