import type * as tfjs from "@tensorflow/tfjs";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromRoot, sha256Hex } from "../../files.js";
import { assertWebGpuHealthy, initTf, onHardwareGpu, readBackToCpu, selectBackend, type BackendChoice } from "../../tf/index.js";
import { progress } from "../../notebook/progress.js";
import { rng } from "../../random.js";
import { IntelligenceError, NonFiniteLossError, SpecError } from "../errors.js";
import { shiftedTestSet, type Datanet } from "../datanets.js";
import { baseModel, BASE_MODELS, loadOrPretrainBaseAsync, baseModelDir, resolveBaseModel } from "../models/zoo.js";
import { fromArrays, toArrays, writeDirAtomic } from "../models/checkpoint.js";
import type { ArrayMap, ForwardOptions, Model, WeightMap } from "../models/types.js";
import { countParams, initLora, loraConfig, loraForwardOptions, matchTargetModules, type LoraAdapter, type LoraConfig } from "../lora/index.js";
import { encodeAdapter, peftTaskType, saveAdapter, toPeftConfig } from "../peft/index.js";
import { decodeSafetensors, encodeSafetensors } from "../peft/safetensors.js";
import { batchIndices, batchTensors, evaluateAsync, learningRate, Optimizer, trainStepAsync, type TrainData } from "../train.js";
import { DATANET_CATALOG } from "./catalog.js";
import { liveCurves, type CurvePoint } from "./live.js";
import { canonicalJson, loadSpec, specHash, validateSpec, type FactorySpec } from "./spec.js";
import { modelCard } from "./card.js";

export class RunInterruptedError extends IntelligenceError {
  readonly step: number;
  constructor(step: number, stagingDir: string) {
    super(`run stopped at step ${step}; its state is in ${stagingDir}`, "run the same spec again: it resumes from the last saved state");
    this.step = step;
  }
}

/** One kept checkpoint: what the attribution layer replays (TracIn sums over these). */
export interface FactoryCheckpoint {
  step: number;
  /** Learning rate used for the step that produced these weights (LoRA+ B rate = lr × lr_ratio_b). */
  lr: number;
  loss: number;
  /** Trainable tensors at that step, by PEFT key (LoRA: MODULE.lora_A.weight ...). */
  tensors: ArrayMap;
  dir: string;
}

export interface FactoryMetrics {
  base: { test_loss: number; test_accuracy: number };
  final: { test_loss: number; test_accuracy: number; validation_loss: number; validation_accuracy: number };
  history: Array<{ step: number; loss: number; lr: number }>;
  evals: Array<{ step: number; validation_loss: number; validation_accuracy: number; test_loss: number; test_accuracy: number }>;
  trainable_params: number;
  total_params: number;
  trainable_fraction: number;
  steps: number;
  batch_size: number;
  seconds: number;
  examples_per_second: number;
  /** Model FLOPs per second: 3 × forward FLOPs per example × examples/s (forward + backward). */
  model_gflops_per_second: number;
  /** Tensor memory training adds over the loaded base model: trainable weights, optimizer
   *  state, gradients and the batch, at their peak (measured with the gradients held). */
  training_tensor_bytes: number;
  backend: string;
  resumed_from_step: number | null;
}

export interface SplitData extends TrainData {
  /** Per example: which datanet (index into datanets) and which sample of it. */
  datanetOf: Int32Array;
  sampleOf: Int32Array;
  /** Contributor address of each example. */
  contributorOf: string[];
}

export interface FactoryResult {
  spec: FactorySpec;
  specSha256: string;
  outDir: string;
  model: Model;
  baseWeights: WeightMap;
  baseSha256: string;
  /** The forward options the trained weights need (LoRA scaling, DoRA). */
  forwardOptions: ForwardOptions;
  /** LoRA runs: the trained adapter. */
  adapter?: LoraAdapter;
  /** The weight map of the trained model (base + adapter, or the fine-tuned weights). */
  weights: WeightMap;
  adapterSha256: string;
  metricsSha256: string;
  datanets: Datanet[];
  train: SplitData;
  validation: SplitData;
  test: TrainData;
  checkpoints: FactoryCheckpoint[];
  metrics: FactoryMetrics;
}

export interface FactoryOptions {
  /** Draw live curves in a notebook (default: true when in a notebook). */
  live?: boolean;
  quiet?: boolean;
  /** Stop (as if interrupted) after this many steps of this call, keeping the state to resume. */
  stopAfterSteps?: number;
  signal?: AbortSignal;
  /**
   * Train on this backend instead of the process's (initTf): it is activated, made current and
   * left current. For comparisons of backends in one process (tests, ./lab gpu-bundle).
   */
  backend?: BackendChoice;
  /** Override where outputs go (else spec.output.dir, else experiments/runs/factory/NAME). */
  outDir?: string;
}

function stagingDirOf(spec: FactorySpec, hash: string): string {
  return fromRoot("experiments", ".staging", `factory-${spec.name}-${hash.slice(0, 12)}`);
}

/** Semantic checks that need the model's shape (still before any training). */
export function checkSpecAgainstModel(spec: FactorySpec, model: Model): void {
  if (spec.method !== "lora") return;
  const matched = matchTargetModules(model.linearModules, spec.lora.target_modules);
  if (matched.length === 0) {
    throw new SpecError("lora.target_modules", `${JSON.stringify(spec.lora.target_modules)} match no layer of ${spec.base_model.name}`, `choose among: ${model.linearModules.map((m) => m.name).join(", ")} (suffixes like q_proj match every block)`);
  }
  for (const m of matched) {
    const limit = Math.min(m.inFeatures, m.outFeatures);
    if (spec.lora.r > limit) throw new SpecError("lora.r", `rank ${spec.lora.r} is larger than layer ${m.name} allows (${m.outFeatures}×${m.inFeatures}, so at most ${limit})`, `set lora.r <= ${limit} or drop ${m.name} from lora.target_modules`);
  }
}

export function specLoraConfig(spec: FactorySpec): LoraConfig {
  return loraConfig({
    r: spec.lora.r, loraAlpha: spec.lora.alpha, loraDropout: spec.lora.dropout, targetModules: spec.lora.target_modules,
    useRslora: spec.lora.use_rslora, useDora: spec.lora.use_dora, initLoraWeights: spec.lora.init,
  });
}

function splitDatanets(datanets: Datanet[], fraction: number, seed: number): { train: SplitData; validation: SplitData } {
  const trainRefs: Array<[number, number]> = [], valRefs: Array<[number, number]> = [];
  datanets.forEach((d, di) => {
    const order = rng(seed).fork(`split:${d.id}`).shuffle(Array.from({ length: d.n }, (_, i) => i));
    const nVal = Math.round(d.n * fraction);
    order.forEach((i, k) => (k < nVal ? valRefs : trainRefs).push([di, i]));
  });
  const make = (refs: Array<[number, number]>): SplitData => {
    const d0 = datanets[0];
    const xs = d0.xShape.reduce((a, b) => a * b, 1), ys = d0.yShape.reduce((a, b) => a * b, 1);
    const x = d0.x instanceof Int32Array ? new Int32Array(refs.length * xs) : new Float32Array(refs.length * xs);
    const y = new Int32Array(refs.length * ys);
    refs.forEach(([di, i], k) => {
      const d = datanets[di];
      x.set(d.x.subarray(i * xs, (i + 1) * xs), k * xs);
      y.set(d.y.subarray(i * ys, (i + 1) * ys), k * ys);
    });
    return {
      x, y, n: refs.length, xShape: d0.xShape, yShape: d0.yShape,
      datanetOf: Int32Array.from(refs.map((r) => r[0])), sampleOf: Int32Array.from(refs.map((r) => r[1])),
      contributorOf: refs.map(([di, i]) => datanets[di].contributors[datanets[di].contributorOf[i]].address),
    };
  };
  return { train: make(trainRefs), validation: make(valRefs) };
}

function stateFiles(trainable: Record<string, tfjs.Variable>, opt: Optimizer, meta: unknown): Record<string, Uint8Array | string> {
  const t: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [k, v] of Object.entries(trainable)) t[`param.${k}`] = { shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) };
  for (const [k, v] of Object.entries(opt.m)) t[`adam_m.${k}`] = { shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) };
  for (const [k, v] of Object.entries(opt.v)) t[`adam_v.${k}`] = { shape: v.shape.slice(), data: Float32Array.from(v.dataSync() as Float32Array) };
  return { "state.safetensors": encodeSafetensors(t), "state.json": JSON.stringify(meta) };
}

interface SavedState { step: number; history: FactoryMetrics["history"]; evals: FactoryMetrics["evals"]; seconds: number; specSha256: string }

/**
 * The Model Factory in one call: validate the spec, build (or load) the base model and the
 * datanets, fine-tune, evaluate, and write the outputs (PEFT adapter, kept checkpoints,
 * metrics, model card) atomically. Resumes an interrupted run of the same spec.
 */
export async function runFactory(specOrPath: FactorySpec | string | Record<string, unknown>, opts: FactoryOptions = {}): Promise<FactoryResult> {
  const spec = typeof specOrPath === "string" ? loadSpec(specOrPath) : validateSpec(specOrPath);
  const hash = specHash(spec);
  const runtime = opts.backend ? await selectBackend({ override: opts.backend }) : await initTf({ quiet: opts.quiet });
  const { tf, backend } = runtime;
  const log = (s: string) => { if (!opts.quiet) console.log(s); };
  const onGpu = onHardwareGpu(runtime);
  const baseName = resolveBaseModel(spec.base_model.name, spec.base_model.pretrain, onGpu);
  if (baseName !== spec.base_model.name) log(`${spec.base_model.name}, full pretraining, on ${backend}: the GPU preset ${baseName} (${BASE_MODELS[baseName].description})`);
  const model = baseModel(tf, baseName);
  checkSpecAgainstModel(spec, model);

  // base model: rebuilt from its seed when absent, then checked against the spec's hash
  const baseDir = baseModelDir(baseName, spec.base_model.pretrain, spec.base_model.seed);
  if (!existsSync(join(baseDir, "model.safetensors"))) log(`pretraining base model ${baseName} (${spec.base_model.pretrain}, seed ${spec.base_model.seed}) ...`);
  const base = await loadOrPretrainBaseAsync(tf, baseName, { mode: spec.base_model.pretrain, seed: spec.base_model.seed });
  if (spec.base_model.sha256 && spec.base_model.sha256 !== base.sha256) {
    throw new SpecError("base_model.sha256", `the base model at ${baseDir} has sha256 ${base.sha256}, not ${spec.base_model.sha256}`,
      `set base_model.sha256: ${base.sha256} if this checkpoint is the one you mean; otherwise restore the checkpoint the hash names (same name, pretrain mode, seed${base.recipe?.backend ? `, backend ${String(base.recipe.backend)}` : ""})`);
  }

  // data
  const datanets = spec.data.datanets.map((name) => DATANET_CATALOG[name].build(spec.data.scale));
  const { train, validation } = splitDatanets(datanets, spec.data.validation_fraction, spec.seed);
  if (train.n < spec.training.batch_size) throw new SpecError("training.batch_size", `${spec.training.batch_size} exceeds the ${train.n} training examples`, `set training.batch_size <= ${train.n} or data.scale higher`);
  const entry = DATANET_CATALOG[spec.data.datanets[0]];
  const test: TrainData = entry.modality === "image"
    ? { ...shiftedTestSet(entry.shift!, { limit: spec.evaluation.test_limit }), xShape: [784], yShape: [] }
    : heldOutTest(datanets[0], spec.evaluation.test_limit);

  // what trains
  const memoryBefore = tf.memory().numBytes;
  let adapter: LoraAdapter | undefined;
  let frozen: WeightMap;
  let init: WeightMap;
  let fwd: ForwardOptions = {};
  if (spec.method === "lora") {
    adapter = initLora(model, base.weights, specLoraConfig(spec), spec.seed);
    frozen = base.weights;
    init = adapter.tensors;
    fwd = loraForwardOptions(adapter);
  } else if (spec.method === "full") {
    frozen = {};
    init = Object.fromEntries(Object.entries(base.weights).map(([k, t]) => [k, t.clone()]));
  } else {
    const head = model.linearModules[model.linearModules.length - 1].name;
    frozen = Object.fromEntries(Object.entries(base.weights).filter(([k]) => !k.startsWith(`${head}.`)));
    init = Object.fromEntries(Object.entries(base.weights).filter(([k]) => k.startsWith(`${head}.`)).map(([k, t]) => [k, t.clone()]));
  }
  const trainable: Record<string, tfjs.Variable> = {};
  for (const [k, t] of Object.entries(init)) { trainable[k] = tf.variable(t, true); t.dispose(); }
  const opt = new Optimizer(tf, { name: spec.optimizer.name, lr: spec.optimizer.lr, beta1: spec.optimizer.beta1, beta2: spec.optimizer.beta2, eps: spec.optimizer.eps, weightDecay: spec.optimizer.weight_decay, lrRatioB: spec.optimizer.lr_ratio_b }, trainable);
  const totalSteps = spec.training.steps ?? Math.ceil((spec.training.epochs! * train.n) / spec.training.batch_size);
  const trainableParams = countParams(trainable);
  const totalParams = countParams(base.weights) + (spec.method === "lora" ? trainableParams : 0);

  // resume
  const staging = stagingDirOf(spec, hash);
  const stateDir = join(staging, "state");
  const ckptRoot = join(staging, "checkpoints");
  let history: FactoryMetrics["history"] = [];
  let evals: FactoryMetrics["evals"] = [];
  let startStep = 0;
  let secondsBefore = 0;
  let resumedFrom: number | null = null;
  if (existsSync(join(stateDir, "state.json"))) {
    const meta = JSON.parse(readFileSync(join(stateDir, "state.json"), "utf8")) as SavedState;
    const { tensors } = decodeSafetensors(readFileSync(join(stateDir, "state.safetensors")));
    for (const k of Object.keys(trainable)) {
      trainable[k].assign(tf.tensor(tensors[`param.${k}`].data, tensors[`param.${k}`].shape));
      if (opt.m[k]) { opt.m[k].assign(tf.tensor(tensors[`adam_m.${k}`].data, tensors[`adam_m.${k}`].shape)); opt.v[k].assign(tf.tensor(tensors[`adam_v.${k}`].data, tensors[`adam_v.${k}`].shape)); }
    }
    opt.step = meta.step;
    startStep = meta.step;
    history = meta.history;
    evals = meta.evals;
    secondsBefore = meta.seconds;
    resumedFrom = meta.step;
    log(`resuming ${spec.name} from step ${meta.step} (${stateDir})`);
  }
  mkdirSync(ckptRoot, { recursive: true });
  // one live run per spec: a second process resuming the same staging folder would interleave checkpoints
  const lockFile = join(staging, "lock");
  if (existsSync(lockFile)) {
    const other = Number(readFileSync(lockFile, "utf8"));
    let alive = false;
    if (other && other !== process.pid) { try { process.kill(other, 0); alive = true; } catch { alive = false; } }
    if (alive) throw new IntelligenceError(`another run of spec ${spec.name} (process ${other}) is using ${staging}`, `wait for it to finish, or stop process ${other}; a stopped run resumes when started again`);
  }
  writeFileSync(lockFile, String(process.pid));

  const evalNow = async (weights: WeightMap) => {
    const v = await evaluateAsync(model, weights, validation, fwd);
    const t = await evaluateAsync(model, weights, test, fwd);
    return { validation_loss: v.loss, validation_accuracy: v.accuracy, test_loss: t.loss, test_accuracy: t.accuracy };
  };
  const baseEval = await evaluateAsync(model, base.weights, test, {});
  const isClassifier = model.task === "image-classification";
  const curves = opts.live === false ? undefined : liveCurves(`${spec.name}: ${spec.method}${spec.method === "lora" ? ` r=${spec.lora.r}` : ""}`, { accuracy: isClassifier });
  const toCurve = () => [
    history.map((h) => ({ step: h.step, loss: h.loss }) as CurvePoint),
    evals.map((e) => ({ step: e.step, valLoss: e.validation_loss, valAccuracy: e.validation_accuracy, testAccuracy: e.test_accuracy }) as CurvePoint),
  ] as const;

  // tensors are read back asynchronously first: WebGPU has no synchronous read-back
  const stateTensors = () => [...Object.values(trainable), ...Object.values(opt.m), ...Object.values(opt.v)];
  const saveState = async (step: number, seconds: number) => {
    await readBackToCpu(stateTensors());
    writeDirAtomic(stateDir, stateFiles(trainable, opt, { step, history, evals, seconds, specSha256: hash } satisfies SavedState));
  };
  const saveCheckpointAt = async (step: number, lr: number, loss: number) => {
    await readBackToCpu(Object.values(trainable));
    const name = `step-${String(step).padStart(6, "0")}`;
    const tensors = Object.fromEntries(Object.entries(trainable).map(([k, v]) => [k, v as tfjs.Tensor]));
    const files: Record<string, Uint8Array | string> = { "meta.json": JSON.stringify({ step, lr, lr_b: spec.method === "lora" ? lr * spec.optimizer.lr_ratio_b : lr, loss }, null, 2) + "\n" };
    if (adapter) {
      files["adapter_config.json"] = JSON.stringify(toPeftConfig(adapter.config, spec.base_model.name, peftTaskType(model.task)), null, 2) + "\n";
      files["adapter_model.safetensors"] = encodeAdapter({ ...adapter, tensors });
    } else {
      files["model.safetensors"] = encodeSafetensors(toArrays(tensors), { format: "pt" });
    }
    writeDirAtomic(join(ckptRoot, name), files);
    const kept = readdirSync(ckptRoot).filter((d) => /^step-\d+$/.test(d)).sort();
    for (const old of kept.slice(0, Math.max(0, kept.length - spec.checkpoints.keep))) rmSync(join(ckptRoot, old), { recursive: true, force: true });
  };

  const bar = opts.quiet ? undefined : progress(`factory ${spec.name}`, totalSteps);
  bar?.tick(startStep);
  const started = Date.now();
  let peak = 0;
  let stepsThisCall = 0;
  let lastLoss = history.length ? history[history.length - 1].loss : NaN;
  const lastCheckpointDir = () => { const k = readdirSync(ckptRoot).filter((d) => /^step-\d+$/.test(d)).sort(); return k.length ? join(ckptRoot, k[k.length - 1]) : "(none yet)"; };
  try {
    for (let step = startStep; step < totalSteps; step++) {
      if (opts.signal?.aborted || (opts.stopAfterSteps !== undefined && stepsThisCall >= opts.stopAfterSteps)) {
        await saveState(step, secondsBefore + (Date.now() - started) / 1000);
        bar?.done("interrupted");
        throw new RunInterruptedError(step, staging);
      }
      const lr = learningRate(spec.optimizer.lr, { kind: spec.schedule.kind, warmupSteps: spec.schedule.warmup_steps }, step, totalSteps);
      const stepFwd: ForwardOptions = { ...fwd, training: true, dropoutSeed: (spec.seed * 1000003 + step) >>> 0 };
      let loss: number;
      try {
        const r = await trainStepAsync(model, frozen, trainable, opt, batchTensors(model, train, batchIndices(train.n, spec.training.batch_size, spec.seed, step)), lr, stepFwd, step);
        if (backend === "webgpu") assertWebGpuHealthy();
        loss = r.loss;
        peak = Math.max(peak, r.bytesWithGradients - memoryBefore);
      } catch (error) {
        if (error instanceof NonFiniteLossError) {
          throw new NonFiniteLossError(step, `${spec.name}: loss became non-finite at step ${step}; training stopped. The last good checkpoint is ${lastCheckpointDir()}`, error.hint);
        }
        throw error;
      }
      lastLoss = loss;
      stepsThisCall++;
      history.push({ step: step + 1, loss, lr });
      const done = step + 1;
      if (done % spec.evaluation.every === 0 || done === totalSteps) {
        const weights = { ...frozen, ...trainable };
        evals.push({ step: done, ...(await evalNow(weights)) });
      }
      if (done % spec.checkpoints.every === 0 || done === totalSteps) {
        await saveCheckpointAt(done, lr, loss);
        await saveState(done, secondsBefore + (Date.now() - started) / 1000);
      }
      bar?.tick(1, `loss ${loss.toFixed(4)}${evals.length ? ` val ${evals[evals.length - 1].validation_loss.toFixed(4)}` : ""}`);
      if (curves) curves.update(...toCurve());
    }
  } finally {
    opt.dispose();
    rmSync(lockFile, { force: true });
  }
  bar?.done(`loss ${lastLoss.toFixed(4)}`);
  curves?.done(...toCurve());
  const seconds = secondsBefore + (Date.now() - started) / 1000;

  // outputs
  const weights: WeightMap = { ...frozen, ...trainable };
  const finalEval = evals.length && evals[evals.length - 1].step === totalSteps ? evals[evals.length - 1] : { step: totalSteps, ...(await evalNow(weights)) };
  const examplesPerSecond = ((totalSteps - (resumedFrom ?? 0)) * spec.training.batch_size) / Math.max(1e-9, seconds - secondsBefore);
  const metrics: FactoryMetrics = {
    base: { test_loss: baseEval.loss, test_accuracy: baseEval.accuracy },
    final: { test_loss: finalEval.test_loss, test_accuracy: finalEval.test_accuracy, validation_loss: finalEval.validation_loss, validation_accuracy: finalEval.validation_accuracy },
    history, evals,
    trainable_params: trainableParams, total_params: totalParams, trainable_fraction: trainableParams / totalParams,
    steps: totalSteps, batch_size: spec.training.batch_size, seconds,
    examples_per_second: examplesPerSecond,
    model_gflops_per_second: (3 * model.flopsPerExample() * examplesPerSecond) / 1e9,
    training_tensor_bytes: peak, backend, resumed_from_step: resumedFrom,
  };
  const metricsJson = JSON.stringify(metrics, null, 2) + "\n";
  const metricsSha256 = sha256Hex(metricsJson);
  const finalAdapter = adapter ? { ...adapter, tensors: Object.fromEntries(Object.entries(trainable).map(([k, v]) => [k, v as tfjs.Tensor])) } : undefined;
  const outDir = opts.outDir ?? spec.output.dir ?? fromRoot("experiments", "runs", "factory", spec.name);
  const outStage = join(staging, "out");
  rmSync(outStage, { recursive: true, force: true });
  await readBackToCpu(Object.values(trainable));
  let adapterSha256: string;
  if (finalAdapter) {
    adapterSha256 = saveAdapter(join(outStage, "adapter"), finalAdapter, { baseModelNameOrPath: spec.base_model.name, taskType: peftTaskType(model.task) }).sha256;
  } else {
    const bytes = encodeSafetensors(toArrays(trainable), { format: "pt" });
    adapterSha256 = sha256Hex(bytes);
    writeDirAtomic(join(outStage, "weights"), { "model.safetensors": bytes });
  }
  const checkpoints: FactoryCheckpoint[] = [];
  const files: Record<string, string | Uint8Array> = {
    "spec.json": canonicalJson(spec) + "\n",
    "metrics.json": metricsJson,
  };
  for (const d of datanets) files[`datanets/${d.name}.manifest.json`] = JSON.stringify(d.manifest) + "\n";
  const result = {
    name: spec.name, method: spec.method, base_model: spec.base_model.name, base_model_sha256: base.sha256, adapter_sha256: adapterSha256,
    spec_sha256: hash, metrics_sha256: metricsSha256, datanet_ids: datanets.map((d) => d.id), backend,
    ...(baseName !== spec.base_model.name ? { base_model_preset: baseName } : {}),
    ...(runtime.adapter ? { gpu_adapter: { vendor: runtime.adapter.vendor, architecture: runtime.adapter.architecture, device: runtime.adapter.device, description: runtime.adapter.description, software: runtime.adapter.software } } : {}),
  };
  files["result.json"] = JSON.stringify(result, null, 2) + "\n";
  files["model_card.md"] = modelCard({ spec, result, metrics, datanets, baseRecipe: BASE_MODELS[baseName], baseMeta: base.recipe ?? {} });
  for (const [name, data] of Object.entries(files)) {
    const p = join(outStage, name);
    mkdirSync(join(p, ".."), { recursive: true });
    writeDirAtomicFile(p, data);
  }
  // kept checkpoints move into the output
  const kept = readdirSync(ckptRoot).filter((d) => /^step-\d+$/.test(d)).sort();
  mkdirSync(join(outStage, "checkpoints"), { recursive: true });
  for (const k of kept) renameSync(join(ckptRoot, k), join(outStage, "checkpoints", k));
  if (existsSync(outDir)) rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, ".."), { recursive: true });
  renameSync(outStage, outDir);
  rmSync(staging, { recursive: true, force: true });
  for (const k of kept) {
    const dir = join(outDir, "checkpoints", k);
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    const file = adapter ? "adapter_model.safetensors" : "model.safetensors";
    const { tensors } = decodeSafetensors(readFileSync(join(dir, file)));
    const byKey: ArrayMap = {};
    for (const [key, t] of Object.entries(tensors)) byKey[key.replace(/^base_model\.model\./, "")] = t;
    checkpoints.push({ step: meta.step, lr: meta.lr, loss: meta.loss, tensors: byKey, dir });
  }
  log(`factory ${spec.name}: test accuracy ${(metrics.final.test_accuracy * 100).toFixed(2)}% (base ${(metrics.base.test_accuracy * 100).toFixed(2)}%), test loss ${metrics.final.test_loss.toFixed(4)}; outputs in ${outDir}`);
  return {
    spec, specSha256: hash, outDir, model, baseWeights: base.weights, baseSha256: base.sha256, forwardOptions: fwd, adapter: finalAdapter,
    weights, adapterSha256, metricsSha256, datanets, train, validation, test, checkpoints, metrics,
  };
}

function heldOutTest(d: Datanet, limit: number): TrainData {
  if (!d.heldOut || d.heldOut.n === 0) throw new IntelligenceError(`datanet ${d.name} has no held-out documents to test on`, "lower data.scale so some documents stay unused");
  const n = Math.min(limit, d.heldOut.n);
  const T = d.heldOut.xShape[0];
  return { x: d.heldOut.x.subarray(0, n * T), y: d.heldOut.y.subarray(0, n * T), n, xShape: d.heldOut.xShape, yShape: d.heldOut.yShape };
}

function writeDirAtomicFile(path: string, data: string | Uint8Array): void {
  // the whole output folder is renamed into place at the end; files inside need no temp names
  rmSync(path, { force: true });
  writeFileSync(path, data);
}

/** Loads the trainable tensors of a kept checkpoint back as tensors (for replay). */
export function checkpointWeights(model: Model, ckpt: FactoryCheckpoint): WeightMap {
  return fromArrays(model.tf, ckpt.tensors);
}

/**
 * For attribution: the per-example loss [n] as a function of the trainable tensors alone (LoRA
 * A/B, or the fine-tuned weights), everything else fixed at the base model. Pass a checkpoint's
 * tensors (checkpointWeights) to evaluate at that step; wrap in tf.grad(s) for gradients.
 */
export function trainableLoss(result: Pick<FactoryResult, "model" | "baseWeights" | "forwardOptions">): (trainable: WeightMap, x: import("../models/types.js").Tensor, y: import("../models/types.js").Tensor) => import("../models/types.js").Tensor {
  const { model, baseWeights, forwardOptions } = result;
  return (trainable, x, y) => model.perExampleLoss({ ...baseWeights, ...trainable }, x, y, { ...forwardOptions, training: false });
}
