/**
 * Attribution layer: Proof of Attribution for the lab's models.
 *
 * model.ts        TraceableModel (dense blocks → per-example gradients as outer products), logistic regression
 * factory-model.ts any Model Factory model (MLP, GPT; LoRA or full) through its own TensorFlow.js forward
 * factory-train.ts the Factory MLP trained for the experiments (full, or LoRA on a frozen base)
 * gradients.ts    batched per-example gradients, projection, hashed on-disk store
 * methods/        Grad-Dot/Cos, TracIn-CP, influence (exact, CG, LiSSA), DataInf, TRAK, and the span scorers
 *                 exact match and ∞-gram over one suffix array of the training windows — one Attributor interface
 * suffix-array.ts exact-match attribution of generated text to datanets; ∞-gram counts
 * lm-output.ts    real generated text: the Factory-tuned fortunes GPT sampled under a seed
 * aggregation.ts  examples → contributors and datanets (positive-influence shares)
 * rewards.ts      fee split, integer payouts, Merkle reward tree
 * onchain.ts      AttributionRegistry record + RewardDistributor epoch and claims
 * evaluation/     LDS (and the harness judging methods side by side with bootstrap intervals), LOO, mislabel AUC,
 *                 datanet identification, counterfactual removal
 * experiments/    the runs behind experiments/attribution/*.yaml (`./lab reproduce NAME`), one file each, in a typed registry
 * metric-sources.ts where each experiment metric is computed, from the registry
 */

export * from "./aggregation.js";
export * from "./errors.js";
export * from "./evaluation/index.js";
export * from "./experiments/index.js";
export * from "./factory-model.js";
export * from "./factory-train.js";
export * from "./fmnist-features.js";
export * from "./gradients.js";
export * from "./linalg.js";
export * from "./lm-output.js";
export * from "./methods/index.js";
export * from "./metric-sources.js";
export * from "./model.js";
export * from "./onchain.js";
export * from "./payouts.js";
export * from "./projection.js";
export * from "./render.js";
export * from "./retrain.js";
export * from "./suffix-array.js";
