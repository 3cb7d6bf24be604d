/**
 * Attribution layer throughput on this machine:
 *  - per-example gradients of Model Factory models (TensorFlow.js, the lab's backend): one batched
 *    pass with captured dense inputs and signals vs one tf.grads call per example, on the Factory MLP
 *    at batch 256 (targets: ≥ 10×) and the fortunes GPT with LoRA (target: ≥ 5×);
 *  - DataInf's identification AUC on the language-model datanets (target: ≥ 0.95);
 *  - scored train × test pairs/s for Grad-Dot, DataInf, exact influence and TRAK (logistic regression);
 *  - Hessian-vector products of the Factory MLP and the LoRA GPT: exact (double back-propagation) vs
 *    central differences, time ratio and the finite-difference product's relative error;
 *  - memory of a stored gradient set of the Factory MLP with and without projection;
 *  - DataInf vs LiSSA on the same per-layer damped Hessian of the LoRA MLP (the lora-datanets spec):
 *    CPU time, LiSSA's at DataInf's quality and at 10 iterations (targets: DataInf ≥ 5× faster).
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compareDatainfLissa, type DatanetParams, type LmDatanetParams, lmAttribution, loadAttributionSpec, loraDatanetSetup } from "../lib/attribution/experiments/index.js";
import { FactoryModel, lmBatch } from "../lib/attribution/factory-model.js";
import { attributionMlp, trainMlp } from "../lib/attribution/factory-train.js";
import { sampleFashion } from "../lib/attribution/fmnist-features.js";
import { perExampleGradients } from "../lib/attribution/gradients.js";
import { norm } from "../lib/attribution/linalg.js";
import { type Attributor, DataInf, datainfGroups, ExactInfluence, GradDot, layerwiseInfluence, TRAK } from "../lib/attribution/methods/index.js";
import type { Batch } from "../lib/attribution/model.js";
import { finiteDifferenceHvp, hessianVectorProduct, LogisticRegression, subset } from "../lib/attribution/model.js";
import { fitNewton } from "../lib/attribution/retrain.js";
import { printTable, timeMs } from "../lib/bench/bench-tables.js";
import { experimentParams } from "../lib/experiments/index.js";
import { createGpt, createMlp, type ForwardOptions, gptConfig, initLora, loraConfig, loraForwardOptions, MLP_CONFIG, type Model, pretrainData, type WeightMap } from "../lib/intelligence/index.js";
import { roleOf } from "../lib/intelligence/models/peft-keys.js";
import { rng } from "../lib/random.js";
import { initTf } from "../lib/tf/index.js";

const quick = process.argv.includes("--quick");
const seconds = async (f: () => unknown) => {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
};

// 0 · per-example gradients of Model Factory models: batched capture vs a tf.grads loop
const { tf } = await initTf({ quiet: true });
const factoryRows: Record<string, string | number>[] = [];
const factoryCase = async (label: string, target: string, model: Model, weights: WeightMap, trainable: string[], fwd: ForwardOptions, batch: Batch, loopN: number) => {
  const fm = new FactoryModel({ model, weights, trainable, forwardOptions: fwd });
  const params = await fm.readParams(weights);
  const batched = (await timeMs(() => fm.gradientRows(params, batch, "loss"), 3)) / 1000;
  const head = subset(
    batch,
    Array.from({ length: loopN }, (_, i) => i),
  );
  const looped = (await timeMs(() => fm.gradientRowsByLoop(params, head, "loss"), 1)) / 1000;
  const ratio = batch.n / batched / (loopN / looped);
  factoryRows.push({
    model: label,
    "trainable params": fm.numParams,
    batch: batch.n,
    "batched gradients/s": Math.round(batch.n / batched),
    "loop gradients/s": Math.round(loopN / looped),
    "× loop": ratio,
    target,
    met: ratio >= Number(target.replace(/[^\d.]/g, "")) ? "yes" : "no",
  });
};
{
  const mlpModel = createMlp(tf, MLP_CONFIG);
  const mlpBase = mlpModel.init(1);
  const images = sampleFashion("train", { n: 256, seed: 3, pool: 1 });
  const mlpBatch: Batch = { x: images.x, y: images.y, n: 256, dim: 784 };
  const adapter = initLora(mlpModel, mlpBase, loraConfig({ r: 3, loraAlpha: 6, targetModules: ["fc1", "fc2"] }), 1);
  for (const k of Object.keys(adapter.tensors)) if (roleOf(k) === "lora_B") adapter.tensors[k] = tf.randomNormal(adapter.tensors[k].shape, 0, 0.02, "float32", 1);
  await factoryCase(
    "Factory MLP 784-256-128-10, LoRA r=3 (fc1, fc2)",
    ">= 10",
    mlpModel,
    { ...mlpBase, ...adapter.tensors },
    Object.keys(adapter.tensors),
    loraForwardOptions(adapter),
    mlpBatch,
    quick ? 32 : 64,
  );
  const full = mlpModel.linearModules.flatMap((m) => [`${m.name}.weight`, `${m.name}.bias`]);
  await factoryCase("Factory MLP 784-256-128-10, full fine-tuning", ">= 10", mlpModel, mlpBase, full, {}, mlpBatch, quick ? 32 : 64);
  const gpt = createGpt(tf, gptConfig());
  const gptBase = gpt.init(1);
  const windows = pretrainData("fortunes-gpt");
  const nWin = quick ? 32 : 64;
  const T = gptConfig().blockSize;
  const gptBatch = lmBatch(windows.x.subarray(0, nWin * T), windows.y.subarray(0, nWin * T), nWin, T);
  const lora = initLora(gpt, gptBase, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["v_proj", "fc_out", "lm_head"] }), 1);
  for (const k of Object.keys(lora.tensors)) if (roleOf(k) === "lora_B") lora.tensors[k] = tf.randomNormal(lora.tensors[k].shape, 0, 0.02, "float32", 2);
  await factoryCase(
    "fortunes GPT (2×64, block 48), LoRA r=2 (v_proj, fc_out, lm_head)",
    ">= 5",
    gpt,
    { ...gptBase, ...lora.tensors },
    Object.keys(lora.tensors),
    loraForwardOptions(lora),
    gptBatch,
    quick ? 8 : 16,
  );
}
printTable(`Per-example gradients of Model Factory models on ${tf.getBackend()}: one batched pass vs one tf.grads call per example`, factoryRows);

// 0b · DataInf's identification task on the language-model datanets
{
  // the spec's identification task alone: no re-trainings for LDS or removal, one TRAK model
  const params = experimentParams<LmDatanetParams>(loadAttributionSpec("lm-datanets"), { quick, overrides: { ldsSubsets: 0, counterfactualTests: 0, trakModels: 1 } });
  const r = await lmAttribution({ ...params, gradientStore: mkdtempSync(join(tmpdir(), "bench-lm-")) });
  printTable(
    `Identification on the LM datanets (${r.metrics.train_windows} windows, ${quick ? "quick" : "full"} spec settings): do the most influential windows come from the test prompt's datanet?`,
    Object.entries(r.identification).map(([method, v]) => ({
      method,
      AUC: v.auc,
      recall: v.recall,
      target: method === "datainf" ? ">= 0.95" : "",
      met: method === "datainf" ? (v.auc >= 0.95 ? "yes" : "no") : "",
    })),
  );
}

// 1 · the Factory MLP of the mlp-fmnist experiment, trained briefly: its gradients fill section 3
const n = quick ? 256 : 1024;
const train = sampleFashion("train", { n, seed: 1, pool: 2 });
const mlpRun = await trainMlp(attributionMlp(tf, train.dim, 64, 10), train, { epochs: 2, batchSize: 64, lr: 3e-3, weightDecay: 1e-4, seed: 1 });
const mlp = mlpRun.model,
  mlpParams = mlpRun.params;

// 1b · Hessian-vector products: exact (the gradient of ⟨∇L, v⟩, one double back-propagation) vs
// central differences of two gradients; the exact product is within float32 rounding of a float64
// reference (test/unit/attribution/fidelity.test.ts), so its distance to the finite-difference one
// is the latter's error
{
  const hvpRows: Record<string, string | number>[] = [];
  const hvpCase = async (label: string, model: FactoryModel, params: Float64Array, batch: Batch) => {
    const r = rng(7);
    const v = Float64Array.from({ length: model.numParams }, () => r.normal());
    let exact = new Float64Array(0),
      fd = new Float64Array(0);
    const exactMs = await timeMs(async () => {
      exact = await hessianVectorProduct(model, params, batch, v, 0);
    }, 3);
    const fdMs = await timeMs(async () => {
      fd = await finiteDifferenceHvp(model, params, batch, v, 0);
    }, 3);
    hvpRows.push({
      model: label,
      parameters: model.numParams,
      batch: batch.n,
      "exact ms": exactMs,
      "finite-difference ms": fdMs,
      "exact / finite-difference time": exactMs / fdMs,
      "finite-difference relative error": norm(fd.map((x, i) => x - exact[i])) / norm(exact),
    });
  };
  await hvpCase(`Factory MLP ${train.dim}-64-10, full fine-tuning`, mlp, mlpParams, train);
  const gpt = createGpt(tf, gptConfig());
  const gptBase = gpt.init(1);
  const windows = pretrainData("fortunes-gpt");
  const T = gptConfig().blockSize;
  const nWin = quick ? 16 : 64;
  const lora = initLora(gpt, gptBase, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["v_proj", "fc_out", "lm_head"] }), 1);
  for (const k of Object.keys(lora.tensors)) if (roleOf(k) === "lora_B") lora.tensors[k] = tf.randomNormal(lora.tensors[k].shape, 0, 0.02, "float32", 2);
  const weights = { ...gptBase, ...lora.tensors };
  const fm = new FactoryModel({ model: gpt, weights, trainable: Object.keys(lora.tensors), forwardOptions: loraForwardOptions(lora) });
  await hvpCase(
    "fortunes GPT (2×64, block 48), LoRA r=2 (v_proj, fc_out, lm_head)",
    fm,
    await fm.readParams(weights),
    lmBatch(windows.x.subarray(0, nWin * T), windows.y.subarray(0, nWin * T), nWin, T),
  );
  printTable(`Hessian-vector products on ${tf.getBackend()}: exact (double back-propagation) vs central differences of gradients (median of 3)`, hvpRows);
}

// 2 · scored pairs per second
const lrTrain = sampleFashion("train", { n: quick ? 300 : 1000, seed: 1, pool: 4 });
const lrTest = sampleFashion("test", { n: quick ? 20 : 100, seed: 2, pool: 4 });
const lr = new LogisticRegression(lrTrain.dim, 10);
const lrParams = await fitNewton(lr, lrTrain, { l2: 0.01 });
const task = { model: lr, params: lrParams, train: lrTrain, test: lrTest, l2: 0.01, seed: 1 };
const pairs = lrTrain.n * lrTest.n;
const methods: [string, Attributor][] = [
  ["grad-dot", new GradDot()],
  ["datainf", new DataInf()],
  ["influence-exact", new ExactInfluence()],
  ["trak-1 (k=256)", new TRAK({ projectionDim: 256 })],
];
/** One timed attribution per method, one after the other. */
async function pairRates(ms: [string, Attributor][]): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  for (const [name, m] of ms) {
    const s = await seconds(() => m.attribute(task));
    rows.push({ method: name, seconds: s, "pairs/s": Math.round(pairs / s) });
  }
  return rows;
}
printTable(`Scored train × test pairs per second (logistic regression, ${lr.numParams} parameters, ${lrTrain.n} × ${lrTest.n})`, await pairRates(methods));

// 3 · memory with and without projection
const full = await perExampleGradients(mlp, mlpParams, train);
const rows = [{ gradients: "full", dimension: full.dim, MiB: full.data.byteLength / 2 ** 20, "× full": 1 }];
for (const k of [2048, 512, 128]) {
  const g = await perExampleGradients(mlp, mlpParams, train, { projection: { kind: "rademacher", dim: k, seed: 1 } });
  rows.push({ gradients: `Rademacher k=${k}`, dimension: k, MiB: g.data.byteLength / 2 ** 20, "× full": g.data.byteLength / full.data.byteLength });
}
printTable(`Stored per-example gradients, Factory MLP ${train.dim}-64-10 (${mlp.numParams} parameters), ${n} examples`, rows);

// 4 · DataInf vs LiSSA at equal quality: the lora-datanets spec's setting, CPU time, median of 3
{
  const p = experimentParams<DatanetParams>(loadAttributionSpec("lora-datanets"), { quick });
  const s = await loraDatanetSetup(p);
  const G = await perExampleGradients(s.model, s.params, s.train);
  const V = await perExampleGradients(s.model, s.params, s.test);
  const groups = datainfGroups(s.model.blocks);
  const exact = layerwiseInfluence(G, V, "exact", { groups }).data;
  const runs = [1, 2, 3].map(() => compareDatainfLissa(G, V, exact, groups, p.lissaIterations));
  const median = (key: keyof (typeof runs)[number]) => runs.map((r) => r[key]).sort((x, y) => x - y)[1];
  const judged = (ratio: number) => ({ target: ">= 5", met: ratio >= 5 ? "yes" : "no" });
  printTable(`DataInf vs LiSSA on one damped per-layer Hessian, LoRA r=${p.rank} (${s.model.numParams} parameters, ${G.n} × ${V.n}; CPU seconds, median of 3)`, [
    { solver: "DataInf (closed form)", "CPU s": median("datainf_seconds"), "quality (Pearson vs exact)": median("datainf_quality"), "DataInf speed-up": 1, target: "", met: "" },
    {
      solver: `LiSSA at DataInf's quality (${median("lissa_iterations")} iterations)`,
      "CPU s": median("lissa_seconds"),
      "quality (Pearson vs exact)": median("lissa_quality"),
      "DataInf speed-up": median("datainf_speedup_vs_lissa"),
      ...judged(median("datainf_speedup_vs_lissa")),
    },
    {
      solver: "LiSSA, 10 iterations (DataInf paper: 5.6×, RoBERTa-large LoRA r=8 on GLUE-MRPC)",
      "CPU s": median("lissa10_seconds"),
      "quality (Pearson vs exact)": median("lissa10_quality"),
      "DataInf speed-up": median("datainf_speedup_vs_lissa10"),
      ...judged(median("datainf_speedup_vs_lissa10")),
    },
  ]);
}
