/**
 * The attribution experiments behind experiments/attribution/*.yaml. Each takes its parameters
 * from the spec, is fully seeded, and returns named metrics that the spec's claims are checked
 * against (`./lab reproduce NAME`). Data: Fashion-MNIST from Debian's dataset-fashion-mnist.
 */

import { cacheDir } from "../cache.js";
import { fromRoot } from "../files.js";
import { cachedStep } from "../step-cache.js";
import { AttributionError } from "./errors.js";
import { counterfactualRemoval, datanetIdentification, flipLabels, lds, ldsGroundTruth, looCorrelation, mislabelAuc, pearson, sampleSubsets } from "./evaluation/index.js";
import type { FactoryModel } from "./factory-model.js";
import { attributionMlp, type FactoryTrainOptions, retrainParams, trainLoraMlp, trainMlp } from "./factory-train.js";
import { FASHION_CLASSES, type Sample, sampleFashion } from "./fmnist-features.js";
import { type BlockSpan, type GradientSet, GradientStore } from "./gradients.js";
import {
  type AttributionTask,
  type Attributor,
  CGInfluence,
  DataInf,
  datainfGroups,
  ExactInfluence,
  GradDot,
  LiSSAInfluence,
  layerwiseInfluence,
  type Scores,
  TRAK,
  TracInCP,
} from "./methods/index.js";
import { accuracy, type Batch, LogisticRegression, subset, type TraceableModel } from "./model.js";
import { fitNewton, trainModel } from "./retrain.js";

export type Metrics = Record<string, number>;
export type Log = (line: string) => void;

function negLoss(model: TraceableModel, params: Float64Array, test: Batch): Float64Array {
  return model.trace(params, test, "loss").values.map((v) => -v);
}

/**
 * TRAK's ridge in a spec: a number, or "objective": the training objective's own l2 term n·l2·I
 * seen through the projection (PᵀP ≈ (p/k)·I for k < p), n·l2·max(1, p/k).
 */
export type TrakRidge = number | "objective";

export function resolveTrakRidge(ridge: TrakRidge, n: number, l2: number, numParams: number, projectionDim: number): number {
  if (ridge === "objective") return n * l2 * Math.max(1, numParams / projectionDim);
  if (typeof ridge !== "number" || !(ridge >= 0)) {
    throw new AttributionError({
      code: "spec/bad-trak-ridge",
      message: `trakRidge ${JSON.stringify(ridge)} is neither a number ≥ 0 nor "objective"`,
      hint: 'write trakRidge: 0 (the paper\'s formula), a positive number, or "objective"',
      fields: { trakRidge: String(ridge) },
    });
  }
  return ridge;
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, (performance.now() - t0) / 1000];
}

/**
 * The gradient store the experiments share: per-example gradients are computed once per (model,
 * parameters, examples, target, projection) and every method reads them from disk; a re-run with
 * the same seed reads them all. `gradientStore` in a spec's params (or LAB_GRADIENT_STORE) moves it.
 */
export function experimentGradientStore(dir?: string): GradientStore {
  return new GradientStore(dir ?? process.env.LAB_GRADIENT_STORE ?? cacheDir("gradient-store"));
}

function storeLog(store: GradientStore, log: Log): void {
  log(`  gradient store ${store.dir}: ${store.misses} sets computed and written, ${store.hits} read back`);
}

export interface LogregParams {
  gradientStore?: string;
  seed: number;
  nTrain: number;
  nTest: number;
  pool: number;
  l2: number;
  ldsSubsets: number;
  trakModels: number;
  trakDim: number;
  looExamples: number;
  counterfactualK: number;
  counterfactualTests: number;
  lissaDepth: number;
  /** Independent LiSSA chains averaged per inverse-Hessian product (Koh and Liang's repeats). */
  lissaRepeats: number;
  /** Added to the diagonal of TRAK's ΦᵀΦ (0: the paper's formula); reported as trak_ridge. */
  trakRidge: TrakRidge;
}

/** The convex benchmark: multinomial logistic regression, exact optimum by Newton. */
export function logregExperiment(p: LogregParams, log: Log = () => {}): Metrics {
  const train = sampleFashion("train", { n: p.nTrain, seed: p.seed, pool: p.pool });
  const test = sampleFashion("test", { n: p.nTest, seed: p.seed + 1, pool: p.pool });
  const model = new LogisticRegression(train.dim, 10);
  const [params, fitS] = timed(() => fitNewton(model, train, { l2: p.l2 }));
  const out: Metrics = { test_accuracy: accuracy(model, params, test), fit_seconds: fitS };
  log(`logistic regression: ${model.numParams} parameters, test accuracy ${out.test_accuracy.toFixed(3)}`);
  const subsets = sampleSubsets(train.n, p.ldsSubsets, 0.5, p.seed);
  const [gt, gtS] = timed(() => ({
    subsets,
    outputs: cachedStep(
      { step: "logreg-fmnist/lds-ground-truth", module: import.meta.url, inputs: { seed: p.seed, nTrain: p.nTrain, nTest: p.nTest, pool: p.pool, l2: p.l2, ldsSubsets: p.ldsSubsets } },
      () => ldsGroundTruth(subsets, (s) => negLoss(model, fitNewton(model, subset(train, s), { l2: p.l2, start: params }), test)).outputs,
    ),
  }));
  log(`LDS ground truth: ${p.ldsSubsets} subsets retrained, or read from the step cache, in ${gtS.toFixed(1)} s`);
  // members differ by training randomness: Adam from a seeded random start for a fixed budget
  const members = cachedStep({ step: "logreg-fmnist/trak-ensemble", module: import.meta.url, inputs: { seed: p.seed, nTrain: p.nTrain, pool: p.pool, l2: p.l2, trakModels: p.trakModels } }, () =>
    Array.from(
      { length: p.trakModels - 1 },
      (_, i) => trainModel(model, train, { epochs: 30, batchSize: 100, lr: 0.01, l2: p.l2, seed: p.seed * 100 + i + 1, start: randomStart(model.numParams, p.seed * 100 + i + 1) }).params,
    ),
  );
  const ensemble = [{ params }, ...members.map((m) => ({ params: m }))];
  const store = experimentGradientStore(p.gradientStore);
  const task: AttributionTask = { model, params, train, test, l2: p.l2, seed: p.seed, ensemble, gradients: store };
  const trakRidge = resolveTrakRidge(p.trakRidge, train.n, p.l2, model.numParams, p.trakDim);
  const methods: Attributor[] = [
    new ExactInfluence(),
    new CGInfluence(),
    new LiSSAInfluence({ depth: p.lissaDepth, repeats: p.lissaRepeats, seed: p.seed }),
    new DataInf(),
    new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: trakRidge }),
    new GradDot(),
    new GradDot({ cosine: true }),
  ];
  out.trak_ridge = trakRidge;
  out.lissa_repeats = p.lissaRepeats;
  const scores: Record<string, Scores> = {};
  for (const m of methods) {
    const [s, secs] = timed(() => m.attribute(task));
    const key = m.name === "trak" ? `trak_${p.trakModels}` : m.name.replace(/-/g, "_");
    scores[key] = s;
    out[`lds_${key}`] = lds(s, gt).lds;
    out[`seconds_${key}`] = secs;
    log(`  ${key.padEnd(18)} LDS ${out[`lds_${key}`].toFixed(3)}  (${secs.toFixed(2)} s)`);
  }
  // leave-one-out on a seeded sample of training examples
  const looIdx = sampleSubsets(train.n, 1, p.looExamples / train.n, p.seed + 7)[0];
  const base = negLoss(model, params, test);
  const looOut = Array.from(looIdx, (i) =>
    negLoss(
      model,
      fitNewton(
        model,
        subset(
          train,
          Array.from({ length: train.n }, (_, j) => j).filter((j) => j !== i),
        ),
        { l2: p.l2, start: params },
      ),
      test,
    ),
  );
  out.loo_influence_exact = looCorrelation(scores.influence_exact, looOut, base, Array.from(looIdx)).corr;
  out.loo_trak = looCorrelation(scores[`trak_${p.trakModels}`], looOut, base, Array.from(looIdx)).corr;
  log(`  LOO Spearman: exact ${out.loo_influence_exact.toFixed(3)}, TRAK ${out.loo_trak.toFixed(3)}`);
  // counterfactual removal: top-k helpful vs random k
  const cfTests = Array.from({ length: Math.min(p.counterfactualTests, test.n) }, (_, t) => t);
  const lossAfter = (removed: number[], t: number) => {
    const drop = new Set(removed);
    const keep = Array.from({ length: train.n }, (_, j) => j).filter((j) => !drop.has(j));
    return -negLoss(model, fitNewton(model, subset(train, keep), { l2: p.l2, start: params }), subset(test, [t]))[0];
  };
  const cf = counterfactualRemoval(scores.influence_exact, p.counterfactualK, cfTests, lossAfter, (t) => -base[t], p.seed);
  out.counterfactual_topk_loss_increase = cf.topK;
  out.counterfactual_random_loss_increase = cf.random;
  log(`  counterfactual (k=${p.counterfactualK}): top-k +${cf.topK.toFixed(4)} vs random +${cf.random.toFixed(4)}`);
  // mislabeled detection by self-influence
  const { batch: noisy, flipped } = flipLabels(train, 10, 0.1, p.seed);
  const noisyParams = fitNewton(model, noisy, { l2: p.l2 });
  const self = new ExactInfluence().selfInfluence({ model, params: noisyParams, train: noisy, test: noisy, l2: p.l2, gradients: store });
  out.mislabel_auc_influence_exact = mislabelAuc(self, flipped);
  log(`  mislabel detection AUC (self-influence, exact): ${out.mislabel_auc_influence_exact.toFixed(3)}`);
  storeLog(store, log);
  out.gradient_sets_computed = store.misses;
  out.gradient_sets_read = store.hits;
  return out;
}

function randomStart(p: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: p }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.02;
  });
}

export interface MlpParams {
  gradientStore?: string;
  seed: number;
  nTrain: number;
  nTest: number;
  pool: number;
  hidden: number;
  l2: number;
  epochs: number;
  batchSize: number;
  lr: number;
  ldsSubsets: number;
  trakModels: number;
  trakDim: number;
  /** Added to the diagonal of TRAK's ΦᵀΦ (0: the paper's formula); reported as trak_ridge. */
  trakRidge: TrakRidge;
}

/** The Factory's MLP for a spec's `hidden` width, on the lab's TensorFlow.js backend. */
async function mlpFor(inputDim: number, hidden: number) {
  const { initTf } = await import("../tf/index.js");
  const { tf } = await initTf({ quiet: true });
  return attributionMlp(tf, inputDim, hidden, 10);
}

/**
 * The non-convex benchmark: the Factory's one-hidden-layer MLP trained by the Intelligence layer
 * (AdamW, weight decay l2); TRAK, TracIn-CP, Grad-Dot, DataInf.
 */
export async function mlpExperiment(p: MlpParams, log: Log = () => {}): Promise<Metrics> {
  const train = sampleFashion("train", { n: p.nTrain, seed: p.seed, pool: p.pool });
  const test = sampleFashion("test", { n: p.nTest, seed: p.seed + 1, pool: p.pool });
  const mlp = await mlpFor(train.dim, p.hidden);
  const opts = (seed: number): FactoryTrainOptions => ({ epochs: p.epochs, batchSize: p.batchSize, lr: p.lr, weightDecay: p.l2, seed, checkpointEvery: Math.max(1, Math.floor(p.epochs / 4)) });
  const run = trainMlp(mlp, train, opts(p.seed));
  const model = run.model;
  const out: Metrics = { test_accuracy: accuracy(model, run.params, test) };
  log(`Factory MLP: ${model.numParams} parameters, test accuracy ${out.test_accuracy.toFixed(3)}`);
  const subsets = sampleSubsets(train.n, p.ldsSubsets, 0.5, p.seed);
  // the learning algorithm is the seeded run: each subset is trained with the same seed
  const ldsInputs = { seed: p.seed, nTrain: p.nTrain, nTest: p.nTest, pool: p.pool, hidden: p.hidden, l2: p.l2, epochs: p.epochs, batchSize: p.batchSize, lr: p.lr, ldsSubsets: p.ldsSubsets };
  const [gt, gtS] = timed(() => ({
    subsets,
    outputs: cachedStep(
      { step: "mlp-fmnist/lds-ground-truth", module: import.meta.url, inputs: ldsInputs },
      () => ldsGroundTruth(subsets, (s) => negLoss(model, retrainParams(model, mlp, subset(train, s), opts(p.seed)), test)).outputs,
    ),
  }));
  log(`LDS ground truth: ${p.ldsSubsets} subsets retrained, or read from the step cache, in ${gtS.toFixed(1)} s`);
  const members = cachedStep({ step: "mlp-fmnist/trak-ensemble", module: import.meta.url, inputs: { ...ldsInputs, trakModels: p.trakModels } }, () =>
    Array.from({ length: p.trakModels - 1 }, (_, m) => retrainParams(model, mlp, train, opts(p.seed + 1 + m))),
  );
  const ensemble = [{ params: run.params }, ...members.map((m) => ({ params: m }))];
  const store = experimentGradientStore(p.gradientStore);
  const task: AttributionTask = { model, params: run.params, train, test, l2: p.l2, seed: p.seed, checkpoints: run.checkpoints, ensemble, gradients: store };
  const trakRidge = resolveTrakRidge(p.trakRidge, train.n, p.l2, model.numParams, p.trakDim);
  out.trak_ridge = trakRidge;
  const methods: [string, Attributor][] = [
    [`trak_${p.trakModels}`, new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: trakRidge })],
    ["trak_1", { name: "trak-1", attribute: (t: AttributionTask) => new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: trakRidge }).attribute({ ...t, ensemble: t.ensemble!.slice(0, 1) }) }],
    ["tracin_cp", new TracInCP()],
    ["grad_dot", new GradDot()],
    ["grad_cos", new GradDot({ cosine: true })],
    ["datainf", new DataInf()],
  ];
  for (const [key, m] of methods) {
    const [s, secs] = timed(() => m.attribute(task));
    out[`lds_${key}`] = lds(s, gt).lds;
    out[`seconds_${key}`] = secs;
    log(`  ${key.padEnd(12)} LDS ${out[`lds_${key}`].toFixed(3)}  (${secs.toFixed(2)} s)`);
  }
  storeLog(store, log);
  out.gradient_sets_computed = store.misses;
  out.gradient_sets_read = store.hits;
  return out;
}

export interface DatanetParams {
  gradientStore?: string;
  seed: number;
  pool: number;
  hidden: number;
  rank: number;
  pretrainN: number;
  perDatanet: number;
  nTest: number;
  epochs: number;
  lr: number;
  l2: number;
  lissaIterations: number[];
  /** Class groups, one datanet each (default: one datanet per class, as DataInf's task is per class). */
  groups?: number[][];
}

/**
 * Datanets with disjoint class groups, drawn from the training split at low contrast (a domain the
 * base model never saw). By default one datanet per product category, mirroring DataInf's
 * identification task where each group is one class/task.
 */
export function datanetGroups(groups?: number[][]): { name: string; classes: number[] }[] {
  const gs = groups ?? FASHION_CLASSES.map((_, c) => [c]);
  return gs.map((classes) => ({ name: classes.map((c) => FASHION_CLASSES[c].toLowerCase().replace(/[^a-z]+/g, "-")).join("+"), classes }));
}

export interface LoraSetup {
  /** The pretrained base MLP, every weight as a parameter (its hash is the base model's id). */
  base: FactoryModel;
  baseParams: Float64Array;
  /** The same MLP with the trained LoRA adapters as its parameters, the base frozen. */
  model: FactoryModel;
  params: Float64Array;
  train: Sample;
  test: Sample;
  trainDatanet: Int32Array;
  testDatanet: Int32Array;
  contributorOf: Int32Array;
  datanets: string[];
}

/** The datanets' domain shift: low contrast (pixels squeezed into [0.3, 0.7]), which the base model never saw. */
function lowContrast(s: Sample): Sample {
  return { ...s, x: s.x.map((v) => 0.3 + 0.4 * v) };
}

function concat(parts: Sample[]): Sample {
  const n = parts.reduce((a, s) => a + s.n, 0);
  const dim = parts[0].dim;
  const x = new Float64Array(n * dim),
    y = new Int32Array(n),
    source = new Int32Array(n);
  let o = 0;
  for (const s of parts) {
    x.set(s.x, o * dim);
    y.set(s.y, o);
    source.set(s.source, o);
    o += s.n;
  }
  return { x, y, n, dim, source, classes: parts[0].classes, side: parts[0].side };
}

/**
 * The Factory's MLP pretrained on upright images; LoRA adapters on both layers (fc1, head; alpha =
 * 2r) fine-tuned on the (low-contrast) datanets, both by the Intelligence layer's training step.
 */
export async function loraDatanetSetup(p: DatanetParams): Promise<LoraSetup> {
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const pre = sampleFashion("train", { n: p.pretrainN, seed: p.seed, pool: p.pool, classes: all });
  const mlp = await mlpFor(pre.dim, p.hidden);
  const pretrained = trainMlp(mlp, pre, { epochs: 15, batchSize: 64, lr: 3e-3, weightDecay: 1e-4, seed: p.seed });
  const used = new Set(pre.source);
  // each datanet: its classes, labels kept in the 10-class space
  const trains: Sample[] = [],
    tests: Sample[] = [];
  const trainDn: number[] = [],
    testDn: number[] = [];
  datanetGroups(p.groups).forEach((g, d) => {
    const tr = sampleFashion("train", { n: p.perDatanet, seed: p.seed + 10 + d, pool: p.pool, classes: g.classes, exclude: used });
    const te = sampleFashion("test", { n: p.nTest, seed: p.seed + 20 + d, pool: p.pool, classes: g.classes });
    const relabel = (s: Sample): Sample => lowContrast({ ...s, y: Int32Array.from(s.y, (c) => g.classes[c]) });
    trains.push(relabel(tr));
    tests.push(relabel(te));
    for (let i = 0; i < tr.n; i++) trainDn.push(d);
    for (let i = 0; i < te.n; i++) testDn.push(d);
  });
  const train = concat(trains);
  const test = concat(tests);
  const lora = trainLoraMlp(mlp, pretrained.weights, train, { r: p.rank, alpha: 2 * p.rank, targets: ["fc1", "head"] }, { epochs: p.epochs, batchSize: 32, lr: p.lr, weightDecay: p.l2, seed: p.seed });
  // two contributors per datanet, alternating examples
  const contributorOf = Int32Array.from(trainDn, (d, i) => 2 * d + (i % 2));
  return {
    base: pretrained.model,
    baseParams: pretrained.params,
    model: lora.model,
    params: lora.params,
    train,
    test,
    trainDatanet: Int32Array.from(trainDn),
    testDatanet: Int32Array.from(testDn),
    contributorOf,
    datanets: datanetGroups(p.groups).map((g) => g.name),
  };
}

/** CPU seconds of `f`: unlike wall time, it does not count the neighbours on a shared machine. */
function cpuTimed<T>(f: () => T): [T, number] {
  const c0 = process.cpuUsage();
  const r = f();
  const c = process.cpuUsage(c0);
  return [r, (c.user + c.system) / 1e6];
}

/**
 * DataInf vs LiSSA on the same damped per-layer Hessian: each one's quality (Pearson correlation
 * with the `exact` per-layer solve) and CPU seconds; LiSSA's iterations grow through `iterations`
 * until it matches DataInf's quality, and LiSSA with 10 iterations (the DataInf paper's setting) is
 * timed beside. The times are measurements, not claims: `./lab bench attribution` judges the ratio.
 */
export function compareDatainfLissa(G: GradientSet, V: GradientSet, exact: Float64Array, groups: BlockSpan[], iterations: number[], log: Log = () => {}): Metrics {
  const [di, diS] = cpuTimed(() => layerwiseInfluence(G, V, "datainf", { groups }).data);
  const diQ = pearson(di, exact);
  let lissaS = NaN,
    lissaQ = NaN,
    lissaIters = NaN;
  for (const iters of iterations) {
    const [li, secs] = cpuTimed(() => layerwiseInfluence(G, V, "lissa", { lissaIterations: iters, groups }).data);
    lissaS = secs;
    lissaQ = pearson(li, exact);
    lissaIters = iters;
    log(`  LiSSA ${iters} iterations: quality ${lissaQ.toFixed(4)} in ${secs.toFixed(2)} CPU s (DataInf ${diQ.toFixed(4)} in ${diS.toFixed(2)} CPU s)`);
    if (lissaQ >= diQ) break;
  }
  const [li10, li10S] = cpuTimed(() => layerwiseInfluence(G, V, "lissa", { lissaIterations: 10, groups }).data);
  const out: Metrics = {
    datainf_seconds: diS,
    datainf_quality: diQ,
    lissa_seconds: lissaS,
    lissa_quality: lissaQ,
    lissa_iterations: lissaIters,
    lissa_reached_datainf_quality: lissaQ >= diQ ? 1 : 0,
    datainf_speedup_vs_lissa: lissaS / diS,
    lissa10_seconds: li10S,
    lissa10_quality: pearson(li10, exact),
    datainf_speedup_vs_lissa10: li10S / diS,
  };
  log(`  LiSSA 10 iterations (the paper's setting): quality ${out.lissa10_quality.toFixed(4)} in ${li10S.toFixed(2)} CPU s → DataInf ${out.datainf_speedup_vs_lissa10.toFixed(1)}× faster`);
  return out;
}

/** DataInf's datanet identification on LoRA gradients, and DataInf vs LiSSA at equal quality. */
export async function datanetExperiment(p: DatanetParams, log: Log = () => {}): Promise<Metrics> {
  const s = await loraDatanetSetup(p);
  const out: Metrics = {
    base_accuracy_on_datanets: accuracy(s.base, s.baseParams, s.test),
    lora_accuracy_on_datanets: accuracy(s.model, s.params, s.test),
  };
  log(
    `LoRA r=${p.rank}: ${s.model.numParams} trainable parameters; accuracy on datanet test points ${out.base_accuracy_on_datanets.toFixed(3)} (base) → ${out.lora_accuracy_on_datanets.toFixed(3)} (LoRA)`,
  );
  const store = experimentGradientStore(p.gradientStore);
  const task: AttributionTask = { model: s.model, params: s.params, train: s.train, test: s.test, l2: p.l2, seed: p.seed, gradients: store };
  for (const m of [new DataInf(), new GradDot(), new GradDot({ cosine: true })]) {
    const [scores, secs] = timed(() => m.attribute(task));
    const r = datanetIdentification(scores, s.trainDatanet, s.testDatanet);
    const key = m.name.replace(/-/g, "_");
    out[`auc_${key}`] = r.auc;
    out[`recall_${key}`] = r.recall;
    log(`  ${key.padEnd(9)} datanet AUC ${r.auc.toFixed(4)}, recall ${r.recall.toFixed(4)} (${secs.toFixed(2)} s)`);
  }
  // DataInf vs LiSSA on the same per-layer damped Hessian, quality = Pearson with the exact solve
  const G = store.get(s.model, s.params, s.train);
  const V = store.get(s.model, s.params, s.test);
  const groups = datainfGroups(s.model.blocks);
  const exact = layerwiseInfluence(G, V, "exact", { groups }).data;
  const exactId = datanetIdentification({ method: "layer-exact", nTest: V.n, nTrain: G.n, data: exact }, s.trainDatanet, s.testDatanet);
  out.auc_layer_exact = exactId.auc;
  out.recall_layer_exact = exactId.recall;
  log(`  layer-exact (same damped per-layer Hessian, solved exactly) datanet AUC ${exactId.auc.toFixed(4)}, recall ${exactId.recall.toFixed(4)}`);
  Object.assign(out, compareDatainfLissa(G, V, exact, groups, p.lissaIterations, log));
  storeLog(store, log);
  out.gradient_sets_computed = store.misses;
  out.gradient_sets_read = store.hits;
  return out;
}

/**
 * A runner at its own params type. Its params are the experiment spec's (experiments/LAYER/NAME.yaml, `--set`
 * overrides typed against the spec's fields), so the spec, not this registry, vouches for their shape.
 */
type Experiment<R> = (params: never, log: Log) => R;

export const EXPERIMENTS: Record<string, Experiment<Metrics>> = {
  "logreg-fmnist": logregExperiment,
};

export function runExperiment(runner: string, params: unknown, log: Log = () => {}): Metrics {
  const f = EXPERIMENTS[runner];
  if (!f)
    throw new AttributionError({
      code: "spec/unknown-runner",
      message: `no attribution experiment called "${runner}"`,
      hint: `use one of: ${Object.keys(EXPERIMENTS).join(", ")}`,
      fields: { runner, known: Object.keys(EXPERIMENTS) },
    });
  return f(params as never, log);
}

export interface FactoryContributorsParams {
  gradientStore?: string;
  seed: number;
  /** The Factory spec to run (a LoRA MLP spec), and overrides for a smaller run. */
  spec: string;
  scale: number;
  steps: number;
  batchSize: number;
  pretrain: "quick" | "full";
  /** Test points whose mean attribution is aggregated to contributors. */
  nTest: number;
}

/**
 * Attribution on a real Model Factory run: the LoRA MLP fine-tuned on the fmnist-low-contrast
 * datanet (six contributors, one of whom flips labels, one of whom re-submits copies). Reports
 * mislabel detection by self-influence (DataInf; TracIn-CP over the run's kept checkpoints) against
 * the datanet's true labels, and where the label-flipper lands when test attributions are
 * aggregated to contributors.
 */
export async function factoryContributorsExperiment(p: FactoryContributorsParams, log: Log = () => {}): Promise<Metrics> {
  const I = await import("../intelligence/index.js");
  const { mkdtempSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const { fromFactoryRun } = await import("./factory-model.js");
  const { aggregate } = await import("./aggregation.js");
  const { rocAuc } = await import("./evaluation/stats.js");
  const { isAbsolute } = await import("node:path");
  const spec = I.loadSpec(isAbsolute(p.spec) ? p.spec : fromRoot(p.spec));
  const outDir = mkdtempSync(join(tmpdir(), "attr-factory-"));
  const run = await I.runFactory(
    {
      ...spec,
      seed: p.seed,
      base_model: { ...spec.base_model, pretrain: p.pretrain },
      data: { ...spec.data, scale: p.scale },
      training: { ...spec.training, steps: p.steps, epochs: null, batch_size: p.batchSize },
    },
    { quiet: true, outDir },
  );
  const { model, params } = fromFactoryRun(run);
  const tr = run.train;
  const train: Batch = { x: Float64Array.from(tr.x as ArrayLike<number>), y: Int32Array.from(tr.y), n: tr.n, dim: model.inputDim };
  const yTrue = Int32Array.from({ length: tr.n }, (_, i) => run.datanets[tr.datanetOf[i]].yTrue[tr.sampleOf[i]]);
  const flipped = Uint8Array.from(yTrue, (t, i) => (t !== train.y[i] ? 1 : 0));
  const out: Metrics = {
    train_examples: tr.n,
    lora_parameters: model.numParams,
    checkpoints: run.checkpoints.length,
    flipped_fraction: flipped.reduce((a, b) => a + b, 0) / tr.n,
    test_accuracy: run.metrics.final.test_accuracy,
  };
  log(
    `Factory run: ${tr.n} training examples, ${model.numParams} LoRA parameters, ${run.checkpoints.length} kept checkpoints, ${(100 * out.flipped_fraction).toFixed(1)}% labels flipped, test accuracy ${out.test_accuracy.toFixed(3)}`,
  );
  // self-influence: DataInf per tensor, and TracIn-CP over the kept checkpoints
  const store = experimentGradientStore(p.gradientStore);
  const selfTask: AttributionTask = { model, params, train, test: train, l2: 0, gradients: store, checkpoints: model.checkpoints(run.checkpoints as never) };
  out.mislabel_auc_datainf_self = rocAuc(new DataInf().selfInfluence(selfTask), flipped);
  out.mislabel_auc_tracin_self = rocAuc(new TracInCP().selfInfluence(selfTask), flipped);
  log(`  mislabel detection AUC by self-influence: DataInf ${out.mislabel_auc_datainf_self.toFixed(3)}, TracIn-CP ${out.mislabel_auc_tracin_self.toFixed(3)}`);
  // test attributions aggregated to contributors
  const te = run.test;
  const nT = Math.min(p.nTest, te.n);
  const test: Batch = { x: Float64Array.from(te.x as ArrayLike<number>).subarray(0, nT * model.inputDim), y: Int32Array.from(te.y).subarray(0, nT), n: nT, dim: model.inputDim };
  const scores = new DataInf().attribute({ model, params, train, test, l2: 0, gradients: store });
  const mean = new Float64Array(tr.n);
  for (let t = 0; t < nT; t++) for (let i = 0; i < tr.n; i++) mean[i] += scores.data[t * tr.n + i] / nT;
  const addresses = [...new Set(tr.contributorOf)];
  const names = new Map(run.datanets.flatMap((d) => d.contributors.map((c) => [c.address, c.name] as const)));
  const agg = aggregate(mean, {
    datanetOf: Int32Array.from(tr.datanetOf),
    contributorOf: Int32Array.from(tr.contributorOf, (a) => addresses.indexOf(a)),
    datanets: run.datanets.map((d) => d.name),
    contributors: addresses,
  });
  const ranked = [...agg.contributors].sort((a, b) => a.influence - b.influence);
  for (const c of ranked) log(`  contributor ${String(names.get(c.name) ?? c.name).padEnd(10)} influence ${c.influence.toExponential(2)}  weight ${c.weight.toFixed(3)}`);
  const flipper = ranked.findIndex((c) => names.get(c.name) === "flipper");
  out.flipper_rank_from_bottom = flipper + 1;
  out.flipper_weight = flipper >= 0 ? ranked[flipper].weight : NaN;
  storeLog(store, log);
  out.gradient_sets_computed = store.misses;
  out.gradient_sets_read = store.hits;
  return out;
}

export const ASYNC_EXPERIMENTS: Record<string, Experiment<Promise<Metrics>>> = {
  "mlp-fmnist": mlpExperiment,
  "lora-datanets": datanetExperiment,
  "factory-contributors": factoryContributorsExperiment,
  "lm-datanets": async (params, log) => (await import("./lm-experiment.js")).lmDatanetsExperiment(params, log),
};

/** Any experiment, sync or async (the Model Factory runs are async). */
export async function runExperimentAsync(runner: string, params: unknown, log: Log = () => {}): Promise<Metrics> {
  if (ASYNC_EXPERIMENTS[runner]) return ASYNC_EXPERIMENTS[runner](params as never, log);
  return runExperiment(runner, params, log);
}
