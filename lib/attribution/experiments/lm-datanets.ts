/**
 * Proof of Attribution on the language model (experiments/attribution/lm-datanets.yaml,
 * lm-transformations.yaml and lm-languages.yaml): the Intelligence layer's GPT (fortunes-gpt over
 * characters, or fortunes-bpe-gpt and fortunes-bpe-gpt-wide over byte-level BPE tokens), LoRA-tuned
 * on text datanets (lm-datanets-data.ts), attributed by gradients through its own TensorFlow.js
 * forward (factory-model.ts) and, for the same generated text, by exact match (suffix-array.ts).
 *
 * Training examples are the next-token windows the LoRA run trains on (T tokens, stride s), or with
 * trainingPoints "documents" the documents themselves, one row each (the DataInf paper's single
 * examples; identification only); a test point is a prompt with a continuation, its value the continuation's log-likelihood given
 * the prompt. Two kinds of test points:
 *   - identification (DataInf's task, Kwon et al. 2024, §4.2): a prompt and its true continuation
 *     from a held-out document of each datanet; do the most influential windows come from the same
 *     datanet? (AUC and recall among the top |D|);
 *   - generated: the LoRA model's own continuation of a held-out prompt, sampled under the seed;
 *     scores roll up to documents, contributors and datanets and sit beside the suffix-array
 *     attribution of the same text (rank agreement of datanet shares, overlap of top documents).
 * Beside the gradient methods, two span scorers read the identification test points against one
 * suffix array over every training window: exact match (methods/span-match.ts) and ∞-gram counts
 * (methods/infini-gram.ts).
 * Evaluation: LDS over LoRA re-trainings on seeded half subsets (each retrained with the run's
 * seed), gradient methods and span scorers on the same re-trainings (evaluation/lds-harness.ts,
 * with bootstrap intervals over test points), and counterfactual removal of the top-k windows
 * against k random ones, retrained.
 */
import { at, defineExperiment, type MetricsOf, type ParamsOf, param } from "../../experiments/index.js";
import { initLora, loraForwardOptions } from "../../intelligence/lora/index.js";
import type { ForwardOptions, Model, WeightMap } from "../../intelligence/models/types.js";
import { BASE_MODELS, type LmTokenizer } from "../../intelligence/models/zoo.js";
import { DEFAULT_OPTIMIZER, type TrainData } from "../../intelligence/train.js";
import { type KeptTensors, releaseVariables, runTrainingLoop, trainableVariables } from "../../intelligence/training-loop.js";
import { type OnProgress, stagedProgress } from "../../progress.js";
import { type JobRef, runJobs } from "../../worker-pool.js";
import { type Aggregate, aggregate, type Provenance } from "../aggregation.js";
import { AttributionError } from "../errors.js";
import {
  counterfactualRemovalSets,
  counterfactualResult,
  datanetIdentification,
  identificationConfusion,
  ldsSideBySide,
  mean,
  ngramTfidfScores,
  quantile,
  sampleSubsets,
  spearman,
} from "../evaluation/index.js";
import { FactoryModel, lmBatch } from "../factory-model.js";
import type { GradientStore } from "../gradients.js";
import { lmLoraRecipe } from "../job-models.js";
import { DEFAULT_LM_BASE, heldLmBase, LM_BASE_MODELS, lmLoraConfig } from "../lm-base.js";
import { sampleTokens } from "../lm-output.js";
import { SENTENCE_POOLS, TRANSFORMATION_PROMPTS } from "../lm-transformations.js";
import { type AttributionTask, type Attributor, checkDampingFactor, DataInf, GradDot, InfiniGram, type Scores, SpanMatch, type SpanScores, spanCorpus, TRAK, TracInCP } from "../methods/index.js";
import type { Batch } from "../model.js";
import type { Checkpoint } from "../retrain.js";
import { attributeByMatch, buildIndex } from "../suffix-array.js";
import { experimentGradientStore, experimentTf, type Log } from "./context.js";
import { buildLmDatanets, continuationBatch, documentMeanWeights, heldOutCount, LM_DATANET_SETS, type LmDatanets, shortDatanetName, TEST_LOSSES, TRAINING_POINTS } from "./lm-datanets-data.js";

const LM_PARAMS = {
  seed: param.int({ min: 0 }),
  datanets: param.oneOf(
    LM_DATANET_SETS,
    "which datanets: one per fortunes-min file, the DataInf paper's ten sentence transformations, or one per language of Debian's fortunes (English, German, Spanish; a BPE base)",
  ),
  base: param.optional(
    param.oneOf(
      LM_BASE_MODELS,
      "the base model: fortunes-gpt (characters; when absent), fortunes-bpe-gpt (byte-level BPE tokens) or fortunes-bpe-gpt-wide (the same tokens, 4 layers, 128 wide, block 64)",
    ),
  ),
  pretrain: param.oneOf(["quick", "full"], "the base model's pretraining budget"),
  baseSeed: param.int({ min: 0, doc: "the base model's pretraining seed" }),
  documentsPerDatanet: param.int({ min: 2, doc: "training documents per datanet (split between its two contributors)" }),
  heldOutPerDatanet: param.int({ min: 1, doc: "held-out documents per datanet" }),
  sentences: param.optional(param.oneOf(SENTENCE_POOLS, "sentence-transformations: the sentences' source, fortunes-min (69 short ones; when absent) or with the full English collection")),
  transformationPrompt: param.optional(
    param.oneOf(
      TRANSFORMATION_PROMPTS,
      "sentence-transformations: a document's prompt, the sentence alone (sentence; when absent) or the transformation's title before it (named), as the DataInf paper's prompt names the transformation",
    ),
  ),
  stride: param.int({ min: 1, doc: "window stride in tokens (characters for fortunes-gpt; windows are the model's block size)" }),
  trainingPoints: param.optional(
    param.oneOf(
      TRAINING_POINTS,
      "the training points: windows of the block size cut every stride tokens from each contributor's joined documents (when absent), or documents (each document one row, left-aligned, its padding counted by neither the LoRA loss nor any attribution gradient; one longer than the block is refused)",
    ),
  ),
  lora: param.record({ r: param.int({ min: 1 }), alpha: param.number({ min: 0 }), targets: param.list(param.text(), { minLength: 1 }) }, "LoRA's rank, alpha and target modules"),
  steps: param.int({ min: 1 }),
  batchSize: param.int({ min: 1 }),
  lr: param.number({ min: 0 }),
  warmupSteps: param.int({ min: 0 }),
  checkpointEvery: param.int({ min: 1, doc: "keep a checkpoint every this many steps (TracIn-CP)" }),
  promptChars: param.int({ min: 1 }),
  continuationChars: param.int({
    min: 1,
    doc: "a continuation's length: characters of a held-out text (cut to fit the block in tokens), tokens sampled for a generated one; at most the base's block (48)",
  }),
  generatedPerDatanet: param.int({ min: 0, doc: "held-out prompts per datanet whose generated continuations are attributed beside exact match" }),
  temperature: param.number({ min: 0 }),
  datainfDamping: param.optional(param.number({ doc: "DataInf's damping factor: λ_l as a multiple of layer l's mean squared gradient entry, > 0 (the paper's 0.1 when absent)" })),
  datainfModels: param.optional(
    param.int({
      min: 1,
      doc: "DataInf's scores averaged over this many adapters: the run's and LoRA re-trainings of the same windows under the next seeds, TRAK's ensemble members (1, the paper's, when absent; a variant)",
    }),
  ),
  datainfGradients: param.optional(
    param.oneOf(["raw", "unit"], "DataInf's per-example gradients: raw (the paper's; when absent) or unit (each scaled to unit length before the per-layer solve, a variant)"),
  ),
  attributedTargets: param.optional(
    param.oneOf(
      ["all", "transformed"],
      "the target tokens a training window's attribution gradient sums its loss over: all (when absent) or, for sentence-transformations, those of the documents' transformed halves",
    ),
  ),
  testLoss: param.optional(
    param.oneOf(
      TEST_LOSSES,
      "the loss of an identification test point the gradient methods attribute: its continuation's (when absent) or its whole document's, prompt included, as the DataInf paper's test gradients",
    ),
  ),
  trakModels: param.int({ min: 1 }),
  trakDim: param.int({ min: 1 }),
  trakRidge: param.number({ min: 0, doc: "added to the diagonal of TRAK's ΦᵀΦ (0: the paper's formula)" }),
  ldsSubsets: param.int({ min: 0, doc: "half-subset re-trainings for LDS (0: none)" }),
  counterfactualK: param.int({ min: 1 }),
  counterfactualTests: param.int({ min: 0, doc: "continuations of the removal test (0: none)" }),
  matchMinLength: param.int({ min: 1, doc: "shortest verbatim span credited by the suffix-array attribution" }),
  topDocuments: param.int({ min: 1, doc: "top documents compared between gradient and match attribution" }),
  gradientStore: param.optional(param.text("the gradient store's folder")),
};

export type LmDatanetParams = ParamsOf<typeof LM_PARAMS>;

/** The gradient methods, by metric key. */
export const LM_METHOD_KEYS = ["datainf", "tracin_cp", "trak", "grad_cos"] as const;
export type LmMethodKey = (typeof LM_METHOD_KEYS)[number];

/** The span scorers over the suffix array of every training window, by metric key. */
export const LM_SPAN_KEYS = ["exact_match", "infini_gram"] as const;
export type LmSpanKey = (typeof LM_SPAN_KEYS)[number];

/** Every scorer the identification task and LDS judge side by side: gradient methods, then span scorers. */
export const LM_SCORER_KEYS = [...LM_METHOD_KEYS, ...LM_SPAN_KEYS] as const;
export type LmScorerKey = (typeof LM_SCORER_KEYS)[number];

const RUN = at("lmAttribution", "attribution/experiments/lm-datanets.ts");
const IDENTIFICATION = at("datanetIdentification", "attribution/evaluation/datanet-id.ts");
const BY_METHOD = { method: LM_METHOD_KEYS };
const BY_SCORER = { method: LM_SCORER_KEYS };
const SPAN_CORPUS = at("spanCorpus", "attribution/methods/span-corpus.ts");

const LM_METRICS = {
  train_windows: { meaning: "training windows", computedBy: at("buildLmDatanets", "attribution/experiments/lm-datanets-data.ts") },
  training_documents: { meaning: "training documents", computedBy: at("buildLmDatanets", "attribution/experiments/lm-datanets-data.ts") },
  lora_parameters: { meaning: "trainable LoRA parameters", computedBy: RUN },
  checkpoints: { meaning: "checkpoints kept for TracIn-CP", computedBy: RUN },
  lora_final_train_loss: { meaning: "training loss of the LoRA run's last step", computedBy: RUN },
  lora_train_seconds: { meaning: "wall seconds of the LoRA run", computedBy: RUN },
  "{model}_continuation_nll": {
    meaning: "mean −log-likelihood of the held-out continuations given their prompts (nats), base model and LoRA model",
    computedBy: at("FactoryModel.evaluate", "attribution/factory-model.ts"),
  },
  trak_models: { meaning: "TRAK's ensemble: the run and re-trainings under other seeds", computedBy: RUN },
  datainf_models: { meaning: "adapters DataInf's scores are averaged over: the run and the first re-trainings of TRAK's ensemble", computedBy: RUN },
  trak_ridge: { meaning: "the ridge added to TRAK's ΦᵀΦ", computedBy: RUN },
  "seconds_{method}": { meaning: "wall seconds of the method's two attributions", computedBy: RUN, values: BY_METHOD },
  "auc_{method}": { meaning: "datanet identification: ROC AUC of scores for windows of the prompt's datanet", computedBy: IDENTIFICATION, values: BY_SCORER },
  "recall_{method}": { meaning: "datanet identification: share of the top-|D| windows from the prompt's datanet", computedBy: IDENTIFICATION, values: BY_SCORER },
  "auc_{method}_{datanet}": { meaning: "datanet identification AUC over the test points of one datanet (mean of their per-test AUCs)", computedBy: IDENTIFICATION, values: BY_SCORER },
  "{measure}_ngram": {
    meaning: "datanet identification by a model-free text baseline: character-trigram TF-IDF cosine of test text to window text",
    computedBy: at("ngramTfidfScores", "attribution/evaluation/ngram.ts"),
    values: { measure: ["auc", "recall"] },
  },
  suffix_array_tokens: { meaning: "tokens (separators included) of the suffix array over every training window", computedBy: SPAN_CORPUS },
  suffix_array_build_seconds: { meaning: "wall seconds to build the suffix array over every training window", computedBy: SPAN_CORPUS },
  "{span}_query_seconds_{stat}": {
    meaning: "wall seconds of one test point's span queries against the suffix array: mean, 95th percentile",
    computedBy: at("scoreTestPoints", "attribution/methods/span-corpus.ts"),
    values: { span: LM_SPAN_KEYS, stat: ["mean", "p95"] },
  },
  match_coverage: { meaning: "share of the generated characters inside verbatim spans of the training documents", computedBy: at("attributeByMatch", "attribution/suffix-array.ts") },
  outputs_with_match: { meaning: "generated outputs holding at least one verbatim span", computedBy: RUN },
  "match_share_spearman_{method}": { meaning: "Spearman correlation of the method's datanet shares with exact match's, over the outputs it covers", computedBy: RUN, values: BY_METHOD },
  "match_top_document_overlap_{method}": { meaning: "overlap of the method's top documents with exact match's, over the outputs it covers", computedBy: RUN, values: BY_METHOD },
  lds_subsets: { meaning: "half-subset re-trainings for LDS", computedBy: RUN },
  lds_retrain_seconds: { meaning: "wall seconds of the LDS re-trainings", computedBy: RUN },
  "lds_{method}": {
    meaning: "linear datamodeling score: Spearman correlation of predicted and retrained outputs over random half subsets, mean over test points",
    computedBy: at("lds", "attribution/evaluation/lds.ts"),
    values: BY_SCORER,
  },
  "lds_{method}_ci95_{bound}": {
    meaning: "bounds of the 95 % percentile-bootstrap interval of the LDS over test points (1000 seeded draws, the same for every method)",
    computedBy: at("ldsSideBySide", "attribution/evaluation/lds-harness.ts"),
    values: { ...BY_SCORER, bound: ["low", "high"] },
  },
  counterfactual_k: { meaning: "windows removed in the counterfactual test", computedBy: RUN },
  "counterfactual_{which}_nll_increase": {
    meaning: "mean increase of the continuation's −log-likelihood after removing the top-k attributed (or k random) windows and retraining",
    computedBy: at("counterfactualRemoval", "attribution/evaluation/counterfactual.ts"),
  },
  gradient_sets_computed: { meaning: "per-example gradient sets computed and written to the store", computedBy: RUN },
  gradient_sets_read: { meaning: "per-example gradient sets read back from the store", computedBy: RUN },
};

export type LmMetrics = MetricsOf<typeof LM_METRICS>;

/** The metric key of a method's identification AUC over one datanet's test points (`auc_datainf_literature`, `auc_grad_cos_star_vowels`). */
export function identificationAucKey(method: LmScorerKey, datanet: string): `auc_${LmScorerKey}_${string}` {
  return `auc_${method}_${shortDatanetName(datanet).replace(/-/g, "_")}`;
}

interface LoraRun {
  /** Trained adapter tensors by PEFT key (kept; dispose when done). */
  tensors: WeightMap;
  forwardOptions: ForwardOptions;
  checkpoints: KeptTensors[];
  finalLoss: number;
}

/** LoRA fine-tuning on the windows `rows` (all by default), seeded: Adam, warm-up then cosine decay; `onProgress` counts its steps. */
async function fineTune(
  model: Model,
  base: WeightMap,
  data: TrainData,
  p: LmDatanetParams,
  seed: number,
  rows?: ArrayLike<number>,
  keepCheckpoints = false,
  onProgress?: OnProgress,
): Promise<LoraRun> {
  const adapter = initLora(model, base, lmLoraConfig(p.lora), seed);
  const forwardOptions = loraForwardOptions(adapter);
  const trainable = trainableVariables(model.tf, adapter.tensors);
  disposeAll(adapter.tensors);
  const run = await runTrainingLoop({
    model,
    frozen: base,
    trainable,
    optimizer: { ...DEFAULT_OPTIMIZER, name: "adam", lr: p.lr },
    data,
    rows,
    batchSize: p.batchSize,
    seed,
    steps: p.steps,
    schedule: { kind: "cosine", warmupSteps: p.warmupSteps },
    forward: forwardOptions,
    keepEvery: keepCheckpoints ? p.checkpointEvery : undefined,
    onStep: onProgress && ((r) => onProgress(r.step, p.steps)),
  });
  return { tensors: releaseVariables(model.tf, trainable), forwardOptions, checkpoints: run.kept, finalLoss: run.lastLoss };
}

function disposeAll(tensors: WeightMap): void {
  for (const t of Object.values(tensors)) t.dispose();
}

/** Per document: the sum of its windows' scores. */
function documentScores(scores: ArrayLike<number>, documentOf: Int32Array, nDocs: number): Float64Array {
  const out = new Float64Array(nDocs);
  for (let i = 0; i < scores.length; i++) out[documentOf[i]] += scores[i];
  return out;
}

function topK(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .filter((i) => values[i] > 0)
    .sort((a, b) => values[b] - values[a])
    .slice(0, k);
}

export interface LmAttributionResult {
  metrics: LmMetrics;
  datanets: LmDatanets;
  /** The generated outputs, with each method's roll-up and the suffix-array attribution. */
  generated: {
    prompt: string;
    continuation: string;
    datanet: number;
    /** Per method: datanet shares W(D) (positive-influence shares) and top documents. */
    methods: Record<string, { shares: number[]; topDocuments: number[] }>;
    match: { shares: number[]; topDocuments: number[]; coverage: number };
  }[];
  /** Mean score over the generated outputs, rolled up, per method. */
  rollups: Record<string, Aggregate>;
  /** Identification task per method. */
  identification: Record<string, { auc: number; recall: number }>;
  /** LDS per scorer (gradient methods and span scorers), and its 95 % bootstrap interval over test points. */
  lds: Record<string, number>;
  ldsIntervals: Record<string, { low: number; high: number }>;
  /** Scores of the identification test points (nTest × windows) per scorer, with their prompts and datanets. */
  identificationScores: Record<string, Scores>;
  identificationTests: { prompt: string; continuation: string; datanet: number }[];
}

/** The base model, its tokenizer and the datanets cut into windows of its block size. */
interface LmSetup {
  p: LmDatanetParams;
  model: Model;
  base: { weights: WeightMap };
  T: number;
  tokenizer: LmTokenizer;
  dn: LmDatanets;
  out: LmMetrics;
  log: Log;
}

/** The LoRA run as an attributable model. */
interface LmAdapter {
  run: LoraRun;
  weights: WeightMap;
  fm: FactoryModel;
  params: Float64Array;
  checkpoints: Checkpoint[];
  train: Batch;
}

/** Held-out prompts with their true continuation (identification) and with the model's own (generated). */
interface LmTestPoints {
  heldPairs: { d: number; prompt: string; continuation: string }[];
  identification: Batch;
  /** The identification test points as the gradient methods attribute them: `identification`, or with the whole document's loss (testLoss). */
  attributed: Batch;
  identificationDatanet: Int32Array;
  genPrompts: { d: number; prompt: string; continuation: string }[];
  generatedText: string[];
  generated: Batch;
}

/**
 * The character model's vocabulary is fortunes-min's characters: it cannot encode German or
 * Spanish text (ä, ñ, ¿), so the languages datanets need the byte-level BPE base, refused
 * before anything loads.
 */
function checkBaseReadsDatanets(p: LmDatanetParams): void {
  const base = p.base ?? DEFAULT_LM_BASE;
  if (p.datanets === "languages" && !BASE_MODELS[base]?.tokenizer) {
    throw new AttributionError({
      code: "lm/base-cannot-read-datanets",
      message: `the languages datanets hold German and Spanish text, which ${base}'s character vocabulary (fortunes-min's) cannot encode`,
      hint: "set base: fortunes-bpe-gpt or fortunes-bpe-gpt-wide (byte-level BPE encodes any text)",
      fields: { datanets: p.datanets, base },
    });
  }
}

/** Only the sentence transformations have transformed halves to attribute by; refused before anything loads. */
function checkAttributedTargets(p: LmDatanetParams): void {
  if (p.attributedTargets === "transformed" && p.datanets !== "sentence-transformations") {
    throw new AttributionError({
      code: "lm/no-transformed-targets",
      message: `attributedTargets "transformed" needs the sentence-transformations datanets; ${p.datanets} documents have no transformed half`,
      hint: "leave attributedTargets unset (or all), or set datanets: sentence-transformations",
      fields: { datanets: p.datanets, attributedTargets: p.attributedTargets },
    });
  }
}

/** Only the sentence transformations have a transformation for the prompt to name; refused before anything loads. */
function checkTransformationPrompt(p: LmDatanetParams): void {
  if (p.transformationPrompt === "named" && p.datanets !== "sentence-transformations") {
    throw new AttributionError({
      code: "lm/no-transformation-to-name",
      message: `transformationPrompt "named" needs the sentence-transformations datanets; ${p.datanets} documents have no transformation to name`,
      hint: "leave transformationPrompt unset (or sentence), or set datanets: sentence-transformations",
      fields: { datanets: p.datanets, transformationPrompt: p.transformationPrompt },
    });
  }
}

/**
 * LDS and counterfactual removal re-train on subsets of the training windows and judge scores
 * against the continuations' NLL; a param value that changes either (the whole document's test
 * loss, documents as training points) is measured by identification only, and with LDS or
 * removal asked for is refused before anything loads.
 */
function checkIdentificationOnly(p: LmDatanetParams, code: string, setting: Record<string, string>, hint: string): void {
  if (p.ldsSubsets === 0 && p.counterfactualTests === 0) return;
  const [[name, value]] = Object.entries(setting);
  throw new AttributionError({
    code,
    message: `${name} "${value}" is measured by identification only, but LDS (ldsSubsets ${p.ldsSubsets}) and counterfactual removal (counterfactualTests ${p.counterfactualTests}) were asked for`,
    hint: `set ldsSubsets: 0 and counterfactualTests: 0 with ${name} ${value}, or ${hint}`,
    fields: { ...setting, ldsSubsets: p.ldsSubsets, counterfactualTests: p.counterfactualTests },
  });
}

/** Stage "datanets": the base model (loaded or pretrained) and the datanets' windows. */
async function setUp(p: LmDatanetParams, log: Log): Promise<LmSetup> {
  if (p.datainfDamping !== undefined) checkDampingFactor(p.datainfDamping);
  checkBaseReadsDatanets(p);
  checkAttributedTargets(p);
  checkTransformationPrompt(p);
  if (p.testLoss === "document") checkIdentificationOnly(p, "lm/test-loss-not-judged", { testLoss: p.testLoss }, "leave testLoss unset (continuation)");
  if (p.trainingPoints === "documents") checkIdentificationOnly(p, "lm/training-points-not-judged", { trainingPoints: p.trainingPoints }, "leave trainingPoints unset (windows)");
  const tf = await experimentTf();
  const { name, model, weights, tokenizer, blockSize: T } = await heldLmBase(tf, p);
  const base = { weights };
  const dn = buildLmDatanets(p, T, (s) => tokenizer.encode(s));
  const points = p.trainingPoints === "documents" ? `${dn.data.n} rows of ${T} tokens of ${name}, one per document` : `${dn.data.n} windows of ${T} tokens of ${name} (stride ${p.stride})`;
  log(`LM datanets: ${dn.datanets.join(", ")}; ${dn.documents.length} training documents, ${points}`);
  return { p, model, base, T, tokenizer, dn, out: {} as LmMetrics, log };
}

/** Stage "fine-tune": the LoRA run with its kept checkpoints, as a FactoryModel over the adapter's parameters. */
async function trainAdapter({ p, model, base, T, dn, out, log }: LmSetup, onProgress?: OnProgress): Promise<LmAdapter> {
  const t0 = performance.now();
  const run = await fineTune(model, base.weights, dn.data, p, p.seed, undefined, true, onProgress);
  const trainSeconds = (performance.now() - t0) / 1000;
  const weights = { ...base.weights, ...run.tensors };
  // with its recipe, TRAK's members (and any LiSSA chain) run as worker jobs that rebuild it on the base
  const fm = new FactoryModel({ model, weights, trainable: Object.keys(run.tensors), forwardOptions: run.forwardOptions, recipe: lmLoraRecipe(p, p.lora) });
  const checkpoints = fm.checkpoints(run.checkpoints);
  out.train_windows = dn.data.n;
  out.training_documents = dn.documents.length;
  out.lora_parameters = fm.numParams;
  out.checkpoints = checkpoints.length;
  out.lora_final_train_loss = run.finalLoss;
  out.lora_train_seconds = trainSeconds;
  log(`LoRA r=${p.lora.r} on ${p.lora.targets.join(", ")}: ${fm.numParams} trainable parameters, ${p.steps} steps in ${trainSeconds.toFixed(1)} s, final loss ${run.finalLoss.toFixed(3)}`);
  // the training points as attributed: every target token (a window's mean, or a document's own
  // tokens' mean, padding at 0), or only the transformed halves' (attributedTargets)
  const mask = dn.data.lossMask;
  const targets = p.attributedTargets === "transformed" ? dn.transformedTargets : mask ? documentMeanWeights(mask, dn.data.n, T) : undefined;
  return { run, weights, fm, params: await fm.readParams(weights), checkpoints, train: lmBatch(dn.data.x, dn.data.y, dn.data.n, T, targets) };
}

/** Stage "test points": identification pairs, generated continuations (sampled under the seed), and both models' −log-likelihood. */
async function testPoints({ p, model, T, tokenizer, dn, out, log }: LmSetup, a: LmAdapter): Promise<LmTestPoints> {
  const enc = (s: string) => tokenizer.encode(s);
  const fwd = a.run.forwardOptions;
  const heldPairs = dn.heldOut.flatMap((texts, d) => texts.map((t) => ({ d, prompt: t.prompt, continuation: t.continuation })));
  const identification = continuationBatch(
    heldPairs.map((q) => ({ prompt: enc(q.prompt), continuation: enc(q.continuation) })),
    T,
  );
  const genPrompts = heldPairs.filter((q, i) => heldPairs.slice(0, i).filter((o) => o.d === q.d).length < p.generatedPerDatanet);
  // scored by the ids sampled: a BPE sample's text can re-encode to more tokens than the block holds
  const generatedIds: Int32Array[] = [];
  for (const [i, q] of genPrompts.entries()) generatedIds.push(await sampleTokens(model, a.weights, fwd, tokenizer, q.prompt, p.continuationChars, p.seed * 1000 + i, p.temperature));
  const generatedText = generatedIds.map((ids) => tokenizer.decode(ids));
  const generated = continuationBatch(
    genPrompts.map((q, i) => ({ prompt: enc(q.prompt), continuation: generatedIds[i] })),
    T,
  );
  // the base model is the adapted one with the LoRA term scaled to zero
  const baseView = new FactoryModel({ model, weights: a.weights, trainable: Object.keys(a.run.tensors), forwardOptions: { ...fwd, lora: { scaling: 0 } } });
  out.base_continuation_nll = mean(await baseView.evaluate(a.params, identification));
  out.lora_continuation_nll = mean(await a.fm.evaluate(a.params, identification));
  log(
    `held-out continuations: −log-likelihood ${out.base_continuation_nll.toFixed(2)} (base) → ${out.lora_continuation_nll.toFixed(2)} (LoRA) nats per continuation (up to ${p.continuationChars} characters held out)`,
  );
  // what the gradient methods attribute: the continuations' loss, or the whole documents' (testLoss)
  const attributed =
    p.testLoss === "document"
      ? continuationBatch(
          heldPairs.map((q) => ({ prompt: enc(q.prompt), continuation: enc(q.continuation) })),
          T,
          "document",
        )
      : identification;
  return { heldPairs, identification, attributed, identificationDatanet: Int32Array.from(heldPairs.map((q) => q.d)), genPrompts, generatedText, generated };
}

/** A LoRA re-training as a worker job: the seed, the windows to train on (all when absent), and the continuations to score, if any. */
export interface LmRetrainSpec {
  p: LmDatanetParams;
  data: TrainData;
  seed: number;
  rows?: ArrayLike<number>;
  /** Continuations whose −log-likelihood the job answers; absent: it answers the adapter's parameter vector. */
  evaluate?: Batch;
}

/**
 * The job: LoRA fine-tuning of the base (read from the cache) on the spec's windows under its
 * seed; the continuations' −log-likelihood under the result, or its parameter vector.
 */
export async function lmRetrainJob(spec: LmRetrainSpec): Promise<Float64Array> {
  const { p } = spec;
  const { model, weights } = await heldLmBase(await experimentTf(), p);
  const r = await fineTune(model, weights, spec.data, p, spec.seed, spec.rows);
  const fm = new FactoryModel({ model, weights: { ...weights, ...r.tensors }, trainable: Object.keys(r.tensors), forwardOptions: r.forwardOptions });
  const params = await fm.readParams(r.tensors);
  const answer = spec.evaluate ? await fm.evaluate(params, spec.evaluate) : params;
  disposeAll(r.tensors);
  return answer;
}

const LM_RETRAIN: JobRef = { module: import.meta.url, name: "lmRetrainJob", local: lmRetrainJob };

/** Adapters trained for the ensemble: the run's and re-trainings under the next seeds, as many as TRAK's ensemble or DataInf's average takes. */
function ensembleSize(p: LmDatanetParams): number {
  return Math.max(p.trakModels, p.datainfModels ?? 1);
}

/**
 * Stage "methods": the ensemble (the run and LoRA re-trainings under other seeds, one job each;
 * TRAK's members, and the adapters DataInf averages over), then each method's scores and
 * identification; `onProgress` counts the re-trainings, then the methods.
 */
async function attributeMethods(s: LmSetup, a: LmAdapter, tp: LmTestPoints, store: GradientStore, onProgress?: OnProgress) {
  const { p, dn, out } = s;
  const retrainings = ensembleSize(p) - 1;
  const parts = retrainings + LM_METHOD_KEYS.length;
  const members = await runJobs<LmRetrainSpec, Float64Array>(
    LM_RETRAIN,
    Array.from({ length: retrainings }, (_, m) => ({ p, data: dn.data, seed: p.seed + 1 + m })),
    { onProgress: onProgress && ((done) => onProgress(done, parts, `${done} of ${retrainings} ensemble re-trainings`)) },
  );
  const ensemble = [{ params: a.params }, ...members.map((params) => ({ params }))];
  const methods: Record<LmMethodKey, Attributor> = {
    datainf: new DataInf({ dampingFactor: p.datainfDamping, unitGradients: p.datainfGradients === "unit", models: p.datainfModels }),
    tracin_cp: new TracInCP(),
    trak: new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: p.trakRidge }),
    grad_cos: new GradDot({ cosine: true }),
  };
  out.trak_models = p.trakModels;
  out.trak_ridge = p.trakRidge;
  out.datainf_models = p.datainfModels ?? 1;
  // TRAK takes its own members of the ensemble; DataInf the first datainfModels of them
  const task = (test: Batch, key: LmMethodKey): AttributionTask => ({
    model: a.fm,
    params: a.params,
    train: a.train,
    test,
    l2: 0,
    seed: p.seed,
    checkpoints: a.checkpoints,
    ensemble: key === "trak" ? ensemble.slice(0, p.trakModels) : ensemble,
    gradients: store,
  });
  const idScores = {} as Record<LmMethodKey, Scores>,
    genScores: Record<string, Scores> = {};
  const identification: LmAttributionResult["identification"] = {};
  for (const [k, key] of LM_METHOD_KEYS.entries()) {
    const t1 = performance.now();
    idScores[key] = await methods[key].attribute(task(tp.attributed, key));
    genScores[key] = await methods[key].attribute(task(tp.generated, key));
    out[`seconds_${key}`] = (performance.now() - t1) / 1000;
    identification[key] = identify(s, tp, key, idScores[key], `${out[`seconds_${key}`].toFixed(2)} s`);
    onProgress?.(retrainings + k + 1, parts, `${key} scored`);
  }
  return { idScores, genScores, identification };
}

/** The identification task read from one scorer's scores of the identification test points: AUC, recall, AUC per datanet. */
function identify({ dn, out, log }: LmSetup, tp: LmTestPoints, key: LmScorerKey, scores: Scores, note: string): { auc: number; recall: number } {
  const r = datanetIdentification(scores, dn.datanetOf, tp.identificationDatanet);
  out[`auc_${key}`] = r.auc;
  out[`recall_${key}`] = r.recall;
  // per datanet of the prompt: a mean AUC near 0.5 can hide one datanet drawing every test point
  dn.datanets.forEach((name, d) => {
    out[identificationAucKey(key, name)] = mean(Array.from(r.perTestAuc).filter((_, t) => tp.identificationDatanet[t] === d));
  });
  log(`  ${key.padEnd(10)} identification AUC ${r.auc.toFixed(4)}, recall ${r.recall.toFixed(4)} (${note})`);
  // which datanets the test points are taken for (the highest mean score), where not their own;
  // gradient methods only: a span scorer's many zero scores tie, and a tie names no datanet
  if (!(LM_METHOD_KEYS as readonly string[]).includes(key)) return { auc: r.auc, recall: r.recall };
  const confusion = identificationConfusion(scores, dn.datanetOf, tp.identificationDatanet, dn.datanets.length);
  const short = dn.datanets.map(shortDatanetName);
  const mistaken = confusion.flatMap((row, d) => {
    const others = row.flatMap((n, e) => (e !== d && n > 0 ? [`${short[e]} ${n}`] : []));
    return others.length ? [`${short[d]} (${row[d]}/${row.reduce((a, b) => a + b, 0)}) → ${others.join(", ")}`] : [];
  });
  if (mistaken.length) log(`    taken for another datanet (highest mean score): ${mistaken.join("; ")}`);
  return { auc: r.auc, recall: r.recall };
}

/**
 * Stage "span attribution": one suffix array over every training window (timed), then the
 * identification test points scored by exact match and by ∞-gram counts against it (each test
 * point's queries timed), identified like the gradient methods' scores.
 */
async function attributeSpans(s: LmSetup, a: LmAdapter, tp: LmTestPoints, identification: LmAttributionResult["identification"]): Promise<Record<LmSpanKey, SpanScores>> {
  const { p, out, log } = s;
  const t0 = performance.now();
  const corpus = spanCorpus(a.train);
  out.suffix_array_build_seconds = (performance.now() - t0) / 1000;
  out.suffix_array_tokens = corpus.index.text.length;
  log(`  suffix array over all ${corpus.nTrain} training windows: ${corpus.index.text.length} tokens in ${out.suffix_array_build_seconds.toFixed(3)} s`);
  const scorers = { exact_match: new SpanMatch({ corpus, minLength: p.matchMinLength }), infini_gram: new InfiniGram({ corpus }) };
  const task: AttributionTask = { model: a.fm, params: a.params, train: a.train, test: tp.identification, l2: 0 };
  const spanScores = {} as Record<LmSpanKey, SpanScores>;
  for (const key of LM_SPAN_KEYS) {
    const scores = await scorers[key].attribute(task);
    spanScores[key] = scores;
    out[`${key}_query_seconds_mean`] = mean(scores.querySeconds);
    out[`${key}_query_seconds_p95`] = quantile(scores.querySeconds, 0.95);
    identification[key] = identify(s, tp, key, scores, `${(1000 * out[`${key}_query_seconds_mean`]).toFixed(2)} ms per test point`);
  }
  return spanScores;
}

/**
 * Stage "text baseline": the same task with no model, character-trigram TF-IDF cosine of each test
 * text (prompt and continuation) to each window's text; near chance too means the datanets are not
 * separable by text.
 */
function ngramBaseline({ T, tokenizer, dn, out, log }: LmSetup, tp: LmTestPoints): void {
  const windowText = Array.from({ length: dn.data.n }, (_, i) => tokenizer.decode(dn.data.x.subarray(i * T, (i + 1) * T)) + tokenizer.decode(dn.data.y.subarray((i + 1) * T - 1, (i + 1) * T)));
  const ngram = datanetIdentification(
    ngramTfidfScores(
      windowText,
      tp.heldPairs.map((q) => q.prompt + q.continuation),
      3,
    ),
    dn.datanetOf,
    tp.identificationDatanet,
  );
  out.auc_ngram = ngram.auc;
  out.recall_ngram = ngram.recall;
  log(`  ${"3-gram".padEnd(10)} identification AUC ${ngram.auc.toFixed(4)}, recall ${ngram.recall.toFixed(4)} (TF-IDF cosine of the texts: no model)`);
}

/** Stage "generated outputs": each output's roll-ups beside exact match over the same training documents, and the agreement. */
function generatedBesideMatch({ p, tokenizer, dn, out, log }: LmSetup, tp: LmTestPoints, genScores: Record<string, Scores>) {
  const enc = (s: string) => tokenizer.encode(s);
  const n = dn.data.n;
  const prov: Provenance = { datanetOf: dn.datanetOf, contributorOf: dn.contributorOf, datanets: dn.datanets, contributors: dn.contributors };
  const docIds = dn.datanets.map((_, d) => dn.documents.map((doc, i) => (doc.datanet === d ? i : -1)).filter((i) => i >= 0));
  const indexes = docIds.map((ids) => buildIndex(ids.map((i) => enc(dn.documents[i].text))));
  const generated: LmAttributionResult["generated"] = tp.genPrompts.map((q, g) => {
    const match = attributeByMatch(indexes, enc(tp.generatedText[g]), p.matchMinLength);
    const matchDocs = new Float64Array(dn.documents.length);
    match.documentScores.forEach((m, d) => {
      for (const [local, v] of m) matchDocs[docIds[d][local]] += v;
    });
    const total = match.datanetScores.reduce((s, v) => s + v, 0);
    const perMethod: Record<string, { shares: number[]; topDocuments: number[] }> = {};
    for (const key of LM_METHOD_KEYS) {
      const row = genScores[key].data.subarray(g * n, (g + 1) * n);
      perMethod[key] = {
        shares: aggregate(row, prov).datanets.map((x) => x.weight),
        topDocuments: topK(documentScores(row, dn.documentOf, dn.documents.length), p.topDocuments),
      };
    }
    return {
      prompt: q.prompt,
      continuation: tp.generatedText[g],
      datanet: q.d,
      methods: perMethod,
      match: { shares: Array.from(match.datanetScores, (v) => (total > 0 ? v / total : 0)), topDocuments: topK(matchDocs, p.topDocuments), coverage: match.coverage },
    };
  });
  const rollups: Record<string, Aggregate> = {};
  const matched = generated.filter((g) => g.match.coverage > 0);
  out.match_coverage = mean(generated.map((g) => g.match.coverage));
  out.outputs_with_match = matched.length;
  const overlap = (g: (typeof generated)[number], key: LmMethodKey) => {
    const mine = new Set(g.methods[key].topDocuments);
    return g.match.topDocuments.length ? g.match.topDocuments.filter((d) => mine.has(d)).length / g.match.topDocuments.length : 0;
  };
  for (const key of LM_METHOD_KEYS) {
    const meanRow = new Float64Array(n);
    for (let g = 0; g < generated.length; g++) for (let i = 0; i < n; i++) meanRow[i] += genScores[key].data[g * n + i] / generated.length;
    rollups[key] = aggregate(meanRow, prov);
    // rank agreement of datanet shares, and overlap of top documents, with exact match (outputs it covers)
    out[`match_share_spearman_${key}`] = matched.length ? mean(matched.map((g) => spearman(g.methods[key].shares, g.match.shares))) : NaN;
    out[`match_top_document_overlap_${key}`] = matched.length ? mean(matched.map((g) => overlap(g, key))) : NaN;
  }
  log(
    `  generated outputs: ${generated.length}, exact-match coverage ${(100 * out.match_coverage).toFixed(1)} %; agreement with match (share Spearman / top-${p.topDocuments} document overlap): ` +
      LM_METHOD_KEYS.map((k) => `${k} ${out[`match_share_spearman_${k}`].toFixed(2)}/${out[`match_top_document_overlap_${k}`].toFixed(2)}`).join(", "),
  );
  return { generated, rollups };
}

/** The identification continuations' −log-likelihood under LoRA re-trainings (the run's seed) on each set of rows, one job each. */
function retrainedNll({ p, dn }: LmSetup, identification: Batch, rowSets: ArrayLike<number>[], onProgress?: OnProgress): Promise<Float64Array[]> {
  return runJobs<LmRetrainSpec, Float64Array>(
    LM_RETRAIN,
    rowSets.map((rows) => ({ p, data: dn.data, seed: p.seed, rows, evaluate: identification })),
    { onProgress },
  );
}

/**
 * Stage "LDS": LoRA re-trained on seeded half subsets, output = log-likelihood of each
 * identification continuation; every scorer, gradient and span, judged on these re-trainings.
 */
async function ldsStage(s: LmSetup, tp: LmTestPoints, scores: Record<LmScorerKey, Scores>, onProgress?: OnProgress): Promise<Pick<LmAttributionResult, "lds" | "ldsIntervals">> {
  const { p, dn, out, log } = s;
  const result: Pick<LmAttributionResult, "lds" | "ldsIntervals"> = { lds: {}, ldsIntervals: {} };
  if (p.ldsSubsets <= 0) return result;
  const subsets = sampleSubsets(dn.data.n, p.ldsSubsets, 0.5, p.seed);
  const t2 = performance.now();
  const gt = { subsets, outputs: (await retrainedNll(s, tp.identification, subsets, onProgress)).map((nll) => nll.map((v) => -v)) };
  out.lds_subsets = p.ldsSubsets;
  out.lds_retrain_seconds = (performance.now() - t2) / 1000;
  const reports = ldsSideBySide(scores, gt, { seed: p.seed });
  for (const key of LM_SCORER_KEYS) {
    const r = reports[key];
    result.lds[key] = r.lds;
    result.ldsIntervals[key] = { low: r.low, high: r.high };
    out[`lds_${key}`] = r.lds;
    out[`lds_${key}_ci95_low`] = r.low;
    out[`lds_${key}_ci95_high`] = r.high;
  }
  log(
    `  LDS over ${p.ldsSubsets} half-subset re-trainings (${out.lds_retrain_seconds.toFixed(1)} s), 95 % intervals over test points: ` +
      LM_SCORER_KEYS.map((k) => `${k} ${reports[k].lds.toFixed(3)} [${reports[k].low.toFixed(3)}, ${reports[k].high.toFixed(3)}]`).join(", "),
  );
  return result;
}

/** Stage "counterfactual": DataInf's top-k windows removed against k random ones, retrained (two jobs per continuation). */
async function counterfactualStage(s: LmSetup, a: LmAdapter, tp: LmTestPoints, idScores: Record<string, Scores>, onProgress?: OnProgress): Promise<void> {
  const { p, dn, out, log } = s;
  if (p.counterfactualTests <= 0) return;
  const n = dn.data.n;
  const tests = Math.min(p.counterfactualTests, tp.identification.n);
  const cfTests = Array.from({ length: tests }, (_, i) => Math.floor((i * tp.identification.n) / tests));
  const baseNll = await a.fm.evaluate(a.params, tp.identification);
  const sets = counterfactualRemovalSets(idScores.datainf, p.counterfactualK, cfTests, p.seed);
  const keepAllBut = (removed: number[]) => {
    const drop = new Set(removed);
    return Array.from({ length: n }, (_, i) => i).filter((i) => !drop.has(i));
  };
  const nll = await retrainedNll(
    s,
    tp.identification,
    sets.flatMap(({ top, random }) => [keepAllBut(top), keepAllBut(random)]),
    onProgress,
  );
  const cf = counterfactualResult(
    p.counterfactualK,
    sets,
    sets.map(({ t }, j) => ({ top: nll[2 * j][t], random: nll[2 * j + 1][t] })),
    (t) => baseNll[t],
  );
  out.counterfactual_k = p.counterfactualK;
  out.counterfactual_topk_nll_increase = cf.topK;
  out.counterfactual_random_nll_increase = cf.random;
  log(`  counterfactual removal (k=${p.counterfactualK}, ${cfTests.length} continuations): top-k +${cf.topK.toFixed(3)} vs random +${cf.random.toFixed(3)} nats`);
}

/** The stages of `lmAttribution`, in order, as its progress names them. */
export const LM_ATTRIBUTION_STAGES = ["set up", "adapter training", "test points", "attribution methods", "n-gram baseline", "span attribution", "generated outputs", "LDS", "counterfactual"] as const;

/**
 * The progress units of `lmAttribution`'s stages: one each (the adapter's training too, its steps
 * shown beside the count), but one per LoRA re-training (the ensemble's members, LDS's half
 * subsets, the counterfactual's removals), as long as the adapter's own training, and one per
 * attribution method scored.
 */
export function lmAttributionUnits(p: LmDatanetParams): number[] {
  const units: Record<string, number> = {
    "attribution methods": ensembleSize(p) - 1 + LM_METHOD_KEYS.length,
    LDS: p.ldsSubsets,
    counterfactual: 2 * Math.min(p.counterfactualTests, heldOutCount(p)),
  };
  return LM_ATTRIBUTION_STAGES.map((stage) => units[stage] ?? 1);
}

/**
 * The whole language-model attribution experiment (see the file comment), stage by stage;
 * `onProgress` counts the units done (lmAttributionUnits): a stage's name as it starts, then each
 * re-training or method as it finishes ("LDS: 2 of 4 re-trainings"), and the adapter's training
 * steps beside the count; a stage with no re-training to do (LDS with ldsSubsets 0) is not reported.
 */
export async function lmAttribution(p: LmDatanetParams, log: Log = () => {}, onProgress?: OnProgress): Promise<LmAttributionResult> {
  const units = lmAttributionUnits(p);
  const progress = stagedProgress(
    onProgress,
    LM_ATTRIBUTION_STAGES.map((name, i) => ({ name, units: units[i] })),
  );
  await progress.start(0);
  const s = await setUp(p, log);
  await progress.start(1);
  const a = await trainAdapter(s, progress.steps(1, "steps"));
  await progress.start(2);
  const tp = await testPoints(s, a);
  await progress.start(3);
  const store = experimentGradientStore(p.gradientStore);
  const { idScores, genScores, identification } = await attributeMethods(s, a, tp, store, progress.within(3, "parts"));
  await progress.start(4);
  ngramBaseline(s, tp);
  await progress.start(5);
  const scores: Record<LmScorerKey, Scores> = { ...idScores, ...(await attributeSpans(s, a, tp, identification)) };
  await progress.start(6);
  const { generated, rollups } = generatedBesideMatch(s, tp, genScores);
  await progress.start(7);
  const ldsOut = await ldsStage(s, tp, scores, progress.within(7, "re-trainings"));
  await progress.start(8);
  await counterfactualStage(s, a, tp, idScores, progress.within(8, "re-trainings"));
  progress.end();
  s.out.gradient_sets_computed = store.misses;
  s.out.gradient_sets_read = store.hits;
  disposeAll(a.run.tensors);
  return {
    metrics: s.out,
    datanets: s.dn,
    generated,
    rollups,
    identification,
    ...ldsOut,
    identificationScores: scores,
    identificationTests: tp.heldPairs.map((q) => ({ prompt: q.prompt, continuation: q.continuation, datanet: q.d })),
  };
}

/** The `./lab reproduce lm-datanets` runner: the metrics alone. */
export async function lmDatanetsExperiment(p: LmDatanetParams, log: Log = () => {}): Promise<LmMetrics> {
  return (await lmAttribution(p, log)).metrics;
}

export const LM_DATANETS = defineExperiment({
  name: "lm-datanets",
  summary: "gradient attribution of the LoRA-tuned language model (DataInf, TracIn-CP, TRAK, Grad-Cos) beside exact match and ∞-gram span scorers",
  params: LM_PARAMS,
  metrics: LM_METRICS,
  run: lmDatanetsExperiment,
});
