/**
 * The convex benchmark (experiments/attribution/logreg-fmnist.yaml): multinomial logistic
 * regression on pooled Fashion-MNIST, fitted to its exact optimum by Newton; every influence
 * method against LDS ground truth, leave-one-out, counterfactual removal and mislabel detection.
 */
import { at, defineExperiment, type MetricsOf, type ParamsOf, param } from "../../experiments/index.js";
import { lcgUniform } from "../../random.js";
import { cachedStep } from "../../step-cache.js";
import { counterfactualRemovalSets, counterfactualResult, flipLabels, type LdsGroundTruth, lds, looCorrelation, mislabelAuc, sampleSubsets } from "../evaluation/index.js";
import { type Sample, sampleFashion } from "../fmnist-features.js";
import type { GradientStore } from "../gradients.js";
import { type AttributionTask, type Attributor, CGInfluence, DataInf, ExactInfluence, GradDot, LiSSAInfluence, type Scores, TRAK } from "../methods/index.js";
import { accuracy, type Batch, LogisticRegression, subset } from "../model.js";
import { fitNewton } from "../retrain.js";
import { type RetrainSpec, retrainAll } from "../retrain-jobs.js";
import { experimentGradientStore, gradientStoreMetrics, type Log, negLoss, resolveTrakRidge, timed, trakLdsKey } from "./context.js";

const LOGREG_PARAMS = {
  seed: param.int({ min: 0 }),
  nTrain: param.int({ min: 2, doc: "training images" }),
  nTest: param.int({ min: 1, doc: "test images" }),
  pool: param.int({ min: 1, max: 28, doc: "average-pooling window of the 28×28 pixels" }),
  l2: param.number({ min: 0 }),
  ldsSubsets: param.int({ min: 2, doc: "half-size subsets retrained for LDS" }),
  trakModels: param.int({ min: 1, doc: "TRAK's ensemble" }),
  trakDim: param.int({ min: 1, doc: "TRAK's projection dimension" }),
  looExamples: param.int({ min: 1 }),
  counterfactualK: param.int({ min: 1 }),
  counterfactualTests: param.int({ min: 1 }),
  lissaDepth: param.int({ min: 1 }),
  lissaRepeats: param.int({ min: 1, doc: "independent LiSSA chains averaged per inverse-Hessian product (Koh and Liang's repeats)" }),
  trakRidge: param.either(param.number({ min: 0 }), param.oneOf(["objective"]), "added to the diagonal of TRAK's ΦᵀΦ (0: the paper's formula)"),
  gradientStore: param.optional(param.text("the gradient store's folder")),
};

export type LogregParams = ParamsOf<typeof LOGREG_PARAMS>;

const LDS = at("lds", "attribution/evaluation/lds.ts");
/** The methods besides TRAK (whose key holds its ensemble size), by metric key. */
const LOGREG_METHOD_KEYS = ["influence_exact", "influence_cg", "influence_lissa", "datainf", "grad_dot", "grad_cos"] as const;
const RUN = at("logregExperiment", "attribution/experiments/logreg-fmnist.ts");

const LOGREG_METRICS = {
  test_accuracy: { meaning: "accuracy on held-out test images", computedBy: at("accuracy", "attribution/model.ts") },
  fit_seconds: { meaning: "seconds of the Newton fit", computedBy: RUN },
  "lds_{method}": {
    meaning: "linear datamodeling score: Spearman correlation of predicted and retrained outputs over random half subsets, mean over test points",
    computedBy: LDS,
    values: { method: LOGREG_METHOD_KEYS },
  },
  "lds_trak_{models}": { meaning: "TRAK's linear datamodeling score with an ensemble of that many models", computedBy: LDS },
  "seconds_{method}": { meaning: "wall seconds of the method's attribution", computedBy: RUN, values: { method: LOGREG_METHOD_KEYS } },
  "seconds_trak_{models}": { meaning: "wall seconds of TRAK's attribution", computedBy: RUN },
  trak_ridge: { meaning: "the ridge added to TRAK's ΦᵀΦ, resolved from the spec's trakRidge", computedBy: at("resolveTrakRidge", "attribution/experiments/context.ts") },
  lissa_repeats: { meaning: "LiSSA chains averaged per inverse-Hessian product", computedBy: RUN },
  "loo_{method}": { meaning: "Spearman correlation of scores with the leave-one-out retraining change", computedBy: at("looCorrelation", "attribution/evaluation/loo.ts") },
  "counterfactual_{which}_loss_increase": {
    meaning: "mean test-loss increase after removing the top-k attributed (or k random) examples and retraining",
    computedBy: at("counterfactualRemoval", "attribution/evaluation/counterfactual.ts"),
  },
  mislabel_auc_influence_exact: { meaning: "ROC AUC of self-influence for the flipped labels", computedBy: at("mislabelAuc", "attribution/evaluation/mislabel.ts") },
  gradient_sets_computed: { meaning: "per-example gradient sets computed and written to the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
  gradient_sets_read: { meaning: "per-example gradient sets read back from the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
};

type LogregMetrics = MetricsOf<typeof LOGREG_METRICS>;

/** The fitted model and its data: what every stage reads. */
interface LogregFit {
  p: LogregParams;
  train: Sample;
  test: Sample;
  model: LogisticRegression;
  params: Float64Array;
  /** −loss of each test point at the optimum. */
  base: Float64Array;
}

/** A seeded random start for an ensemble member (the benchmark's recorded linear congruential stream). */
function randomStart(p: number, seed: number): Float64Array {
  const uniform = lcgUniform(seed);
  return Float64Array.from({ length: p }, () => (uniform() - 0.5) * 0.02);
}

/** Stage "fit to the optimum": the data, the model at its exact optimum, its accuracy. */
async function fitToOptimum(p: LogregParams, out: LogregMetrics, log: Log): Promise<LogregFit> {
  const train = sampleFashion("train", { n: p.nTrain, seed: p.seed, pool: p.pool });
  const test = sampleFashion("test", { n: p.nTest, seed: p.seed + 1, pool: p.pool });
  const model = new LogisticRegression(train.dim, 10);
  const [params, fitS] = await timed(() => fitNewton(model, train, { l2: p.l2 }));
  out.test_accuracy = await accuracy(model, params, test);
  out.fit_seconds = fitS;
  log(`logistic regression: ${model.numParams} parameters, test accuracy ${out.test_accuracy.toFixed(3)}`);
  return { p, train, test, model, params, base: await negLoss(model, params, test) };
}

/** The negative test loss under each parameter vector, in order. */
async function negLossOfEach(model: LogisticRegression, each: readonly Float64Array[], test: Batch): Promise<Float64Array[]> {
  const out: Float64Array[] = [];
  for (const params of each) out.push(await negLoss(model, params, test));
  return out;
}

/** A Newton refit of the model on some training rows, as a worker job: from the optimum, so it converges in a few steps. */
function refitSpec({ p, train, model, params }: LogregFit, rows: ArrayLike<number>): RetrainSpec {
  return {
    model: { kind: "logistic-regression", inputDim: model.inputDim, numClasses: model.numClasses },
    train: { x: train.x, y: train.y, n: train.n, dim: train.dim },
    rows,
    fit: { method: "newton", l2: p.l2, start: params },
  };
}

/** Stage "LDS ground truth": the model refitted on seeded half subsets, one job each (or read from the step cache). */
async function groundTruth(fitted: LogregFit, log: Log): Promise<LdsGroundTruth> {
  const { p, train, test, model } = fitted;
  const subsets = sampleSubsets(train.n, p.ldsSubsets, 0.5, p.seed);
  const t0 = performance.now();
  const outputs = await cachedStep(
    { step: "logreg-fmnist/lds-ground-truth", module: import.meta.url, inputs: { seed: p.seed, nTrain: p.nTrain, nTest: p.nTest, pool: p.pool, l2: p.l2, ldsSubsets: p.ldsSubsets } },
    async () => negLossOfEach(model, await retrainAll(subsets.map((s) => refitSpec(fitted, s))), test),
  );
  log(`LDS ground truth: ${p.ldsSubsets} subsets retrained, or read from the step cache, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { subsets, outputs };
}

/** Stage "TRAK ensemble": members that differ by training randomness (Adam from a seeded random start, a fixed budget), one job each. */
async function trakEnsemble({ p, train, model, params }: LogregFit): Promise<{ params: Float64Array }[]> {
  const member = (i: number): RetrainSpec => {
    const seed = p.seed * 100 + i + 1;
    const options = { epochs: 30, batchSize: 100, lr: 0.01, l2: p.l2, seed, start: randomStart(model.numParams, seed) };
    return {
      model: { kind: "logistic-regression", inputDim: model.inputDim, numClasses: model.numClasses },
      train: { x: train.x, y: train.y, n: train.n, dim: train.dim },
      fit: { method: "adam", options },
    };
  };
  const members = await cachedStep({ step: "logreg-fmnist/trak-ensemble", module: import.meta.url, inputs: { seed: p.seed, nTrain: p.nTrain, pool: p.pool, l2: p.l2, trakModels: p.trakModels } }, () =>
    retrainAll(Array.from({ length: p.trakModels - 1 }, (_, i) => member(i))),
  );
  return [{ params }, ...members.map((m) => ({ params: m }))];
}

/** Stage "attribute": every method's scores and LDS, by metric key. */
async function attributeAll(fitted: LogregFit, gt: LdsGroundTruth, store: GradientStore, out: LogregMetrics, log: Log): Promise<Record<string, Scores>> {
  const { p, train, test, model, params } = fitted;
  const task: AttributionTask = { model, params, train, test, l2: p.l2, seed: p.seed, ensemble: await trakEnsemble(fitted), gradients: store };
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
    const [s, secs] = await timed(() => m.attribute(task));
    const key = m.name === "trak" ? trakLdsKey(p.trakModels).slice("lds_".length) : m.name.replace(/-/g, "_");
    scores[key] = s;
    out[`lds_${key}`] = lds(s, gt).lds;
    out[`seconds_${key}`] = secs;
    log(`  ${key.padEnd(18)} LDS ${out[`lds_${key}`].toFixed(3)}  (${secs.toFixed(2)} s)`);
  }
  return scores;
}

/** Every training index but those in `drop`. */
function keepAllBut(n: number, drop: Set<number>): number[] {
  return Array.from({ length: n }, (_, j) => j).filter((j) => !drop.has(j));
}

/** Stage "leave one out": a seeded sample of training examples, each removed and the model refitted (one job each). */
async function leaveOneOut(fitted: LogregFit, scores: Record<string, Scores>, out: LogregMetrics, log: Log): Promise<void> {
  const { p, train, test, model, base } = fitted;
  const looIdx = Array.from(sampleSubsets(train.n, 1, p.looExamples / train.n, p.seed + 7)[0]);
  const refits = await retrainAll(looIdx.map((i) => refitSpec(fitted, keepAllBut(train.n, new Set([i])))));
  const looOut = await negLossOfEach(model, refits, test);
  out.loo_influence_exact = looCorrelation(scores.influence_exact, looOut, base, looIdx).corr;
  out.loo_trak = looCorrelation(scores[trakLdsKey(p.trakModels).slice("lds_".length)], looOut, base, looIdx).corr;
  log(`  LOO Spearman: exact ${out.loo_influence_exact.toFixed(3)}, TRAK ${out.loo_trak.toFixed(3)}`);
}

/** Stage "counterfactual": the top-k helpful examples removed against k random ones, refitted (one job each). */
async function counterfactual(fitted: LogregFit, scores: Record<string, Scores>, out: LogregMetrics, log: Log): Promise<void> {
  const { p, train, test, model, base } = fitted;
  const cfTests = Array.from({ length: Math.min(p.counterfactualTests, test.n) }, (_, t) => t);
  const sets = counterfactualRemovalSets(scores.influence_exact, p.counterfactualK, cfTests, p.seed);
  const refits = await retrainAll(sets.flatMap(({ top, random }) => [top, random].map((removed) => refitSpec(fitted, keepAllBut(train.n, new Set(removed))))));
  const lossOf = async (refit: Float64Array, t: number) => -(await negLoss(model, refit, subset(test, [t])))[0];
  const after: { top: number; random: number }[] = [];
  for (const [j, { t }] of sets.entries()) after.push({ top: await lossOf(refits[2 * j], t), random: await lossOf(refits[2 * j + 1], t) });
  const cf = counterfactualResult(p.counterfactualK, sets, after, (t) => -base[t]);
  out.counterfactual_topk_loss_increase = cf.topK;
  out.counterfactual_random_loss_increase = cf.random;
  log(`  counterfactual (k=${p.counterfactualK}): top-k +${cf.topK.toFixed(4)} vs random +${cf.random.toFixed(4)}`);
}

/** Stage "mislabel detection": 10 % of labels flipped, ranked by exact self-influence. */
async function mislabelDetection({ p, train, model }: LogregFit, store: GradientStore, out: LogregMetrics, log: Log): Promise<void> {
  const { batch: noisy, flipped } = flipLabels(train, 10, 0.1, p.seed);
  const noisyParams = await fitNewton(model, noisy, { l2: p.l2 });
  const self = await new ExactInfluence().selfInfluence({ model, params: noisyParams, train: noisy, test: noisy, l2: p.l2, gradients: store });
  out.mislabel_auc_influence_exact = mislabelAuc(self, flipped);
  log(`  mislabel detection AUC (self-influence, exact): ${out.mislabel_auc_influence_exact.toFixed(3)}`);
}

/** The whole benchmark, stage by stage. */
export async function logregExperiment(p: LogregParams, log: Log = () => {}): Promise<LogregMetrics> {
  const out = {} as LogregMetrics;
  const fitted = await fitToOptimum(p, out, log);
  const gt = await groundTruth(fitted, log);
  const store = experimentGradientStore(p.gradientStore);
  const scores = await attributeAll(fitted, gt, store, out, log);
  await leaveOneOut(fitted, scores, out, log);
  await counterfactual(fitted, scores, out, log);
  await mislabelDetection(fitted, store, out, log);
  return Object.assign(out, gradientStoreMetrics(store, log));
}

export const LOGREG_FMNIST = defineExperiment({
  name: "logreg-fmnist",
  summary: "influence, TRAK and mislabel detection on multinomial logistic regression (Fashion-MNIST, pooled)",
  params: LOGREG_PARAMS,
  metrics: LOGREG_METRICS,
  run: logregExperiment,
});
