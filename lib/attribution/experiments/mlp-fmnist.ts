/**
 * The non-convex benchmark (experiments/attribution/mlp-fmnist.yaml): the Factory's
 * one-hidden-layer MLP trained by the Intelligence layer (AdamW, weight decay l2); TRAK, TracIn-CP,
 * Grad-Dot/Cos and DataInf against LDS over seeded re-trainings.
 */
import { at, defineExperiment, type MetricsOf, type ParamsOf, param } from "../../experiments/index.js";
import { cachedStep } from "../../step-cache.js";
import { lds, sampleSubsets } from "../evaluation/index.js";
import { type FactoryTrainOptions, trainMlp } from "../factory-train.js";
import { sampleFashion } from "../fmnist-features.js";
import { type AttributionTask, type Attributor, DataInf, GradDot, TRAK, TracInCP } from "../methods/index.js";
import { accuracy } from "../model.js";
import { type RetrainSpec, retrainAll } from "../retrain-jobs.js";
import { experimentGradientStore, gradientStoreMetrics, type Log, mlpFor, negLoss, resolveTrakRidge, timed, trakLdsKey } from "./context.js";

const MLP_PARAMS = {
  seed: param.int({ min: 0 }),
  nTrain: param.int({ min: 2 }),
  nTest: param.int({ min: 1 }),
  pool: param.int({ min: 1, max: 28 }),
  hidden: param.int({ min: 1, doc: "hidden ReLU units" }),
  l2: param.number({ min: 0, doc: "AdamW's weight decay" }),
  epochs: param.int({ min: 1 }),
  batchSize: param.int({ min: 1 }),
  lr: param.number({ min: 0 }),
  ldsSubsets: param.int({ min: 2 }),
  trakModels: param.int({ min: 1 }),
  trakDim: param.int({ min: 1 }),
  trakRidge: param.either(param.number({ min: 0 }), param.oneOf(["objective"]), "added to the diagonal of TRAK's ΦᵀΦ (0: the paper's formula)"),
  gradientStore: param.optional(param.text("the gradient store's folder")),
};

export type MlpParams = ParamsOf<typeof MLP_PARAMS>;

const RUN = at("mlpExperiment", "attribution/experiments/mlp-fmnist.ts");
/** The methods besides TRAK (whose key holds its ensemble size), by metric key. */
const MLP_METHOD_KEYS = ["tracin_cp", "grad_dot", "grad_cos", "datainf"] as const;

const MLP_METRICS = {
  test_accuracy: { meaning: "accuracy on held-out test images", computedBy: at("accuracy", "attribution/model.ts") },
  trak_ridge: { meaning: "the ridge added to TRAK's ΦᵀΦ, resolved from the spec's trakRidge", computedBy: at("resolveTrakRidge", "attribution/experiments/context.ts") },
  "lds_{method}": {
    meaning: "linear datamodeling score: Spearman correlation of predicted and retrained outputs over random half subsets, mean over test points",
    computedBy: at("lds", "attribution/evaluation/lds.ts"),
    values: { method: MLP_METHOD_KEYS },
  },
  "lds_trak_{models}": { meaning: "TRAK's linear datamodeling score with an ensemble of that many models", computedBy: at("lds", "attribution/evaluation/lds.ts") },
  "seconds_{method}": { meaning: "wall seconds of the method's attribution", computedBy: RUN, values: { method: MLP_METHOD_KEYS } },
  "seconds_trak_{models}": { meaning: "wall seconds of TRAK's attribution", computedBy: RUN },
  gradient_sets_computed: { meaning: "per-example gradient sets computed and written to the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
  gradient_sets_read: { meaning: "per-example gradient sets read back from the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
};

type MlpMetrics = MetricsOf<typeof MLP_METRICS>;

/** The whole benchmark: train, LDS ground truth, TRAK's ensemble, then each method's LDS. */
export async function mlpExperiment(p: MlpParams, log: Log = () => {}): Promise<MlpMetrics> {
  const train = sampleFashion("train", { n: p.nTrain, seed: p.seed, pool: p.pool });
  const test = sampleFashion("test", { n: p.nTest, seed: p.seed + 1, pool: p.pool });
  const mlp = await mlpFor(train.dim, p.hidden);
  const opts = (seed: number): FactoryTrainOptions => ({ epochs: p.epochs, batchSize: p.batchSize, lr: p.lr, weightDecay: p.l2, seed, checkpointEvery: Math.max(1, Math.floor(p.epochs / 4)) });
  const run = await trainMlp(mlp, train, opts(p.seed));
  const model = run.model;
  const out = { test_accuracy: await accuracy(model, run.params, test) } as MlpMetrics;
  log(`Factory MLP: ${model.numParams} parameters, test accuracy ${out.test_accuracy.toFixed(3)}`);

  // a re-training as a worker job: the Factory MLP rebuilt from its recipe, trained on some rows
  const retrain = (seed: number, rows?: Int32Array): RetrainSpec => ({
    model: { kind: "factory-mlp", inputDim: train.dim, hidden: p.hidden, numClasses: 10 },
    train: { x: train.x, y: train.y, n: train.n, dim: train.dim },
    rows,
    fit: { method: "factory", options: opts(seed) },
  });

  // stage "LDS ground truth": the learning algorithm is the seeded run, so each subset is trained with the same seed
  const subsets = sampleSubsets(train.n, p.ldsSubsets, 0.5, p.seed);
  const ldsInputs = { seed: p.seed, nTrain: p.nTrain, nTest: p.nTest, pool: p.pool, hidden: p.hidden, l2: p.l2, epochs: p.epochs, batchSize: p.batchSize, lr: p.lr, ldsSubsets: p.ldsSubsets };
  const gtStart = performance.now();
  const gt = {
    subsets,
    outputs: await cachedStep({ step: "mlp-fmnist/lds-ground-truth", module: import.meta.url, inputs: ldsInputs }, async () => {
      const outputs: Float64Array[] = [];
      for (const params of await retrainAll(subsets.map((s) => retrain(p.seed, s)))) outputs.push(await negLoss(model, params, test));
      return outputs;
    }),
  };
  log(`LDS ground truth: ${p.ldsSubsets} subsets retrained, or read from the step cache, in ${((performance.now() - gtStart) / 1000).toFixed(1)} s`);

  // stage "TRAK ensemble": the run and re-trainings under other seeds
  const members = await cachedStep({ step: "mlp-fmnist/trak-ensemble", module: import.meta.url, inputs: { ...ldsInputs, trakModels: p.trakModels } }, () =>
    retrainAll(Array.from({ length: p.trakModels - 1 }, (_, m) => retrain(p.seed + 1 + m))),
  );
  const ensemble = [{ params: run.params }, ...members.map((m) => ({ params: m }))];

  // stage "attribute"
  const store = experimentGradientStore(p.gradientStore);
  const task: AttributionTask = { model, params: run.params, train, test, l2: p.l2, seed: p.seed, checkpoints: run.checkpoints, ensemble, gradients: store };
  const trakRidge = resolveTrakRidge(p.trakRidge, train.n, p.l2, model.numParams, p.trakDim);
  out.trak_ridge = trakRidge;
  const trakOfOne: Attributor = {
    name: "trak-1",
    attribute: (t: AttributionTask) => new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: trakRidge }).attribute({ ...t, ensemble: t.ensemble?.slice(0, 1) }),
  };
  const methods: [string, Attributor][] = [
    [trakLdsKey(p.trakModels).slice("lds_".length), new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: trakRidge })],
    ["trak_1", trakOfOne],
    ["tracin_cp", new TracInCP()],
    ["grad_dot", new GradDot()],
    ["grad_cos", new GradDot({ cosine: true })],
    ["datainf", new DataInf()],
  ];
  for (const [key, m] of methods) {
    const [s, secs] = await timed(() => m.attribute(task));
    out[`lds_${key}`] = lds(s, gt).lds;
    out[`seconds_${key}`] = secs;
    log(`  ${key.padEnd(12)} LDS ${out[`lds_${key}`].toFixed(3)}  (${secs.toFixed(2)} s)`);
  }
  return Object.assign(out, gradientStoreMetrics(store, log));
}

export const MLP_FMNIST = defineExperiment({
  name: "mlp-fmnist",
  summary: "TRAK, TracIn-CP, Grad-Dot/Cos and DataInf on the Factory's one-hidden-layer MLP (Fashion-MNIST, pooled)",
  params: MLP_PARAMS,
  metrics: MLP_METRICS,
  run: mlpExperiment,
});
