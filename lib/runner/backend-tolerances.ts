import type { FigureRule, ToleranceTable } from "./compare-runs.js";

/**
 * How far each recorded figure of notebooks 03–06 in quick mode may move when the notebook runs
 * on WebGPU instead of wasm, same seed and parameters (./lab test --webgpu checks it on Mesa's
 * llvmpipe). Why the figures move at all: WebGPU's shaders sum float32 products in another order
 * than XNNPACK (tiled reductions, fused multiply-adds), so one matrix product differs from wasm's
 * in the last bits (about 1e-6 relative, measured in test/unit/shared/webgpu.test.ts); a training
 * run feeds each step's rounding into the next, so after hundreds of steps weights, losses and
 * the scores computed from them differ more, though far less than the effects the notebooks
 * measure. Discrete results (counts, names, rankings, claims' verdicts, payouts fixed by fees)
 * must agree exactly: a backend that changes them changes the notebook's conclusions.
 */

// --- the rules, each with its reason ------------------------------------------------------------

const EQUAL_COUNT: FigureRule = { kind: "equal", why: "a count or size fixed by the data, the seed and the configuration, not by float arithmetic" };
const EQUAL_FRACTION: FigureRule = { kind: "equal", why: "a ratio of parameter or byte counts: integer arithmetic in JavaScript on both backends" };
const EQUAL_RANKING: FigureRule = { kind: "equal", why: "a ranking or a claim's outcome: the notebook's conclusion, which must not depend on the backend" };
const EQUAL_CHAIN: FigureRule = { kind: "equal", why: "chain state fixed by fees and the number of transactions, not by float arithmetic" };

/** An accuracy on 1,000–10,000 test examples after training on the backend. */
const ACCURACY: FigureRule = {
  kind: "close",
  abs: 0.01,
  why: "test accuracy after training: rounding drift over the steps moves examples that lie on a decision boundary; 1 point is 10–20 examples of the test sets used",
};
/** The difference of two accuracies, in points. */
const ACCURACY_GAP_POINTS: FigureRule = { kind: "close", abs: 2, why: "the difference of two accuracies (in points), each allowed 1 point" };
/** A cross-entropy in nats per character after LoRA or full fine-tuning of the small GPT. */
const LM_LOSS: FigureRule = { kind: "close", abs: 0.02, why: "a language model's loss after 60 training steps: drift of the weights moves it in the third decimal" };
const LM_LOSS_GAP: FigureRule = { kind: "close", abs: 0.04, why: "the difference of two losses, each allowed 0.02 nats" };
/** A numerical-error figure that the notebook bounds with an assertion. */
const errorBound = (bound: number, what: string): FigureRule => ({
  kind: "close",
  abs: bound,
  why: `${what}: float32 rounding, whose size depends on the kernels' summation order; both runs must stay within the notebook's own bound of ${bound}`,
});
/** A rank correlation or AUC of attribution scores against re-trainings or planted labels. */
const ATTRIBUTION_SCORE: FigureRule = {
  kind: "close",
  abs: 0.03,
  why: "a rank correlation or AUC of attribution scores: scores that differ in the last bits swap near-ties; 0.03 is the narrowest quick claim's width in experiments/",
};
/** A mean loss increase after removing examples and re-training. */
const LOSS_INCREASE: FigureRule = { kind: "close", abs: 0.05, why: "a mean loss increase over re-trainings on the backend: each re-training drifts like a training run" };
/** A statistic of a sampled text. */
const SAMPLED_TEXT: FigureRule = {
  kind: "close",
  abs: 0.1,
  why: "a statistic of text sampled from a model trained on the backend: if one draw lands on the other side of a probability boundary, every later token differs",
};

export const WEBGPU_VS_WASM: ToleranceTable = {
  "03-model-factory-lora": [
    { figures: ["datanetSamples"], rule: EQUAL_COUNT },
    // the base model is pretrained on the backend (the webgpu step has a cache of its own)
    { figures: ["baseCleanAccuracy", "baseShiftedAccuracy", "keyFigures.baseShiftedAccuracy"], rule: ACCURACY },
    { figures: ["mergeMaxError"], rule: errorBound(1e-5, "max |adapter forward − merged forward| with random B") },
    { figures: ["trainedMergeMaxError"], rule: errorBound(1e-4, "max |adapter − merged| logits of the trained adapter") },
    {
      figures: ["loraAccuracy", "fullAccuracy", "headAccuracy", "rankSweepBestAccuracy", "keyFigures.loraAccuracy", "keyFigures.fullAccuracy", "keyFigures.headAccuracy"],
      rule: ACCURACY,
    },
    { figures: ["loraGapPoints", "keyFigures.loraGapPoints"], rule: ACCURACY_GAP_POINTS },
    { figures: ["loraTrainableFraction", "lmLoraTrainableFraction", "keyFigures.loraTrainablePercent"], rule: EQUAL_FRACTION },
    { figures: ["lmFullTestLoss", "lmLoraTestLoss"], rule: LM_LOSS },
    { figures: ["lmLoraGapNats", "keyFigures.lmLoraGapNats"], rule: LM_LOSS_GAP },
  ],
  "04-openlora-serving": [
    { figures: ["maxStrategyError", "keyFigures.maxStrategyError"], rule: errorBound(1e-5, "max difference between the serving strategies' logits") },
    {
      figures: ["receiptsRoot"],
      rule: { kind: "excluded", why: "each receipt leaf commits the backend's name (and the tokens sampled from float32 logits)" },
    },
    {
      figures: ["keyFigures.batchedOverMergePerRequest", "keyFigures.batchedOverUnmergedLoop"],
      rule: { kind: "excluded", why: "throughput ratios: timings of the backend, the quantity a faster device changes" },
    },
    { figures: ["keyFigures.mergedCopyOverAdapter"], rule: EQUAL_FRACTION },
    { figures: ["keyFigures.hostHitRateQuarterBudget"], rule: { kind: "equal", why: "a cache simulation over a seeded request stream: no tensor arithmetic" } },
    { figures: ["keyFigures.receiptsSealed", "keyFigures.goodRequestsServed"], rule: EQUAL_COUNT },
  ],
  "05-proof-of-attribution": [
    { figures: ["gradient_store_hits", "lm_lds_subsets"], rule: EQUAL_COUNT },
    { figures: ["top_datanet"], rule: EQUAL_RANKING },
    { figures: ["match_coverage"], rule: SAMPLED_TEXT },
    { figures: ["lm_adapter_sha256"], rule: { kind: "excluded", why: "sha256 of the adapter's float32 weights trained on the backend: one ulp changes it" } },
    // the evaluation table: discrete columns (names, claims, verdicts) are equal by default; the
    // full run's values are read from the specs; this run's values follow the metric
    {
      figures: ["evaluation[*].ours (full run, spec claim)", "evaluation[*].anchor"],
      rule: { kind: "equal", why: "the full run's value and the published anchor, as recorded in the experiment spec: read, not computed" },
    },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "flipper_rank_from_bottom" }, rule: EQUAL_RANKING },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "lissa_iterations" }, rule: EQUAL_COUNT },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "flipped_fraction" }, rule: EQUAL_COUNT },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "test_accuracy" }, rule: ACCURACY },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "lora_accuracy_on_datanets" }, rule: ACCURACY },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "counterfactual_topk_loss_increase" }, rule: LOSS_INCREASE },
    { figures: ["evaluation[*].ours (this quick run)"], where: { metric: "counterfactual_random_loss_increase" }, rule: LOSS_INCREASE },
    // every other metric of the table is an LDS, an AUC, a recall or a quality score in [−1, 1]
    { figures: ["evaluation[*].ours (this quick run)"], rule: ATTRIBUTION_SCORE },
    {
      figures: [
        "lm_identification_auc_datainf",
        "lm_transformations_auc_datainf",
        "lm_transformations_auc_ngram",
        "keyFigures.lr_lds_exact",
        "keyFigures.lr_lds_trak",
        "keyFigures.lr_mislabel_auc",
        "keyFigures.mlp_lds_trak",
        "keyFigures.lora_datainf_auc",
        "keyFigures.lm_datainf_auc",
        "keyFigures.lm_transformations_datainf_auc",
        "keyFigures.lora_datainf_quality",
      ],
      rule: ATTRIBUTION_SCORE,
    },
    {
      figures: ["lm_lds_datainf"],
      rule: {
        kind: "close",
        abs: 0.2,
        why: "Spearman's rank correlation over 4 re-trainings: it moves in steps of 0.2, and one swap of two adjacent re-trainings is allowed",
      },
    },
    { figures: ["lm_counterfactual_topk", "lm_counterfactual_random"], rule: LOSS_INCREASE },
    {
      figures: ["keyFigures.claimed_wei_fraction"],
      rule: { kind: "close", abs: 0.01, why: "the top contributor's share of the data fee: its normalised positive influence, a float computed from the scores" },
    },
  ],
  "06-end-to-end": [
    { figures: ["adapterAccuracy", "keyFigures.adapterAccuracy"], rule: ACCURACY },
    { figures: ["lmValidationLoss"], rule: LM_LOSS },
    { figures: ["lmMatchCoverage[*]"], rule: SAMPLED_TEXT },
    { figures: ["rewardsPaidWei", "dataShareWei", "keyFigures.dataShareEth", "keyFigures.rewardsPaidEth"], rule: EQUAL_CHAIN },
    // one claim per (epoch, contributor with positive influence): the sign of the attribution decides it
    { figures: ["claims", "keyFigures.claims"], rule: EQUAL_RANKING },
    {
      figures: [
        "casesDismissed",
        "derivedBlocksExact",
        "daCertificates",
        "outputsFinalized",
        "keyFigures.paidInferences",
        "keyFigures.l2Blocks",
        "keyFigures.derivedBlocksExact",
        "keyFigures.outputsFinalized",
      ],
      rule: EQUAL_COUNT,
    },
    {
      figures: ["lastOutputRoot"],
      rule: {
        kind: "excluded",
        why: "the L2 state root commits the adapters' sha256 (float32 weights), the attribution evidence hashes and the per-contributor reward amounts (from float influence)",
      },
    },
  ],
};

/** The notebooks the WebGPU proof runs, in order. */
export const WEBGPU_PROOF_NOTEBOOKS = Object.keys(WEBGPU_VS_WASM);
