/**
 * Attribution on a real Model Factory run (experiments/attribution/factory-contributors.yaml): the
 * LoRA MLP fine-tuned on the fmnist-low-contrast datanet (six contributors, one of whom flips
 * labels, one of whom re-submits copies). Reports mislabel detection by self-influence (DataInf;
 * TracIn-CP over the run's kept checkpoints) against the datanet's true labels, and where the
 * label-flipper lands when test attributions are aggregated to contributors.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { at, defineExperiment, type MetricsOf, type ParamsOf, param } from "../../experiments/index.js";
import { fromRoot } from "../../files.js";
import { type FactoryResult, loadSpec, runFactory } from "../../intelligence/factory/index.js";
import { aggregate } from "../aggregation.js";
import { rocAuc } from "../evaluation/stats.js";
import { fromFactoryRun } from "../factory-model.js";
import type { GradientStore } from "../gradients.js";
import { DataInf, TracInCP } from "../methods/index.js";
import type { Batch } from "../model.js";
import { experimentGradientStore, gradientStoreMetrics, type Log } from "./context.js";

const FACTORY_CONTRIBUTORS_PARAMS = {
  seed: param.int({ min: 0 }),
  spec: param.text("the Factory spec to run (a LoRA MLP spec), from the repository root"),
  scale: param.number({ min: 0.001, max: 1, doc: "share of the datanet used" }),
  steps: param.int({ min: 1 }),
  batchSize: param.int({ min: 1 }),
  pretrain: param.oneOf(["quick", "full"], "the base model's pretraining budget"),
  nTest: param.int({ min: 1, doc: "test points whose mean attribution is aggregated to contributors" }),
  gradientStore: param.optional(param.text("the gradient store's folder")),
};

export type FactoryContributorsParams = ParamsOf<typeof FACTORY_CONTRIBUTORS_PARAMS>;

const RUN = at("factoryContributorsExperiment", "attribution/experiments/factory-contributors.ts");

const FACTORY_CONTRIBUTORS_METRICS = {
  train_examples: { meaning: "training examples of the Factory run", computedBy: RUN },
  lora_parameters: { meaning: "trainable LoRA parameters", computedBy: RUN },
  checkpoints: { meaning: "checkpoints the run kept (TracIn-CP's)", computedBy: RUN },
  flipped_fraction: { meaning: "share of training labels flipped by the label-flipper", computedBy: RUN },
  test_accuracy: { meaning: "accuracy of the Model Factory run on its held-out test images", computedBy: at("runFactory", "intelligence/factory/fine-tune.ts") },
  "mislabel_auc_{method}_self": { meaning: "ROC AUC of self-influence for the flipped labels of the Factory datanet", computedBy: at("rocAuc", "attribution/evaluation/stats.ts") },
  flipper_rank_from_bottom: { meaning: "the label-flipper's rank among contributors by summed influence (1 = lowest)", computedBy: RUN },
  flipper_weight: { meaning: "the label-flipper's share of the positive influence", computedBy: at("aggregate", "attribution/aggregation.ts") },
  gradient_sets_computed: { meaning: "per-example gradient sets computed and written to the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
  gradient_sets_read: { meaning: "per-example gradient sets read back from the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
};

type FactoryContributorsMetrics = MetricsOf<typeof FACTORY_CONTRIBUTORS_METRICS>;

/** Stage "Factory run": the spec at the experiment's size, trained into a temporary folder. */
async function factoryRun(p: FactoryContributorsParams): Promise<FactoryResult> {
  const spec = loadSpec(isAbsolute(p.spec) ? p.spec : fromRoot(p.spec));
  return runFactory(
    {
      ...spec,
      seed: p.seed,
      base_model: { ...spec.base_model, pretrain: p.pretrain },
      data: { ...spec.data, scale: p.scale },
      training: { ...spec.training, steps: p.steps, epochs: null, batch_size: p.batchSize },
    },
    { quiet: true, outDir: mkdtempSync(join(tmpdir(), "attr-factory-")) },
  );
}

/** The run's model, its training batch, and which labels the datanet's contributors flipped. */
async function attributable(run: FactoryResult) {
  const { model, params } = await fromFactoryRun(run);
  const tr = run.train;
  const train: Batch = { x: Float64Array.from(tr.x as ArrayLike<number>), y: Int32Array.from(tr.y), n: tr.n, dim: model.inputDim };
  const yTrue = Int32Array.from({ length: tr.n }, (_, i) => run.datanets[tr.datanetOf[i]].yTrue[tr.sampleOf[i]]);
  const flipped = Uint8Array.from(yTrue, (t, i) => (t !== train.y[i] ? 1 : 0));
  return { model, params, train, flipped };
}

/** Stage "contributors": DataInf's mean test attribution aggregated to contributors; where the label-flipper ranks. */
async function contributorRanking(
  run: FactoryResult,
  a: Awaited<ReturnType<typeof attributable>>,
  p: FactoryContributorsParams,
  store: GradientStore,
  out: FactoryContributorsMetrics,
  log: Log,
): Promise<void> {
  const { model, params, train } = a;
  const tr = run.train;
  const te = run.test;
  const nT = Math.min(p.nTest, te.n);
  const test: Batch = { x: Float64Array.from(te.x as ArrayLike<number>).subarray(0, nT * model.inputDim), y: Int32Array.from(te.y).subarray(0, nT), n: nT, dim: model.inputDim };
  const scores = await new DataInf().attribute({ model, params, train, test, l2: 0, gradients: store });
  const mean = new Float64Array(tr.n);
  for (let t = 0; t < nT; t++) for (let i = 0; i < tr.n; i++) mean[i] += scores.data[t * tr.n + i] / nT;
  const addresses = [...new Set(tr.contributorOf)];
  const names = new Map(run.datanets.flatMap((d) => d.contributors.map((c) => [c.address, c.name] as const)));
  const agg = aggregate(mean, {
    datanetOf: Int32Array.from(tr.datanetOf),
    contributorOf: Int32Array.from(tr.contributorOf, (addr) => addresses.indexOf(addr)),
    datanets: run.datanets.map((d) => d.name),
    contributors: addresses,
  });
  const ranked = [...agg.contributors].sort((x, y) => x.influence - y.influence);
  for (const c of ranked) log(`  contributor ${String(names.get(c.name) ?? c.name).padEnd(10)} influence ${c.influence.toExponential(2)}  weight ${c.weight.toFixed(3)}`);
  const flipper = ranked.findIndex((c) => names.get(c.name) === "flipper");
  out.flipper_rank_from_bottom = flipper + 1;
  out.flipper_weight = flipper >= 0 ? ranked[flipper].weight : NaN;
}

/** The whole experiment: the Factory run, self-influence against the flipped labels, the contributors ranked. */
export async function factoryContributorsExperiment(p: FactoryContributorsParams, log: Log = () => {}): Promise<FactoryContributorsMetrics> {
  const run = await factoryRun(p);
  const a = await attributable(run);
  const { model, params, train, flipped } = a;
  const out = {
    train_examples: train.n,
    lora_parameters: model.numParams,
    checkpoints: run.checkpoints.length,
    flipped_fraction: flipped.reduce((s, b) => s + b, 0) / train.n,
    test_accuracy: run.metrics.final.test_accuracy,
  } as FactoryContributorsMetrics;
  log(
    `Factory run: ${train.n} training examples, ${model.numParams} LoRA parameters, ${run.checkpoints.length} kept checkpoints, ${(100 * out.flipped_fraction).toFixed(1)}% labels flipped, test accuracy ${out.test_accuracy.toFixed(3)}`,
  );
  // stage "self-influence": DataInf per tensor, and TracIn-CP over the kept checkpoints
  const store = experimentGradientStore(p.gradientStore);
  const selfTask = { model, params, train, test: train, l2: 0, gradients: store, checkpoints: model.checkpoints(run.checkpoints) };
  out.mislabel_auc_datainf_self = rocAuc(await new DataInf().selfInfluence(selfTask), flipped);
  out.mislabel_auc_tracin_self = rocAuc(await new TracInCP().selfInfluence(selfTask), flipped);
  log(`  mislabel detection AUC by self-influence: DataInf ${out.mislabel_auc_datainf_self.toFixed(3)}, TracIn-CP ${out.mislabel_auc_tracin_self.toFixed(3)}`);
  await contributorRanking(run, a, p, store, out, log);
  return Object.assign(out, gradientStoreMetrics(store, log));
}

export const FACTORY_CONTRIBUTORS = defineExperiment({
  name: "factory-contributors",
  summary: "attribution on a Model Factory LoRA run: self-influence finds flipped labels; where the label-flipper ranks",
  params: FACTORY_CONTRIBUTORS_PARAMS,
  metrics: FACTORY_CONTRIBUTORS_METRICS,
  run: factoryContributorsExperiment,
});
