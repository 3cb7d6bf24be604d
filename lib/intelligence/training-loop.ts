import type * as tfjs from "@tensorflow/tfjs";
import { type HostTensor, readTensorMap } from "../tf/read-back.js";
import { IntelligenceError } from "./errors.js";
import type { ForwardOptions, Model, Tf, WeightMap } from "./models/types.js";
import { accumulatedTrainStep, batchIndices, batchTensors, learningRate, Optimizer, type OptimizerConfig, type ScheduleConfig, type StepResult, type TrainData, trainStep } from "./train.js";

/**
 * The lab's one training loop: pretraining, the Model Factory's run, the attribution layer's
 * trainers and re-trainings, the language-model experiment and the GPU check all train through it.
 * Each step: the learning rate of the schedule, the seeded batch (batchIndices of (seed, step),
 * optionally within a subset of rows), the forward options of the step (dropout seeded by (seed,
 * step)), one optimizer step, the loss read back asynchronously; then the kept tensors and the
 * caller's onStep. The same spec gives bit-identical weights on a backend.
 */
export interface TrainingLoopSpec {
  model: Model;
  /** Weights held fixed: constants of the gradient computation, never assigned. */
  frozen: WeightMap;
  /** The weights that train (see trainableVariables), assigned in place. */
  trainable: Record<string, tfjs.Variable>;
  /**
   * A config: the loop builds the optimizer (moments at zero) and disposes it when it ends. An
   * Optimizer (one whose state a resumed run restored): the caller keeps and disposes it.
   */
  optimizer: OptimizerConfig | Optimizer;
  data: TrainData;
  /** Train on these rows of `data` alone (a re-training on a subset): batches are drawn from them. */
  rows?: ArrayLike<number>;
  batchSize: number;
  /**
   * Rows one forward and backward pass holds at most: a larger batch runs as micro-batches of at
   * most this many rows, their gradients summed weighted by rows (gradient accumulation), for
   * the same update to float32 rounding. Default: defaultMicroBatchRows (on wasm, 2048 tokens).
   */
  microBatchRows?: number;
  /** Seeds the batch order and, with `dropout`, the dropout masks. */
  seed: number;
  /** Steps of the whole run: the loop ends after step `steps`. */
  steps: number;
  /** The step to start from (a resumed run); 0 by default. */
  startStep?: number;
  /** The learning rate's schedule around optimizer.lr (constant by default), over `scheduleSteps` (default: `steps`). */
  schedule?: ScheduleConfig;
  scheduleSteps?: number;
  forward?: ForwardOptions;
  /** Train in training mode: dropout on, its masks seeded per step from (seed, step). */
  dropout?: boolean;
  /** Keep host copies of the trainable tensors after every `keepEvery` steps (TracIn-CP's checkpoints). */
  keepEvery?: number;
  /** Asked before each step: true stops the loop there (a cancelled run, a step budget). */
  shouldStop?(next: { step: number; stepsRun: number }): boolean;
  /** After each step (and its kept tensors): progress, evaluations, checkpoints written by the caller. */
  onStep?(report: StepReport): void | Promise<void>;
}

export interface StepReport extends StepResult {
  /** Steps done, this one included. */
  step: number;
  lr: number;
}

/** Host copies of the trainable tensors after `step` steps, the last at learning rate `lr`. */
export interface KeptTensors {
  step: number;
  lr: number;
  tensors: Record<string, HostTensor>;
}

export interface TrainingLoopResult {
  /** The loss of the last step run (NaN when none ran). */
  lastLoss: number;
  kept: KeptTensors[];
  /** The step the loop stopped before, when shouldStop stopped it. */
  stoppedAt?: number;
}

const CONSTANT: ScheduleConfig = { kind: "constant", warmupSteps: 0 };

/** Runs the steps of `spec` from its start step to its last (or until shouldStop). */
export async function runTrainingLoop(spec: TrainingLoopSpec): Promise<TrainingLoopResult> {
  const owned = !(spec.optimizer instanceof Optimizer);
  const opt = spec.optimizer instanceof Optimizer ? spec.optimizer : new Optimizer(spec.model.tf, spec.optimizer, spec.trainable);
  const kept: KeptTensors[] = [];
  const microRows = spec.microBatchRows ?? defaultMicroBatchRows(spec.model.tf.getBackend(), spec.data);
  checkMicroBatchRows(microRows);
  let lastLoss = NaN;
  try {
    for (let step = spec.startStep ?? 0, stepsRun = 0; step < spec.steps; step++, stepsRun++) {
      if (spec.shouldStop?.({ step, stepsRun })) return { lastLoss, kept, stoppedAt: step };
      const lr = stepLearningRate(spec, opt, step);
      const rows = stepRows(spec, step);
      const result =
        rows.length > microRows
          ? await accumulatedTrainStep(spec.model, spec.frozen, spec.trainable, opt, microBatches(spec, rows, microRows), lr, stepForward(spec, step), step)
          : await trainStep(spec.model, spec.frozen, spec.trainable, opt, batchTensors(spec.model, spec.data, rows), lr, stepForward(spec, step), step);
      lastLoss = result.loss;
      if (spec.keepEvery && (step + 1) % spec.keepEvery === 0) kept.push({ step: step + 1, lr, tensors: await readTensorMap(spec.trainable) });
      await spec.onStep?.({ ...result, step: step + 1, lr });
    }
  } finally {
    if (owned) opt.dispose();
  }
  return { lastLoss, kept };
}

/** Stage "learning rate": the schedule's rate at this step. */
function stepLearningRate(spec: TrainingLoopSpec, opt: Optimizer, step: number): number {
  return learningRate(opt.config.lr, spec.schedule ?? CONSTANT, step, spec.scheduleSteps ?? spec.steps);
}

/** Stage "batch": the seeded permutation's rows for this step, mapped into `rows` when given. */
function stepRows(spec: TrainingLoopSpec, step: number): number[] {
  const rows = spec.rows;
  const n = rows ? rows.length : spec.data.n;
  const idx = batchIndices(n, spec.batchSize, spec.seed, step);
  return rows ? idx.map((i) => rows[i]) : idx;
}

/** Stage "micro-batches": the step's rows in order, cut into runs of at most `microRows`. */
function microBatches(spec: TrainingLoopSpec, rows: number[], microRows: number) {
  const out = [];
  for (let start = 0; start < rows.length; start += microRows) out.push(batchTensors(spec.model, spec.data, rows.slice(start, start + microRows)));
  return out;
}

/**
 * Tokens one micro-batch holds on wasm: 8 windows of the large preset's 256 tokens, whose step
 * keeps about 2.9 GiB of wasm's 4 GiB heap (16 windows need more than the heap and are refused as
 * wasm/out-of-memory). Every other run here (the small presets' 16 windows of 48 tokens, the
 * classifiers' 128 rows) fits one micro-batch, so their steps are unchanged.
 */
export const WASM_MICRO_BATCH_TOKENS = 2048;

/**
 * Rows a micro-batch holds by default: on wasm, as many as fit WASM_MICRO_BATCH_TOKENS (a row's
 * tokens are its target's positions; 1 for a classifier); elsewhere (WebGPU, cpu) the whole batch.
 */
export function defaultMicroBatchRows(backend: string, data: TrainData): number {
  if (backend !== "wasm") return Number.POSITIVE_INFINITY;
  const tokens = data.yShape.reduce((a, b) => a * b, 1);
  return Math.max(1, Math.floor(WASM_MICRO_BATCH_TOKENS / tokens));
}

function checkMicroBatchRows(rows: number): void {
  if (rows === Number.POSITIVE_INFINITY || (Number.isInteger(rows) && rows >= 1)) return;
  throw new IntelligenceError({
    code: "train/bad-micro-batch",
    message: `microBatchRows ${rows} is not a whole number of rows ≥ 1`,
    hint: "set microBatchRows to a whole number ≥ 1, or leave it out for the backend's default",
    fields: { microBatchRows: rows },
  });
}

/** Stage "forward options": training mode's dropout masks are seeded by (seed, step), so a resumed run draws the same. */
function stepForward(spec: TrainingLoopSpec, step: number): ForwardOptions {
  const forward = spec.forward ?? {};
  return spec.dropout ? { ...forward, training: true, dropoutSeed: (spec.seed * 1000003 + step) >>> 0 } : forward;
}

/** Trainable variables holding `tensors`' values; the caller may dispose `tensors` afterwards. */
export function trainableVariables(tf: Tf, tensors: WeightMap): Record<string, tfjs.Variable> {
  return Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, tf.variable(t, true)]));
}

/** The trained values as plain tensors (the caller disposes them); the variables are disposed. */
export function releaseVariables(tf: Tf, vars: Record<string, tfjs.Variable>): WeightMap {
  const tensors: WeightMap = {};
  for (const [k, v] of Object.entries(vars)) {
    tensors[k] = tf.clone(v);
    v.dispose();
  }
  return tensors;
}
