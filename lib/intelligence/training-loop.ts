import type * as tfjs from "@tensorflow/tfjs";
import { type HostTensor, readTensorMap } from "../tf/read-back.js";
import type { ForwardOptions, Model, Tf, WeightMap } from "./models/types.js";
import { batchIndices, batchTensors, learningRate, Optimizer, type OptimizerConfig, type ScheduleConfig, type StepResult, type TrainData, trainStep } from "./train.js";

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
  let lastLoss = NaN;
  try {
    for (let step = spec.startStep ?? 0, stepsRun = 0; step < spec.steps; step++, stepsRun++) {
      if (spec.shouldStop?.({ step, stepsRun })) return { lastLoss, kept, stoppedAt: step };
      const lr = stepLearningRate(spec, opt, step);
      const result = await trainStep(spec.model, spec.frozen, spec.trainable, opt, stepBatch(spec, step), lr, stepForward(spec, step), step);
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
function stepBatch(spec: TrainingLoopSpec, step: number) {
  const rows = spec.rows;
  const n = rows ? rows.length : spec.data.n;
  const idx = batchIndices(n, spec.batchSize, spec.seed, step);
  return batchTensors(spec.model, spec.data, rows ? idx.map((i) => rows[i]) : idx);
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
