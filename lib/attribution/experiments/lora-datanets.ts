/**
 * DataInf on LoRA adapters (experiments/attribution/lora-datanets.yaml): datanet identification on
 * the Factory MLP's LoRA gradients, and DataInf against LiSSA at equal quality on the same damped
 * per-layer Hessian.
 */
import { at, defineExperiment, type MetricsOf, type ParamsOf, param } from "../../experiments/index.js";
import { shiftIntensities, type UnitImageShift } from "../../intelligence/datanets.js";
import { type OnProgress, stagedProgress } from "../../progress.js";
import { datanetIdentification, pearson } from "../evaluation/index.js";
import type { FactoryModel } from "../factory-model.js";
import { trainLoraMlp, trainMlp } from "../factory-train.js";
import { FASHION_CLASSES, type Sample, sampleFashion } from "../fmnist-features.js";
import type { BlockSpan, GradientSet } from "../gradients.js";
import { type AttributionTask, DataInf, datainfGroups, GradDot, layerwiseInfluence } from "../methods/index.js";
import { accuracy } from "../model.js";
import { cpuTimed, experimentGradientStore, gradientStoreMetrics, type Log, mlpFor, timed } from "./context.js";

const LORA_DATANETS_PARAMS = {
  seed: param.int({ min: 0 }),
  pool: param.int({ min: 1, max: 28 }),
  hidden: param.int({ min: 1 }),
  rank: param.int({ min: 1, doc: "LoRA rank r (alpha = 2r)" }),
  pretrainN: param.int({ min: 1, doc: "upright images the base MLP is pretrained on" }),
  perDatanet: param.int({ min: 2, doc: "training images per datanet" }),
  nTest: param.int({ min: 1, doc: "test images per datanet" }),
  epochs: param.int({ min: 1 }),
  lr: param.number({ min: 0 }),
  l2: param.number({ min: 0 }),
  lissaIterations: param.list(param.int({ min: 1 }), { minLength: 1, doc: "LiSSA's iterations, tried in order until it matches DataInf's quality" }),
  groups: param.optional(param.list(param.list(param.int({ min: 0, max: 9 }), { minLength: 1 }), { minLength: 2, doc: "class groups, one datanet each (default: one per class)" })),
  gradientStore: param.optional(param.text("the gradient store's folder")),
};

export type DatanetParams = ParamsOf<typeof LORA_DATANETS_PARAMS>;

/** The datanets' domain shift, which the base model never saw (from the one catalogue of shifts). */
export const LORA_DATANET_SHIFT: UnitImageShift = "low-contrast-mid-grey";

const IDENTIFICATION = at("datanetIdentification", "attribution/evaluation/datanet-id.ts");
const COMPARE = at("compareDatainfLissa", "attribution/experiments/lora-datanets.ts");

const LORA_DATANETS_METRICS = {
  "{model}_accuracy_on_datanets": { meaning: "accuracy of the base model and of the LoRA model on the datanets' test images", computedBy: at("accuracy", "attribution/model.ts") },
  "auc_{method}": { meaning: "datanet identification: ROC AUC of scores for examples of the test point's datanet", computedBy: IDENTIFICATION },
  "recall_{method}": { meaning: "datanet identification: share of the top-s scores from the test point's datanet", computedBy: IDENTIFICATION },
  "{method}_seconds": { meaning: "CPU seconds of the per-layer solve (a timing: judged by ./lab bench attribution)", computedBy: COMPARE },
  "{method}_quality": { meaning: "Pearson correlation of the scores with the exact per-layer solve", computedBy: COMPARE },
  lissa_iterations: { meaning: "LiSSA iterations at which it first matches DataInf's quality (the last tried if never)", computedBy: COMPARE },
  lissa_reached_datainf_quality: { meaning: "1 when LiSSA matched DataInf's quality within the iterations tried", computedBy: COMPARE },
  "datainf_speedup_vs_{method}": { meaning: "CPU-time ratio LiSSA / DataInf (a timing: reported, judged against its target by ./lab bench attribution)", computedBy: COMPARE },
  gradient_sets_computed: { meaning: "per-example gradient sets computed and written to the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
  gradient_sets_read: { meaning: "per-example gradient sets read back from the store", computedBy: at("gradientStoreMetrics", "attribution/experiments/context.ts") },
};

type LoraDatanetMetrics = MetricsOf<typeof LORA_DATANETS_METRICS>;

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

/** Stage "datanets": each datanet's training and test images (its classes, labels kept in the 10-class space, shifted), concatenated. */
function shiftedDatanets(p: DatanetParams, used: Set<number>): { train: Sample; test: Sample; trainDatanet: Int32Array; testDatanet: Int32Array } {
  const trains: Sample[] = [],
    tests: Sample[] = [];
  const trainDn: number[] = [],
    testDn: number[] = [];
  datanetGroups(p.groups).forEach((g, d) => {
    const tr = sampleFashion("train", { n: p.perDatanet, seed: p.seed + 10 + d, pool: p.pool, classes: g.classes, exclude: used });
    const te = sampleFashion("test", { n: p.nTest, seed: p.seed + 20 + d, pool: p.pool, classes: g.classes });
    const relabel = (s: Sample): Sample => ({ ...s, y: Int32Array.from(s.y, (c) => g.classes[c]), x: shiftIntensities(s.x, LORA_DATANET_SHIFT) });
    trains.push(relabel(tr));
    tests.push(relabel(te));
    for (let i = 0; i < tr.n; i++) trainDn.push(d);
    for (let i = 0; i < te.n; i++) testDn.push(d);
  });
  return { train: concat(trains), test: concat(tests), trainDatanet: Int32Array.from(trainDn), testDatanet: Int32Array.from(testDn) };
}

/** The stages of loraDatanetSetup, in order, as its progress names them. */
export const LORA_SETUP_STAGES = ["pretraining the base", "LoRA training"] as const;

/**
 * The Factory's MLP pretrained on upright images; LoRA adapters on both layers (fc1, head; alpha =
 * 2r) fine-tuned on the (low-contrast) datanets, both by the Intelligence layer's training step.
 * `onProgress` counts the two trainings, each training's steps shown beside the count.
 */
export async function loraDatanetSetup(p: DatanetParams, onProgress?: OnProgress): Promise<LoraSetup> {
  const progress = stagedProgress(
    onProgress,
    LORA_SETUP_STAGES.map((name) => ({ name, units: 1 })),
  );
  await progress.start(0);
  const all = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const pre = sampleFashion("train", { n: p.pretrainN, seed: p.seed, pool: p.pool, classes: all });
  const mlp = await mlpFor(pre.dim, p.hidden);
  const pretrained = await trainMlp(mlp, pre, { epochs: 15, batchSize: 64, lr: 3e-3, weightDecay: 1e-4, seed: p.seed }, progress.steps(0, "steps"));
  const { train, test, trainDatanet, testDatanet } = shiftedDatanets(p, new Set(pre.source));
  await progress.start(1);
  const lora = await trainLoraMlp(
    mlp,
    pretrained.weights,
    train,
    { r: p.rank, alpha: 2 * p.rank, targets: ["fc1", "head"] },
    { epochs: p.epochs, batchSize: 32, lr: p.lr, weightDecay: p.l2, seed: p.seed },
    progress.steps(1, "steps"),
  );
  progress.end();
  // two contributors per datanet, alternating examples
  const contributorOf = Int32Array.from(trainDatanet, (d, i) => 2 * d + (i % 2));
  return {
    base: pretrained.model,
    baseParams: pretrained.params,
    model: lora.model,
    params: lora.params,
    train,
    test,
    trainDatanet,
    testDatanet,
    contributorOf,
    datanets: datanetGroups(p.groups).map((g) => g.name),
  };
}

/**
 * DataInf vs LiSSA on the same damped per-layer Hessian: each one's quality (Pearson correlation
 * with the `exact` per-layer solve) and CPU seconds; LiSSA's iterations grow through `iterations`
 * until it matches DataInf's quality, and LiSSA with 10 iterations (the DataInf paper's setting) is
 * timed beside. The times are measurements, not claims: `./lab bench attribution` judges the ratio.
 */
export function compareDatainfLissa(G: GradientSet, V: GradientSet, exact: Float64Array, groups: BlockSpan[], iterations: number[], log: Log = () => {}) {
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
  const out = {
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
  } satisfies Partial<LoraDatanetMetrics>;
  log(`  LiSSA 10 iterations (the paper's setting): quality ${out.lissa10_quality.toFixed(4)} in ${li10S.toFixed(2)} CPU s → DataInf ${out.datainf_speedup_vs_lissa10.toFixed(1)}× faster`);
  return out;
}

/** DataInf's datanet identification on LoRA gradients, and DataInf vs LiSSA at equal quality. */
export async function datanetExperiment(p: DatanetParams, log: Log = () => {}): Promise<LoraDatanetMetrics> {
  const s = await loraDatanetSetup(p);
  const out = {} as LoraDatanetMetrics;
  out.base_accuracy_on_datanets = await accuracy(s.base, s.baseParams, s.test);
  out.lora_accuracy_on_datanets = await accuracy(s.model, s.params, s.test);
  log(
    `LoRA r=${p.rank}: ${s.model.numParams} trainable parameters; accuracy on datanet test points ${out.base_accuracy_on_datanets.toFixed(3)} (base) → ${out.lora_accuracy_on_datanets.toFixed(3)} (LoRA)`,
  );
  // stage "identification": each method's scores against the datanets
  const store = experimentGradientStore(p.gradientStore);
  const task: AttributionTask = { model: s.model, params: s.params, train: s.train, test: s.test, l2: p.l2, seed: p.seed, gradients: store };
  for (const m of [new DataInf(), new GradDot(), new GradDot({ cosine: true })]) {
    const [scores, secs] = await timed(() => m.attribute(task));
    const r = datanetIdentification(scores, s.trainDatanet, s.testDatanet);
    const key = m.name.replace(/-/g, "_");
    out[`auc_${key}`] = r.auc;
    out[`recall_${key}`] = r.recall;
    log(`  ${key.padEnd(9)} datanet AUC ${r.auc.toFixed(4)}, recall ${r.recall.toFixed(4)} (${secs.toFixed(2)} s)`);
  }
  // stage "DataInf vs LiSSA": the same per-layer damped Hessian, quality = Pearson with the exact solve
  const G = await store.get(s.model, s.params, s.train);
  const V = await store.get(s.model, s.params, s.test);
  const groups = datainfGroups(s.model.blocks);
  const exact = layerwiseInfluence(G, V, "exact", { groups }).data;
  const exactId = datanetIdentification({ method: "layer-exact", nTest: V.n, nTrain: G.n, data: exact }, s.trainDatanet, s.testDatanet);
  out.auc_layer_exact = exactId.auc;
  out.recall_layer_exact = exactId.recall;
  log(`  layer-exact (same damped per-layer Hessian, solved exactly) datanet AUC ${exactId.auc.toFixed(4)}, recall ${exactId.recall.toFixed(4)}`);
  Object.assign(out, compareDatainfLissa(G, V, exact, groups, p.lissaIterations, log));
  return Object.assign(out, gradientStoreMetrics(store, log));
}

export const LORA_DATANETS = defineExperiment({
  name: "lora-datanets",
  summary: "DataInf on LoRA adapters: datanet identification, and DataInf vs LiSSA at equal quality",
  params: LORA_DATANETS_PARAMS,
  metrics: LORA_DATANETS_METRICS,
  run: datanetExperiment,
});
