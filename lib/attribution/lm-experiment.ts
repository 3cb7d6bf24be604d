/**
 * Proof of Attribution on the language model: the Intelligence layer's character-level GPT
 * (fortunes-gpt), LoRA-tuned on three text datanets (the fortunes, literature and riddles files of
 * fortunes-min, two contributors each), attributed by gradients through its own TensorFlow.js
 * forward (factory-model.ts) and, for the same generated text, by exact match (suffix-array.ts).
 *
 * Training examples are the next-token windows the LoRA run trains on (T characters, stride s); a
 * test point is a prompt with a continuation, its value the continuation's log-likelihood given
 * the prompt. Two kinds of test points:
 *   - identification (DataInf's task, Kwon et al. 2024, §4.2): a prompt and its true continuation
 *     from a held-out document of each datanet; do the most influential windows come from the same
 *     datanet? (AUC and recall among the top |D|);
 *   - generated: the LoRA model's own continuation of a held-out prompt, sampled under the seed;
 *     scores roll up to documents, contributors and datanets and sit beside the suffix-array
 *     attribution of the same text (rank agreement of datanet shares, overlap of top documents).
 * Evaluation: LDS over LoRA re-trainings on seeded half subsets (each retrained with the run's
 * seed), and counterfactual removal of the top-k windows against k random ones, retrained.
 */
import type * as tfjs from "@tensorflow/tfjs";
import { loadFortunes } from "../intelligence/datasets/text-corpus.js";
import { initLora, loraConfig, loraForwardOptions } from "../intelligence/lora/index.js";
import type { ForwardOptions, Model, WeightMap } from "../intelligence/models/types.js";
import { baseModel, fortunesTokenizer, loadOrPretrainBase, type PretrainMode } from "../intelligence/models/zoo.js";
import { batchIndices, batchTensors, DEFAULT_OPTIMIZER, learningRate, Optimizer, type TrainData, trainStep } from "../intelligence/train.js";
import { rng as makeRng } from "../random.js";
import { type Aggregate, aggregate, type Provenance } from "./aggregation.js";
import { AttributionError } from "./errors.js";
import { counterfactualRemoval, datanetIdentification, lds, ldsGroundTruth, mean, ngramTfidfScores, sampleSubsets, spearman } from "./evaluation/index.js";
import { experimentGradientStore, type Log, type Metrics } from "./experiments.js";
import { type ArrayTensor, continuationExample, FactoryModel, lmBatch } from "./factory-model.js";
import { sampleText } from "./lm-output.js";
import { SENTENCE_TRANSFORMATIONS, shortSentences, TRANSFORMATION_SEPARATOR } from "./lm-transformations.js";
import { type AttributionTask, type Attributor, DataInf, GradDot, type Scores, TRAK, TracInCP } from "./methods/index.js";
import type { Batch } from "./model.js";
import type { Checkpoint } from "./retrain.js";
import { attributeByMatch, buildIndex } from "./suffix-array.js";

export const LM_DATANET_SOURCES = ["fortunes", "literature", "riddles"] as const;

export interface LmDatanetParams {
  gradientStore?: string;
  seed: number;
  /**
   * Which datanets: "fortunes-files" (one per file of fortunes-min: fortunes, literature, riddles) or
   * "sentence-transformations" (the DataInf paper's ten transformations of the same sentences).
   */
  datanets: "fortunes-files" | "sentence-transformations";
  /** The base model's pretraining budget and seed (fortunes-gpt). */
  pretrain: PretrainMode;
  baseSeed: number;
  /** Training documents per datanet (split between its two contributors), and held-out documents per datanet. */
  documentsPerDatanet: number;
  heldOutPerDatanet: number;
  /** Window stride in characters (windows are the model's block size). */
  stride: number;
  lora: { r: number; alpha: number; targets: string[] };
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  /** Keep a checkpoint every this many steps (TracIn-CP). */
  checkpointEvery: number;
  promptChars: number;
  continuationChars: number;
  /** Held-out prompts per datanet whose generated continuations are attributed side by side with exact match. */
  generatedPerDatanet: number;
  temperature: number;
  trakModels: number;
  trakDim: number;
  /** Added to the diagonal of TRAK's ΦᵀΦ (0: the paper's formula). */
  trakRidge: number;
  ldsSubsets: number;
  counterfactualK: number;
  counterfactualTests: number;
  /** Shortest verbatim span credited by the suffix-array attribution. */
  matchMinLength: number;
  /** Top documents compared between gradient and match attribution. */
  topDocuments: number;
}

/** The training documents and windows of the text datanets. */
export interface LmDatanets {
  datanets: string[];
  contributors: string[];
  /** Every training document, with its datanet and contributor. */
  documents: { text: string; datanet: number; contributor: number }[];
  /** Held-out test texts per datanet, split into prompt and true continuation (never in a training window). */
  heldOut: TestText[][];
  /** n windows of T ids (x) and next ids (y). */
  data: TrainData;
  datanetOf: Int32Array;
  contributorOf: Int32Array;
  /** Training document (index into `documents`) holding the middle of each window. */
  documentOf: Int32Array;
}

interface TestText {
  /** The whole held-out document the test text starts. */
  document: string;
  prompt: string;
  continuation: string;
}

/** One datanet before it is cut into windows: its training documents and held-out test texts. */
interface DatanetText {
  name: string;
  train: string[];
  heldOut: TestText[];
}

type DatanetTextParams = Pick<LmDatanetParams, "seed" | "datanets" | "documentsPerDatanet" | "heldOutPerDatanet" | "promptChars" | "continuationChars">;

function tooFewDocuments(source: string, available: number, p: DatanetTextParams, minHeld: number): AttributionError {
  return new AttributionError({
    code: "lm/too-few-documents",
    message: `${source} has ${available} documents, fewer than ${p.documentsPerDatanet} training and ${p.heldOutPerDatanet} held-out ones of ≥ ${minHeld} characters`,
    hint: "ask for fewer documents per datanet",
    fields: { source, available },
  });
}

/** fortunes-files: one datanet per file of fortunes-min, seeded documents; a test text is a held-out document's start. */
function fileDatanets(p: DatanetTextParams): DatanetText[] {
  const corpus = loadFortunes();
  const minHeld = p.promptChars + p.continuationChars;
  return LM_DATANET_SOURCES.map((source) => {
    const pool = makeRng(p.seed)
      .fork(`lm-datanet:${source}`)
      .shuffle(corpus.documents.filter((_, i) => corpus.sources[i] === source));
    const held = pool.filter((doc) => doc.length >= minHeld).slice(0, p.heldOutPerDatanet);
    const train = pool.filter((doc) => !held.includes(doc)).slice(0, p.documentsPerDatanet);
    if (held.length < p.heldOutPerDatanet || train.length < p.documentsPerDatanet) throw tooFewDocuments(source, pool.length, p, minHeld);
    return {
      name: `fortunes-${source}`,
      train,
      heldOut: held.map((doc) => ({ document: doc, prompt: doc.slice(0, p.promptChars), continuation: doc.slice(p.promptChars, p.promptChars + p.continuationChars) })),
    };
  });
}

/**
 * sentence-transformations: one datanet per transformation of the DataInf paper, each applied to the
 * same seeded short sentences (held-out sentences the same for every datanet); a test text is a
 * held-out sentence with the separator as prompt and its transformation as continuation.
 */
function transformationDatanets(p: DatanetTextParams): DatanetText[] {
  const sentences = makeRng(p.seed)
    .fork("lm-datanet:sentences")
    .shuffle(shortSentences(10, p.promptChars - TRANSFORMATION_SEPARATOR.length));
  if (sentences.length < p.heldOutPerDatanet + p.documentsPerDatanet) throw tooFewDocuments("the short sentences of fortunes-min", sentences.length, p, 10);
  const held = sentences.slice(0, p.heldOutPerDatanet);
  const train = sentences.slice(p.heldOutPerDatanet, p.heldOutPerDatanet + p.documentsPerDatanet);
  return SENTENCE_TRANSFORMATIONS.map((t) => ({
    name: t.name,
    train: train.map((s) => `${s}${TRANSFORMATION_SEPARATOR}${t.apply(s)}`),
    heldOut: held.map((s) => ({ document: `${s}${TRANSFORMATION_SEPARATOR}${t.apply(s)}`, prompt: `${s}${TRANSFORMATION_SEPARATOR}`, continuation: t.apply(s).slice(0, p.continuationChars) })),
  }));
}

const DATANET_TEXTS: Record<LmDatanetParams["datanets"], (p: DatanetTextParams) => DatanetText[]> = {
  "fortunes-files": fileDatanets,
  "sentence-transformations": transformationDatanets,
};

function datanetTexts(p: DatanetTextParams): DatanetText[] {
  const build = DATANET_TEXTS[p.datanets];
  if (!build) {
    throw new AttributionError({
      code: "lm/unknown-datanets",
      message: `datanets "${p.datanets}" names no datanet set`,
      hint: `write datanets: ${Object.keys(DATANET_TEXTS).join(" or ")}`,
      fields: { datanets: String(p.datanets), known: Object.keys(DATANET_TEXTS) },
    });
  }
  return build(p);
}

/**
 * The datanets' documents dealt alternately to two contributors each; each contributor's documents
 * joined by blank lines are cut into windows of T + 1 ids with the given stride.
 */
export function buildLmDatanets(p: DatanetTextParams & Pick<LmDatanetParams, "stride">, T: number, encode: (s: string) => Int32Array): LmDatanets {
  const texts = datanetTexts(p);
  const documents: LmDatanets["documents"] = [];
  const contributors: string[] = [];
  const xs: Int32Array[] = [],
    ys: Int32Array[] = [],
    dn: number[] = [],
    co: number[] = [],
    docOf: number[] = [];
  texts.forEach(({ name, train }, d) => {
    for (const k of [0, 1]) {
      const c = contributors.length;
      contributors.push(`${name.replace(/^fortunes-/, "")}-${k === 0 ? "a" : "b"}`);
      const mine = train.filter((_, i) => i % 2 === k);
      const starts: number[] = [];
      let text = "";
      for (const doc of mine) {
        starts.push(text.length);
        documents.push({ text: doc, datanet: d, contributor: c });
        text += `${doc}\n\n`;
      }
      const first = documents.length - mine.length;
      const ids = encode(text);
      for (let s = 0; s + T + 1 <= ids.length; s += p.stride) {
        xs.push(ids.slice(s, s + T));
        ys.push(ids.slice(s + 1, s + T + 1));
        dn.push(d);
        co.push(c);
        const middle = s + T / 2;
        let j = 0;
        while (j + 1 < starts.length && starts[j + 1] <= middle) j++;
        docOf.push(first + j);
      }
    }
  });
  const n = xs.length;
  const x = new Int32Array(n * T),
    y = new Int32Array(n * T);
  xs.forEach((w, i) => {
    x.set(w, i * T);
    y.set(ys[i], i * T);
  });
  return {
    datanets: texts.map((t) => t.name),
    contributors,
    documents,
    heldOut: texts.map((t) => t.heldOut),
    data: { x, y, n, xShape: [T], yShape: [T] },
    datanetOf: Int32Array.from(dn),
    contributorOf: Int32Array.from(co),
    documentOf: Int32Array.from(docOf),
  };
}

interface LoraRun {
  /** Trained adapter tensors by PEFT key (kept; dispose when done). */
  tensors: WeightMap;
  forwardOptions: ForwardOptions;
  checkpoints: {
    step: number;
    lr: number;
    tensors: Record<string, ArrayTensor>;
  }[];
  finalLoss: number;
}

/** LoRA fine-tuning on the windows `rows` (all by default), seeded: Adam, warm-up then cosine decay. */
function fineTune(model: Model, base: WeightMap, data: TrainData, p: LmDatanetParams, seed: number, rows?: ArrayLike<number>, keepCheckpoints = false): LoraRun {
  const tf = model.tf;
  const adapter = initLora(
    model,
    base,
    loraConfig({
      r: p.lora.r,
      loraAlpha: p.lora.alpha,
      targetModules: p.lora.targets,
    }),
    seed,
  );
  const fwd = loraForwardOptions(adapter);
  const vars: Record<string, tfjs.Variable> = {};
  for (const [k, t] of Object.entries(adapter.tensors)) {
    vars[k] = tf.variable(t, true);
    t.dispose();
  }
  const opt = new Optimizer(tf, { ...DEFAULT_OPTIMIZER, name: "adam", lr: p.lr }, vars);
  const pick = rows ? Array.from(rows) : Array.from({ length: data.n }, (_, i) => i);
  const checkpoints: LoraRun["checkpoints"] = [];
  let finalLoss = NaN;
  for (let s = 0; s < p.steps; s++) {
    const lr = learningRate(p.lr, { kind: "cosine", warmupSteps: p.warmupSteps }, s, p.steps);
    const idx = batchIndices(pick.length, p.batchSize, seed, s).map((i) => pick[i]);
    finalLoss = tf.tidy(() => trainStep(model, base, vars, opt, batchTensors(model, data, idx), lr, fwd, s).loss);
    if (keepCheckpoints && (s + 1) % p.checkpointEvery === 0) {
      checkpoints.push({
        step: s + 1,
        lr,
        tensors: Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, { shape: v.shape, data: v.dataSync() as Float32Array }])),
      });
    }
  }
  opt.dispose();
  const tensors: WeightMap = {};
  for (const [k, v] of Object.entries(vars)) {
    tensors[k] = tf.clone(v);
    v.dispose();
  }
  return { tensors, forwardOptions: fwd, checkpoints, finalLoss };
}

function arrays(tensors: WeightMap): Record<string, ArrayTensor> {
  return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() }]));
}

/** Prompt + continuation test points as one language-model batch. */
export function continuationBatch(pairs: { prompt: Int32Array; continuation: Int32Array }[], T: number): Batch {
  const ex = pairs.map((q) => continuationExample(q.prompt, q.continuation, T));
  const x = new Int32Array(ex.length * T),
    y = new Int32Array(ex.length * T),
    w = new Float64Array(ex.length * T);
  ex.forEach((e, i) => {
    x.set(e.x, i * T);
    y.set(e.y, i * T);
    w.set(e.weights, i * T);
  });
  return lmBatch(x, y, ex.length, T, w);
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
  metrics: Metrics;
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
  lds: Record<string, number>;
  /** Scores of the identification test points (nTest × windows) per method, with their prompts and datanets. */
  identificationScores: Record<string, Scores>;
  identificationTests: { prompt: string; continuation: string; datanet: number }[];
}

const METHOD_KEYS = ["datainf", "tracin_cp", "trak", "grad_cos"] as const;

/** The whole language-model attribution experiment (see the file comment). */
export async function lmAttribution(p: LmDatanetParams, log: Log = () => {}): Promise<LmAttributionResult> {
  const { initTf } = await import("../tf/index.js");
  const { tf } = await initTf({ quiet: true });
  const base = loadOrPretrainBase(tf, "fortunes-gpt", {
    mode: p.pretrain,
    seed: p.baseSeed,
  });
  const model = baseModel(tf, "fortunes-gpt");
  const T = (model.config as { blockSize: number }).blockSize;
  const tokenizer = fortunesTokenizer();
  const dn = buildLmDatanets(p, T, (s) => tokenizer.encode(s));
  const n = dn.data.n;
  log(`LM datanets: ${dn.datanets.join(", ")}; ${dn.documents.length} training documents, ${n} windows of ${T} characters (stride ${p.stride})`);

  const t0 = performance.now();
  const run = fineTune(model, base.weights, dn.data, p, p.seed, undefined, true);
  const trainSeconds = (performance.now() - t0) / 1000;
  const weights = { ...base.weights, ...run.tensors };
  const fwd = run.forwardOptions;
  const fm = new FactoryModel({
    model,
    weights,
    trainable: Object.keys(run.tensors),
    forwardOptions: fwd,
  });
  const params = fm.packWeights(weights);
  const checkpoints: Checkpoint[] = fm.checkpoints(run.checkpoints);
  const train = lmBatch(dn.data.x, dn.data.y, n, T);
  const metrics: Metrics = {
    train_windows: n,
    training_documents: dn.documents.length,
    lora_parameters: fm.numParams,
    checkpoints: checkpoints.length,
    lora_final_train_loss: run.finalLoss,
    lora_train_seconds: trainSeconds,
  };
  log(`LoRA r=${p.lora.r} on ${p.lora.targets.join(", ")}: ${fm.numParams} trainable parameters, ${p.steps} steps in ${trainSeconds.toFixed(1)} s, final loss ${run.finalLoss.toFixed(3)}`);

  // test points: held-out prompts with their true continuation (identification), and with the model's own (generated)
  const enc = (s: string) => tokenizer.encode(s);
  const heldPairs = dn.heldOut.flatMap((texts, d) => texts.map((t) => ({ d, prompt: t.prompt, continuation: t.continuation })));
  const identification = continuationBatch(
    heldPairs.map((q) => ({
      prompt: enc(q.prompt),
      continuation: enc(q.continuation),
    })),
    T,
  );
  const identificationDatanet = Int32Array.from(heldPairs.map((q) => q.d));
  const genPrompts = heldPairs.filter((q, i) => heldPairs.slice(0, i).filter((o) => o.d === q.d).length < p.generatedPerDatanet);
  const generatedText = genPrompts.map((q, i) => sampleText(model as never, weights, fwd, tokenizer, q.prompt, p.continuationChars, p.seed * 1000 + i, p.temperature));
  const generated = continuationBatch(
    genPrompts.map((q, i) => ({
      prompt: enc(q.prompt),
      continuation: enc(generatedText[i]),
    })),
    T,
  );
  // the base model is the adapted one with the LoRA term scaled to zero
  const baseModelView = new FactoryModel({
    model,
    weights,
    trainable: Object.keys(run.tensors),
    forwardOptions: { ...fwd, lora: { scaling: 0 } },
  });
  metrics.base_continuation_nll = mean(baseModelView.evaluate(params, identification));
  metrics.lora_continuation_nll = mean(fm.evaluate(params, identification));
  log(
    `held-out continuations: −log-likelihood ${metrics.base_continuation_nll.toFixed(2)} (base) → ${metrics.lora_continuation_nll.toFixed(2)} (LoRA) nats per continuation of ${p.continuationChars} characters`,
  );

  // TRAK's ensemble: the run and LoRA re-trainings under other seeds
  const ensemble = [{ params }];
  for (let m = 1; m < p.trakModels; m++) {
    const other = fineTune(model, base.weights, dn.data, p, p.seed + m);
    ensemble.push({ params: fm.pack(arrays(other.tensors)) });
    for (const t of Object.values(other.tensors)) t.dispose();
  }
  const store = experimentGradientStore(p.gradientStore);
  const methods: Record<(typeof METHOD_KEYS)[number], Attributor> = {
    datainf: new DataInf(),
    tracin_cp: new TracInCP(),
    trak: new TRAK({
      projectionDim: p.trakDim,
      seed: p.seed,
      ridge: p.trakRidge,
    }),
    grad_cos: new GradDot({ cosine: true }),
  };
  metrics.trak_models = p.trakModels;
  metrics.trak_ridge = p.trakRidge;
  const task = (test: Batch): AttributionTask => ({
    model: fm,
    params,
    train,
    test,
    l2: 0,
    seed: p.seed,
    checkpoints,
    ensemble,
    gradients: store,
  });
  const idScores: Record<string, Scores> = {},
    genScores: Record<string, Scores> = {};
  const identificationOut: LmAttributionResult["identification"] = {};
  for (const key of METHOD_KEYS) {
    const t1 = performance.now();
    idScores[key] = methods[key].attribute(task(identification));
    genScores[key] = methods[key].attribute(task(generated));
    metrics[`seconds_${key}`] = (performance.now() - t1) / 1000;
    const r = datanetIdentification(idScores[key], dn.datanetOf, identificationDatanet);
    identificationOut[key] = { auc: r.auc, recall: r.recall };
    metrics[`auc_${key}`] = r.auc;
    metrics[`recall_${key}`] = r.recall;
    // per datanet of the prompt: a mean AUC near 0.5 can hide one datanet drawing every test point
    dn.datanets.forEach((name, d) => {
      metrics[`auc_${key}_${name.replace(/^fortunes-/, "").replace(/-/g, "_")}`] = mean(Array.from(r.perTestAuc).filter((_, t) => identificationDatanet[t] === d));
    });
    log(`  ${key.padEnd(10)} identification AUC ${r.auc.toFixed(4)}, recall ${r.recall.toFixed(4)} (${metrics[`seconds_${key}`].toFixed(2)} s)`);
  }

  // the same task with no model: character-trigram TF-IDF cosine of each test text (prompt and
  // continuation) to each window's text; near chance too means the datanets are not separable by text
  const windowText = Array.from({ length: n }, (_, i) => tokenizer.decode(dn.data.x.subarray(i * T, (i + 1) * T)) + tokenizer.decode(dn.data.y.subarray((i + 1) * T - 1, (i + 1) * T)));
  const ngram = datanetIdentification(
    ngramTfidfScores(
      windowText,
      heldPairs.map((q) => q.prompt + q.continuation),
      3,
    ),
    dn.datanetOf,
    identificationDatanet,
  );
  metrics.auc_ngram = ngram.auc;
  metrics.recall_ngram = ngram.recall;
  log(`  ${"3-gram".padEnd(10)} identification AUC ${ngram.auc.toFixed(4)}, recall ${ngram.recall.toFixed(4)} (TF-IDF cosine of the texts: no model)`);

  // generated outputs: roll-ups, and side by side with exact match over the same training documents
  const prov: Provenance = {
    datanetOf: dn.datanetOf,
    contributorOf: dn.contributorOf,
    datanets: dn.datanets,
    contributors: dn.contributors,
  };
  const docIds = dn.datanets.map((_, d) => dn.documents.map((doc, i) => (doc.datanet === d ? i : -1)).filter((i) => i >= 0));
  const indexes = docIds.map((ids) => buildIndex(ids.map((i) => enc(dn.documents[i].text))));
  const generatedOut: LmAttributionResult["generated"] = genPrompts.map((q, g) => {
    const match = attributeByMatch(indexes, enc(generatedText[g]), p.matchMinLength);
    const matchDocs = new Float64Array(dn.documents.length);
    match.documentScores.forEach((m, d) => {
      for (const [local, v] of m) matchDocs[docIds[d][local]] += v;
    });
    const total = match.datanetScores.reduce((a, b) => a + b, 0);
    const perMethod: Record<string, { shares: number[]; topDocuments: number[] }> = {};
    for (const key of METHOD_KEYS) {
      const row = genScores[key].data.subarray(g * n, (g + 1) * n);
      const agg = aggregate(row, prov);
      perMethod[key] = {
        shares: agg.datanets.map((x) => x.weight),
        topDocuments: topK(documentScores(row, dn.documentOf, dn.documents.length), p.topDocuments),
      };
    }
    return {
      prompt: q.prompt,
      continuation: generatedText[g],
      datanet: q.d,
      methods: perMethod,
      match: {
        shares: Array.from(match.datanetScores, (v) => (total > 0 ? v / total : 0)),
        topDocuments: topK(matchDocs, p.topDocuments),
        coverage: match.coverage,
      },
    };
  });
  const rollups: Record<string, Aggregate> = {};
  const matched = generatedOut.filter((g) => g.match.coverage > 0);
  metrics.match_coverage = mean(generatedOut.map((g) => g.match.coverage));
  metrics.outputs_with_match = matched.length;
  for (const key of METHOD_KEYS) {
    const meanRow = new Float64Array(n);
    for (let g = 0; g < generatedOut.length; g++) for (let i = 0; i < n; i++) meanRow[i] += genScores[key].data[g * n + i] / generatedOut.length;
    rollups[key] = aggregate(meanRow, prov);
    // rank agreement of datanet shares, and overlap of top documents, with exact match (outputs it covers)
    metrics[`match_share_spearman_${key}`] = matched.length ? mean(matched.map((g) => spearman(g.methods[key].shares, g.match.shares))) : NaN;
    metrics[`match_top_document_overlap_${key}`] = matched.length
      ? mean(
          matched.map((g) => {
            const mine = new Set(g.methods[key].topDocuments);
            return g.match.topDocuments.length ? g.match.topDocuments.filter((d) => mine.has(d)).length / g.match.topDocuments.length : 0;
          }),
        )
      : NaN;
  }
  log(
    `  generated outputs: ${generatedOut.length}, exact-match coverage ${(100 * metrics.match_coverage).toFixed(1)} %; agreement with match (share Spearman / top-${p.topDocuments} document overlap): ` +
      METHOD_KEYS.map((k) => `${k} ${metrics[`match_share_spearman_${k}`].toFixed(2)}/${metrics[`match_top_document_overlap_${k}`].toFixed(2)}`).join(", "),
  );

  // LDS: LoRA re-trained on seeded half subsets, output = log-likelihood of each identification continuation
  const ldsOut: Record<string, number> = {};
  if (p.ldsSubsets > 0) {
    const subsets = sampleSubsets(n, p.ldsSubsets, 0.5, p.seed);
    const t2 = performance.now();
    const gt = ldsGroundTruth(subsets, (s) => {
      const r = fineTune(model, base.weights, dn.data, p, p.seed, s);
      const out = fm.evaluate(fm.pack(arrays(r.tensors)), identification).map((v) => -v);
      for (const t of Object.values(r.tensors)) t.dispose();
      return out;
    });
    metrics.lds_subsets = p.ldsSubsets;
    metrics.lds_retrain_seconds = (performance.now() - t2) / 1000;
    for (const key of METHOD_KEYS) {
      ldsOut[key] = lds(idScores[key], gt).lds;
      metrics[`lds_${key}`] = ldsOut[key];
    }
    log(`  LDS over ${p.ldsSubsets} half-subset re-trainings (${metrics.lds_retrain_seconds.toFixed(1)} s): ${METHOD_KEYS.map((k) => `${k} ${ldsOut[k].toFixed(3)}`).join(", ")}`);
  }

  // counterfactual removal (DataInf's ranking): top-k vs random k windows, retrained
  if (p.counterfactualTests > 0) {
    const cfTests = Array.from({ length: Math.min(p.counterfactualTests, identification.n) }, (_, i) => Math.floor((i * identification.n) / Math.min(p.counterfactualTests, identification.n)));
    const baseNll = fm.evaluate(params, identification);
    const cf = counterfactualRemoval(
      idScores.datainf,
      p.counterfactualK,
      cfTests,
      (removed, t) => {
        const drop = new Set(removed);
        const keep = Array.from({ length: n }, (_, i) => i).filter((i) => !drop.has(i));
        const r = fineTune(model, base.weights, dn.data, p, p.seed, keep);
        const v = fm.evaluate(fm.pack(arrays(r.tensors)), identification)[t];
        for (const t of Object.values(r.tensors)) t.dispose();
        return v;
      },
      (t) => baseNll[t],
      p.seed,
    );
    metrics.counterfactual_k = p.counterfactualK;
    metrics.counterfactual_topk_nll_increase = cf.topK;
    metrics.counterfactual_random_nll_increase = cf.random;
    log(`  counterfactual removal (k=${p.counterfactualK}, ${cfTests.length} continuations): top-k +${cf.topK.toFixed(3)} vs random +${cf.random.toFixed(3)} nats`);
  }
  metrics.gradient_sets_computed = store.misses;
  metrics.gradient_sets_read = store.hits;
  for (const t of Object.values(run.tensors)) t.dispose();
  return {
    metrics,
    datanets: dn,
    generated: generatedOut,
    rollups,
    identification: identificationOut,
    lds: ldsOut,
    identificationScores: idScores,
    identificationTests: heldPairs.map((q) => ({ prompt: q.prompt, continuation: q.continuation, datanet: q.d })),
  };
}

/** The `./lab reproduce lm-datanets` runner: the metrics alone. */
export async function lmDatanetsExperiment(p: LmDatanetParams, log: Log = () => {}): Promise<Metrics> {
  return (await lmAttribution(p, log)).metrics;
}
