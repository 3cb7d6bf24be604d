/**
 * Where each metric of the attribution experiments is computed, by the metric's name: what a
 * reproduction report prints beside each claim, so a reviewer can read the code behind a number.
 * The first rule whose pattern matches the name (and whose runner, if it names one, is the
 * experiment's) applies.
 */
export interface MetricSource {
  pattern: RegExp;
  /** Only for this experiment runner (a name may mean different computations in two experiments). */
  runner?: string;
  /** What the metric measures, in a line. */
  meaning: string;
  /** The function and the file that compute it. */
  computedBy: string;
}

export const METRIC_SOURCES: readonly MetricSource[] = [
  {
    pattern: /^lds_/,
    meaning: "linear datamodeling score: Spearman correlation of predicted and retrained outputs over random half subsets, mean over test points",
    computedBy: "lds() in lib/attribution/evaluation/lds.ts",
  },
  { pattern: /^loo_/, meaning: "Spearman correlation of scores with the leave-one-out retraining change", computedBy: "looCorrelation() in lib/attribution/evaluation/loo.ts" },
  {
    pattern: /^counterfactual_/,
    meaning: "mean test-loss increase after removing the top-k attributed (or k random) examples and retraining",
    computedBy: "counterfactualRemoval() in lib/attribution/evaluation/counterfactual.ts",
  },
  { pattern: /^mislabel_auc_influence/, meaning: "ROC AUC of self-influence for the flipped labels", computedBy: "mislabelAuc() in lib/attribution/evaluation/mislabel.ts" },
  {
    pattern: /^mislabel_auc_/,
    meaning: "ROC AUC of self-influence for the flipped labels of the Factory datanet",
    computedBy: "rocAuc() in factoryContributorsExperiment, lib/attribution/experiments.ts",
  },
  {
    pattern: /^(auc|recall)_ngram$/,
    runner: "lm-datanets",
    meaning: "datanet identification by a model-free text baseline: character-trigram TF-IDF cosine of test text to window text",
    computedBy: "ngramTfidfScores() in lib/attribution/evaluation/ngram.ts, read by datanetIdentification()",
  },
  {
    pattern: /^(auc|recall)_/,
    meaning: "datanet identification: AUC (or top-s recall) of scores for examples of the test point's datanet",
    computedBy: "datanetIdentification() in lib/attribution/evaluation/datanet-id.ts",
  },
  {
    pattern: /^(datainf_quality|lissa_)/,
    meaning: "Pearson correlation with the exact per-layer solve; LiSSA iterations to match DataInf",
    computedBy: "compareDatainfLissa() in lib/attribution/experiments.ts",
  },
  {
    pattern: /^datainf_speedup/,
    meaning: "CPU-time ratio LiSSA / DataInf (a timing: reported, judged against its target by ./lab bench attribution)",
    computedBy: "compareDatainfLissa() in lib/attribution/experiments.ts",
  },
  {
    pattern: /^match_/,
    runner: "lm-datanets",
    meaning: "agreement with exact-match (suffix-array) attribution of the generated outputs: coverage, Spearman of datanet shares, overlap of top documents",
    computedBy: "lmAttribution() in lib/attribution/lm-experiment.ts",
  },
  {
    pattern: /_continuation_nll$/,
    runner: "lm-datanets",
    meaning: "mean −log-likelihood of the held-out continuations given their prompts (nats)",
    computedBy: "FactoryModel.evaluate() in lib/attribution/factory-model.ts",
  },
  {
    pattern: /^test_accuracy$/,
    runner: "factory-contributors",
    meaning: "accuracy of the Model Factory run on its held-out test images",
    computedBy: "runFactory() in lib/intelligence/factory/fine-tune.ts (its final evaluation)",
  },
  { pattern: /accuracy/, meaning: "accuracy on held-out test images", computedBy: "accuracy() in lib/attribution/model.ts" },
  {
    pattern: /^(flipped_fraction|flipper_)/,
    meaning: "share of flipped labels; the label-flipper's rank among contributors by summed influence (1 = lowest)",
    computedBy: "factoryContributorsExperiment() in lib/attribution/experiments.ts",
  },
];

/** The source of an experiment's metric, or undefined when no rule names it. */
export function metricSource(metric: string, runner: string): MetricSource | undefined {
  return METRIC_SOURCES.find((s) => s.pattern.test(metric) && (s.runner === undefined || s.runner === runner));
}
