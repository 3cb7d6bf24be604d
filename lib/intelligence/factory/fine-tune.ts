import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { cacheDir } from "../../cache.js";
import { assertWebGpuHealthy, type BackendChoice, initTf, onHardwareGpu, selectBackend } from "../../tf/index.js";
import type { Datanet } from "../datanets.js";
import { IntelligenceError, NonFiniteLossError, SpecError } from "../errors.js";
import { countParams, initLora, type LoraAdapter, type LoraConfig, loraConfig, loraForwardOptions } from "../lora/index.js";
import { fromArrays, type LoadedCheckpoint } from "../models/checkpoint.js";
import type { ForwardOptions, Model, Tensor, Tf, WeightMap } from "../models/types.js";
import { BASE_MODELS, baseModel, baseModelDir, loadOrPretrainBase, resolveBaseModel } from "../models/zoo.js";
import { evaluate, Optimizer, type OptimizerConfig, type TrainData } from "../train.js";
import { runTrainingLoop, type StepReport, trainableVariables } from "../training-loop.js";
import { type FactoryCheckpoint, lastCheckpointDir, readCheckpoints, writeCheckpoint } from "./checkpoints.js";
import { checkSpecAgainstModel, type FactoryData, factoryData, type SplitData } from "./factory-data.js";
import { type FactoryMetrics, factoryMetrics } from "./factory-metrics.js";
import { type FactorySpec, loadSpec, specHash, validateSpec } from "./factory-spec.js";
import { writeFactoryOutputs } from "./outputs.js";
import { type FactoryStaging, factoryStaging, lockStaging, restoreTrainingState, type SavedState, saveTrainingState } from "./state.js";

export class RunInterruptedError extends IntelligenceError {
  readonly step: number;
  constructor(step: number, stagingDir: string) {
    super({
      code: "factory/interrupted",
      message: `run stopped at step ${step}; its state is in ${stagingDir}`,
      hint: "run the same spec again: it resumes from the last saved state",
      fields: { step, stagingDir },
    });
    this.step = step;
  }
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

/** One evaluation of the model being trained, on the validation and test splits. */
export type FactoryEvaluation = FactoryMetrics["evals"][number];

/**
 * How a run reports its progress: the Factory calls these and draws nothing itself; a
 * notebook draws live curves, the terminal a bar (lib/notebook/factory.ts).
 */
export interface FactoryCallbacks {
  /** Before the first step of this call; a resumed run passes the history it restored. */
  onStart?(start: { spec: FactorySpec; classifier: boolean; totalSteps: number; startStep: number; history: FactoryMetrics["history"]; evals: FactoryEvaluation[] }): void;
  /** After each training step (and after its evaluation and checkpoint, if any). */
  onStep?(step: { step: number; totalSteps: number; loss: number; lr: number; lastEvaluation?: FactoryEvaluation }): void;
  onEvaluation?(evaluation: FactoryEvaluation): void;
  onCheckpoint?(checkpoint: { step: number; dir: string }): void;
}

export interface FactoryOptions extends FactoryCallbacks {
  /** No console lines (base-model pretraining, resume, the final summary). */
  quiet?: boolean;
  /** Stop (as if interrupted) after this many steps of this call, keeping the state to resume. */
  stopAfterSteps?: number;
  signal?: AbortSignal;
  /**
   * Train on this backend instead of the process's (initTf): it is activated, made current and
   * left current. For comparisons of backends in one process (tests, ./lab gpu-bundle).
   */
  backend?: BackendChoice;
  /** Override where outputs go (else spec.output.dir, else the factory cache: .lab/cache/factory/NAME). */
  outDir?: string;
}

export function specLoraConfig(spec: FactorySpec): LoraConfig {
  return loraConfig({
    r: spec.lora.r,
    loraAlpha: spec.lora.alpha,
    loraDropout: spec.lora.dropout,
    targetModules: spec.lora.target_modules,
    useRslora: spec.lora.use_rslora,
    useDora: spec.lora.use_dora,
    initLoraWeights: spec.lora.init,
  });
}

/**
 * Stage "base model": `baseName` (the spec's base model, or the GPU preset resolveBaseModel
 * picks for it) rebuilt from its seed when absent, then checked against the spec's sha256,
 * naming the hash found (a checkpoint built on another backend differs).
 */
export async function factoryBase(tf: Tf, spec: FactorySpec, baseName: string, log: (line: string) => void): Promise<LoadedCheckpoint> {
  const baseDir = baseModelDir(baseName, spec.base_model.pretrain, spec.base_model.seed);
  if (!existsSync(join(baseDir, "model.safetensors"))) log(`pretraining base model ${baseName} (${spec.base_model.pretrain}, seed ${spec.base_model.seed}) ...`);
  const base = await loadOrPretrainBase(tf, baseName, { mode: spec.base_model.pretrain, seed: spec.base_model.seed });
  if (spec.base_model.sha256 && spec.base_model.sha256 !== base.sha256) {
    throw new SpecError(
      "base_model.sha256",
      `the base model at ${baseDir} has sha256 ${base.sha256}, not ${spec.base_model.sha256}`,
      `set base_model.sha256: ${base.sha256} if this checkpoint is the one you mean; otherwise restore the checkpoint the hash names (same name, pretrain mode, seed${base.recipe?.backend ? `, backend ${String(base.recipe.backend)}` : ""})`,
      { code: "spec/base-hash-mismatch", fields: { expected: spec.base_model.sha256, actual: base.sha256, dir: baseDir } },
    );
  }
  return base;
}

/** What trains and what stays fixed. */
export interface TrainableSetup {
  adapter?: LoraAdapter;
  /** Weights held fixed during training (the base model for LoRA, all but the head for "head"). */
  frozen: WeightMap;
  trainable: Record<string, tfjs.Variable>;
  forward: ForwardOptions;
}

/**
 * Stage "what trains": a LoRA adapter on the frozen base (initialised from the spec's seed),
 * a copy of every weight (full fine-tuning), or a copy of the output layer alone (head).
 */
export function initTrainable(tf: Tf, model: Model, baseWeights: WeightMap, spec: FactorySpec): TrainableSetup {
  let adapter: LoraAdapter | undefined;
  let frozen: WeightMap;
  let init: WeightMap;
  let forward: ForwardOptions = {};
  if (spec.method === "lora") {
    adapter = initLora(model, baseWeights, specLoraConfig(spec), spec.seed);
    frozen = baseWeights;
    init = adapter.tensors;
    forward = loraForwardOptions(adapter);
  } else if (spec.method === "full") {
    frozen = {};
    init = Object.fromEntries(Object.entries(baseWeights).map(([k, t]) => [k, t.clone()]));
  } else {
    const head = model.linearModules[model.linearModules.length - 1].name;
    const inHead = (k: string) => k.startsWith(`${head}.`);
    frozen = Object.fromEntries(Object.entries(baseWeights).filter(([k]) => !inHead(k)));
    init = Object.fromEntries(
      Object.entries(baseWeights)
        .filter(([k]) => inHead(k))
        .map(([k, t]) => [k, t.clone()]),
    );
  }
  const trainable = trainableVariables(tf, init);
  for (const t of Object.values(init)) t.dispose();
  return { adapter, frozen, trainable, forward };
}

/** The optimizer a spec names, over the trainable variables (its moments start at zero). */
export function specOptimizer(tf: Tf, spec: FactorySpec, trainable: Record<string, tfjs.Variable>): Optimizer {
  return new Optimizer(tf, specOptimizerConfig(spec), trainable);
}

/** The optimizer settings of a spec (optimizer.*), in the training step's terms. */
export function specOptimizerConfig(spec: FactorySpec): OptimizerConfig {
  const o = spec.optimizer;
  return { name: o.name, lr: o.lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, lrRatioB: o.lr_ratio_b };
}

/** Steps a spec asks for: training.steps, or epochs over the training split. */
export function totalStepsOf(spec: FactorySpec, trainExamples: number): number {
  return spec.training.steps ?? Math.ceil((spec.training.epochs! * trainExamples) / spec.training.batch_size);
}

/** Whether step `done` (1-based) evaluates and whether it checkpoints: every N steps and at the end. */
export function stepSchedule(spec: FactorySpec, done: number, totalSteps: number): { evaluate: boolean; checkpoint: boolean } {
  const last = done === totalSteps;
  return { evaluate: last || done % spec.evaluation.every === 0, checkpoint: last || done % spec.checkpoints.every === 0 };
}

/** The run being trained: everything the training loop reads and the state it advances. */
interface TrainingRun {
  /** The backend training runs on ("webgpu" is health-checked after every step). */
  backend: BackendChoice;
  spec: FactorySpec;
  specSha256: string;
  model: Model;
  data: FactoryData;
  setup: TrainableSetup;
  opt: Optimizer;
  staging: FactoryStaging;
  totalSteps: number;
  /** Restored state of an interrupted run, if any. */
  resumed?: SavedState;
  /** Tensor bytes before the trainable weights existed: the baseline of the memory figure. */
  memoryBefore: number;
}

interface LoopOutcome {
  history: FactoryMetrics["history"];
  evals: FactoryEvaluation[];
  seconds: number;
  secondsBefore: number;
  peakTrainingBytes: number;
}

/** Validation and test loss/accuracy of `weights`. */
async function evaluateSplits(model: Model, data: FactoryData, forward: ForwardOptions, weights: WeightMap): Promise<Omit<FactoryEvaluation, "step">> {
  const v = await evaluate(model, weights, data.validation, forward);
  const t = await evaluate(model, weights, data.test, forward);
  return { validation_loss: v.loss, validation_accuracy: v.accuracy, test_loss: t.loss, test_accuracy: t.accuracy };
}

/** What the run has recorded so far: restored from a resumed run's state, advanced after each step. */
interface RunRecord {
  history: FactoryMetrics["history"];
  evals: FactoryEvaluation[];
  peakTrainingBytes: number;
  /** Saves the resumable state as of `step` steps done. */
  saveState(step: number): Promise<void>;
}

/**
 * Stage "training loop": the lab's training loop from the restored step to the last (the spec's
 * schedule, seeded batches and dropout), with afterStep's evaluations and checkpoints; stops,
 * saving the state, when aborted or after opts.stopAfterSteps.
 */
async function trainingLoop(run: TrainingRun, opts: FactoryOptions): Promise<LoopOutcome> {
  const { spec, model, setup, opt, staging, totalSteps } = run;
  const startStep = run.resumed?.step ?? 0;
  const secondsBefore = run.resumed?.seconds ?? 0;
  const started = Date.now();
  const elapsed = () => secondsBefore + (Date.now() - started) / 1000;
  const record: RunRecord = {
    history: run.resumed?.history ?? [],
    evals: run.resumed?.evals ?? [],
    peakTrainingBytes: 0,
    saveState: (step) => saveTrainingState(staging.stateDir, setup.trainable, opt, { step, history: record.history, evals: record.evals, seconds: elapsed(), specSha256: run.specSha256 }),
  };
  opts.onStart?.({ spec, classifier: model.task === "image-classification", totalSteps, startStep, history: record.history, evals: record.evals });
  const loop = await runTrainingLoop({
    model,
    frozen: setup.frozen,
    trainable: setup.trainable,
    optimizer: opt,
    data: run.data.train,
    batchSize: spec.training.batch_size,
    microBatchRows: spec.training.micro_batch_size ?? undefined,
    seed: spec.seed,
    steps: totalSteps,
    startStep,
    schedule: { kind: spec.schedule.kind, warmupSteps: spec.schedule.warmup_steps },
    forward: setup.forward,
    dropout: true,
    shouldStop: ({ stepsRun }) => opts.signal?.aborted === true || (opts.stopAfterSteps !== undefined && stepsRun >= opts.stopAfterSteps),
    onStep: (r) => afterStep(run, opts, record, r),
  }).catch((error: unknown) => {
    throw error instanceof NonFiniteLossError ? withLastCheckpoint(error, spec, staging) : error;
  });
  if (loop.stoppedAt !== undefined) {
    await record.saveState(loop.stoppedAt);
    throw new RunInterruptedError(loop.stoppedAt, staging.root);
  }
  return { history: record.history, evals: record.evals, seconds: elapsed(), secondsBefore, peakTrainingBytes: record.peakTrainingBytes };
}

/**
 * Stage "after a step": the device's health (webgpu), the memory peak and the loss history; the
 * evaluation and the checkpoint (with the resumable state) when the schedule makes them due.
 */
async function afterStep(run: TrainingRun, opts: FactoryOptions, record: RunRecord, r: StepReport): Promise<void> {
  const { spec, model, setup, staging, totalSteps } = run;
  if (run.backend === "webgpu") assertWebGpuHealthy();
  record.peakTrainingBytes = Math.max(record.peakTrainingBytes, r.bytesWithGradients - run.memoryBefore);
  record.history.push({ step: r.step, loss: r.loss, lr: r.lr });
  const due = stepSchedule(spec, r.step, totalSteps);
  if (due.evaluate) {
    const evaluation = { step: r.step, ...(await evaluateSplits(model, run.data, setup.forward, { ...setup.frozen, ...setup.trainable })) };
    record.evals.push(evaluation);
    opts.onEvaluation?.(evaluation);
  }
  if (due.checkpoint) {
    const dir = await writeCheckpoint(staging.checkpointsDir, { step: r.step, lr: r.lr, loss: r.loss }, setup.trainable, spec, model, setup.adapter);
    await record.saveState(r.step);
    opts.onCheckpoint?.({ step: r.step, dir });
  }
  opts.onStep?.({ step: r.step, totalSteps, loss: r.loss, lr: r.lr, lastEvaluation: record.evals[record.evals.length - 1] });
}

/** A non-finite loss, named with the run and the last good checkpoint to go back to. */
function withLastCheckpoint(error: NonFiniteLossError, spec: FactorySpec, staging: FactoryStaging): NonFiniteLossError {
  const step = error.step;
  const lastGood = lastCheckpointDir(staging.checkpointsDir);
  return new NonFiniteLossError({
    code: error.code,
    message: `${spec.name}: loss became non-finite at step ${step}; training stopped. The last good checkpoint is ${lastGood}`,
    hint: error.hint,
    fields: { ...error.fields, step, spec: spec.name, lastCheckpoint: lastGood },
  });
}

/**
 * The Model Factory in one call, in stages: spec, base model and data (every refusal before
 * training); what trains; lock and resume; the training loop; outputs (PEFT adapter, kept
 * checkpoints, metrics, model card) written as one folder. Resumes an interrupted run of the
 * same spec. Progress goes to the callbacks in `opts`.
 */
export async function runFactory(specOrPath: FactorySpec | string | Record<string, unknown>, opts: FactoryOptions = {}): Promise<FactoryResult> {
  const spec = typeof specOrPath === "string" ? loadSpec(specOrPath) : validateSpec(specOrPath);
  const specSha256 = specHash(spec);
  const runtime = opts.backend ? await selectBackend({ override: opts.backend }) : await initTf({ quiet: opts.quiet });
  const { tf, backend } = runtime;
  const log = (line: string) => {
    if (!opts.quiet) console.log(line);
  };
  const baseName = resolveBaseModel(spec.base_model.name, spec.base_model.pretrain, onHardwareGpu(runtime));
  if (baseName !== spec.base_model.name) log(`${spec.base_model.name}, full pretraining, on ${backend}: the GPU preset ${baseName} (${BASE_MODELS[baseName].description})`);
  const model = baseModel(tf, baseName);
  checkSpecAgainstModel(spec, model);
  const base = await factoryBase(tf, spec, baseName, log);
  const data = factoryData(spec);

  const memoryBefore = tf.memory().numBytes;
  const setup = initTrainable(tf, model, base.weights, spec);
  const opt = specOptimizer(tf, spec, setup.trainable);
  const totalSteps = totalStepsOf(spec, data.train.n);
  const trainableParams = countParams(setup.trainable);
  const totalParams = countParams(base.weights) + (spec.method === "lora" ? trainableParams : 0);

  const staging = factoryStaging(spec, specSha256);
  const lock = lockStaging(staging, spec.name);
  let outcome: LoopOutcome;
  let resumed: SavedState | undefined;
  let baseEval: { loss: number; accuracy: number };
  try {
    resumed = restoreTrainingState(tf, staging.stateDir, setup.trainable, opt);
    if (resumed) log(`resuming ${spec.name} from step ${resumed.step} (${staging.stateDir})`);
    baseEval = await evaluate(model, base.weights, data.test, {});
    outcome = await trainingLoop({ backend, spec, specSha256, model, data, setup, opt, staging, totalSteps, resumed, memoryBefore }, opts);
  } finally {
    opt.dispose();
    lock.release();
  }

  const weights: WeightMap = { ...setup.frozen, ...setup.trainable };
  const lastEval = outcome.evals[outcome.evals.length - 1];
  const finalEval = lastEval?.step === totalSteps ? lastEval : { step: totalSteps, ...(await evaluateSplits(model, data, setup.forward, weights)) };
  const metrics = factoryMetrics(
    spec,
    model,
    totalSteps,
    { trainable: trainableParams, total: totalParams },
    {
      history: outcome.history,
      evals: outcome.evals,
      final: finalEval,
      base: baseEval,
      seconds: outcome.seconds,
      secondsBefore: outcome.secondsBefore,
      resumedFrom: resumed?.step ?? null,
      peakTrainingBytes: outcome.peakTrainingBytes,
    },
    backend,
  );
  const finalAdapter = setup.adapter ? { ...setup.adapter, tensors: Object.fromEntries(Object.entries(setup.trainable).map(([k, v]) => [k, v as tfjs.Tensor])) } : undefined;
  const outDir = opts.outDir ?? spec.output.dir ?? cacheDir("factory", spec.name);
  const { adapterSha256, metricsSha256 } = await writeFactoryOutputs({
    outDir,
    spec,
    specSha256,
    model,
    metrics,
    datanets: data.datanets,
    trainable: setup.trainable,
    adapter: finalAdapter,
    base,
    checkpointsDir: staging.checkpointsDir,
    backend,
    baseName,
    gpuAdapter: runtime.adapter,
  });
  rmSync(staging.root, { recursive: true, force: true });
  const checkpoints = readCheckpoints(join(outDir, "checkpoints"), finalAdapter !== undefined);
  log(
    `factory ${spec.name}: test accuracy ${(metrics.final.test_accuracy * 100).toFixed(2)}% (base ${(metrics.base.test_accuracy * 100).toFixed(2)}%), test loss ${metrics.final.test_loss.toFixed(4)}; outputs in ${outDir}`,
  );
  return {
    spec,
    specSha256,
    outDir,
    model,
    baseWeights: base.weights,
    baseSha256: base.sha256,
    forwardOptions: setup.forward,
    adapter: finalAdapter,
    weights,
    adapterSha256,
    metricsSha256,
    datanets: data.datanets,
    train: data.train,
    validation: data.validation,
    test: data.test,
    checkpoints,
    metrics,
  };
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
export function trainableLoss(result: Pick<FactoryResult, "model" | "baseWeights" | "forwardOptions">): (trainable: WeightMap, x: Tensor, y: Tensor) => Tensor {
  const { model, baseWeights, forwardOptions } = result;
  return (trainable, x, y) => model.perExampleLoss({ ...baseWeights, ...trainable }, x, y, { ...forwardOptions, training: false });
}
