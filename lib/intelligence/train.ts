import type * as tfjs from "@tensorflow/tfjs";
import { rng } from "../random.js";
import { readFloats, readScalar } from "../tf/read-back.js";
import { NonFiniteLossError } from "./errors.js";
import { crossEntropy } from "./models/ops.js";
import { roleOf } from "./models/peft-keys.js";
import type { ForwardOptions, Model, Tensor, WeightMap } from "./models/types.js";

/** Examples in memory: x flat (n × featureSize; int ids for an LM), y (n, or n × T for an LM). */
export interface TrainData {
  x: Float32Array | Int32Array;
  y: Int32Array;
  n: number;
  /** Shape of one example's x, e.g. [784] or [T]. */
  xShape: number[];
  /** Shape of one example's y: [] for a class label, [T] for next tokens. */
  yShape: number[];
  /**
   * A language model's per-position loss mask (n × T; 1: the target counts, 0: padding): each
   * row's loss is the mean over its counted targets (maskedLoss). Absent: every target counts
   * (the model's own loss, unchanged).
   */
  lossMask?: Float32Array;
}

/** A batch's tensors: inputs, targets and, where the data has one, the loss mask [n, T]. */
export interface BatchTensors {
  x: Tensor;
  y: Tensor;
  mask?: Tensor;
}

export function batchTensors(model: Model, data: TrainData, idx: ArrayLike<number>): BatchTensors {
  const tf = model.tf;
  const xs = data.xShape.reduce((a, b) => a * b, 1);
  const ys = data.yShape.reduce((a, b) => a * b, 1);
  const n = idx.length;
  const xb = data.x instanceof Int32Array ? new Int32Array(n * xs) : new Float32Array(n * xs);
  const yb = new Int32Array(n * ys);
  for (let i = 0; i < n; i++) {
    const j = idx[i];
    xb.set(data.x.subarray(j * xs, (j + 1) * xs), i * xs);
    yb.set(data.y.subarray(j * ys, (j + 1) * ys), i * ys);
  }
  const batch: BatchTensors = {
    x: tf.tensor(xb, [n, ...data.xShape], data.x instanceof Int32Array ? "int32" : "float32"),
    y: tf.tensor(yb, [n, ...data.yShape], "int32"),
  };
  if (data.lossMask) {
    const mb = new Float32Array(n * ys);
    for (let i = 0; i < n; i++) mb.set(data.lossMask.subarray(idx[i] * ys, (idx[i] + 1) * ys), i * ys);
    batch.mask = tf.tensor(mb, [n, ...data.yShape], "float32");
  }
  return batch;
}

/**
 * A language model's loss under a per-position mask: each row's cross-entropy summed over its
 * counted targets and divided by their number (a row with none counts 0), then the mean over
 * rows, so a padded row's loss is its own tokens' mean loss whatever the padding holds.
 */
export function maskedLoss(model: Model, weights: WeightMap, x: Tensor, y: Tensor, mask: Tensor, fwd: ForwardOptions = {}): tfjs.Scalar {
  const tf = model.tf;
  const perTarget = crossEntropy(tf, model.forward(weights, x, fwd), y);
  const perRow = tf.div(tf.sum(tf.mul(perTarget, mask), -1), tf.maximum(tf.sum(mask, -1), 1));
  return tf.mean(perRow) as tfjs.Scalar;
}

/** The loss a step trains on: the model's own, or the masked one where the batch has a mask. */
function batchLoss(model: Model, weights: WeightMap, b: BatchTensors, fwd: ForwardOptions): tfjs.Scalar {
  return b.mask ? maskedLoss(model, weights, b.x, b.y, b.mask, fwd) : model.loss(weights, b.x, b.y, fwd);
}

/** Batch order: a fresh permutation per epoch from (seed, epoch), so a resumed run sees the same batches. */
export function batchIndices(n: number, batchSize: number, seed: number, step: number): number[] {
  const perEpoch = Math.max(1, Math.floor(n / batchSize));
  const epoch = Math.floor(step / perEpoch);
  const within = step % perEpoch;
  const perm = rng(seed)
    .fork(`epoch:${epoch}`)
    .shuffle(Array.from({ length: n }, (_, i) => i));
  return perm.slice(within * batchSize, within * batchSize + Math.min(batchSize, n));
}

export type ScheduleKind = "constant" | "linear" | "cosine";

export interface ScheduleConfig {
  kind: ScheduleKind;
  warmupSteps: number;
}

/** Learning rate at a step: linear warm-up, then constant, linear decay or cosine decay to 0. */
export function learningRate(base: number, schedule: ScheduleConfig, step: number, totalSteps: number): number {
  if (schedule.warmupSteps > 0 && step < schedule.warmupSteps) return (base * (step + 1)) / schedule.warmupSteps;
  const span = Math.max(1, totalSteps - schedule.warmupSteps);
  const t = Math.min(1, (step - schedule.warmupSteps) / span);
  if (schedule.kind === "linear") return base * (1 - t);
  if (schedule.kind === "cosine") return base * 0.5 * (1 + Math.cos(Math.PI * t));
  return base;
}

export interface OptimizerConfig {
  name: "adam" | "adamw" | "sgd";
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** LoRA+ (Hayou et al. 2024): B matrices learn at lr × lrRatioB. 1 = plain LoRA. */
  lrRatioB: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = { name: "adamw", lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, lrRatioB: 1 };

/**
 * Adam/AdamW/SGD written out on named variables, so its state (m, v, step) can be saved with a
 * checkpoint and a resumed run continues bit for bit, and LoRA+ is a per-name learning rate.
 */
export class Optimizer {
  readonly m: Record<string, tfjs.Variable> = {};
  readonly v: Record<string, tfjs.Variable> = {};
  step = 0;
  constructor(
    private readonly tf: Model["tf"],
    readonly config: OptimizerConfig,
    readonly params: Record<string, tfjs.Variable>,
  ) {
    if (config.name !== "sgd") {
      for (const [k, p] of Object.entries(params)) {
        this.m[k] = tf.variable(tf.zerosLike(p), false, `opt.m.${k}.${Math.random()}`);
        this.v[k] = tf.variable(tf.zerosLike(p), false, `opt.v.${k}.${Math.random()}`);
      }
    }
  }

  lrFor(name: string, lr: number): number {
    return roleOf(name) === "lora_B" ? lr * this.config.lrRatioB : lr;
  }

  apply(grads: Record<string, Tensor>, lr: number): void {
    const tf = this.tf;
    const c = this.config;
    this.step += 1;
    const t = this.step;
    // bias corrections folded into the step size and epsilon (Kingma & Ba 2015, end of
    // section 2): the same update as m̂/(√v̂ + ε) with two fewer full-size divisions per tensor
    const stepScale = Math.sqrt(1 - c.beta2 ** t) / (1 - c.beta1 ** t);
    const epsHat = c.eps * Math.sqrt(1 - c.beta2 ** t);
    tf.tidy(() => {
      for (const [k, g] of Object.entries(grads)) {
        const p = this.params[k];
        const rate = this.lrFor(k, lr);
        if (c.name === "sgd") {
          p.assign(tf.sub(p, tf.mul(g, rate)));
          continue;
        }
        const m = tf.add(tf.mul(this.m[k], c.beta1), tf.mul(g, 1 - c.beta1));
        const v = tf.add(tf.mul(this.v[k], c.beta2), tf.mul(tf.square(g), 1 - c.beta2));
        this.m[k].assign(m);
        this.v[k].assign(v);
        const update = tf.div(m, tf.add(tf.sqrt(v), epsHat));
        if (c.name === "adamw" && c.weightDecay > 0) {
          p.assign(tf.sub(p, tf.add(tf.mul(update, rate * stepScale), tf.mul(p, rate * c.weightDecay))));
        } else {
          p.assign(tf.sub(p, tf.mul(update, rate * stepScale)));
        }
      }
    });
  }

  dispose(): void {
    for (const t of [...Object.values(this.m), ...Object.values(this.v)]) t.dispose();
  }
}

export interface StepResult {
  loss: number;
  /** Live tensor bytes with the gradients held: weights, optimizer state, gradients, batch. */
  bytesWithGradients: number;
}

/**
 * One optimisation step on the named trainable variables; everything else in `frozen` is a
 * constant of the gradient computation (and is never assigned). The loss is read back
 * asynchronously (every backend, WebGPU included); the batch is disposed; no surrounding
 * tf.tidy is needed. runTrainingLoop (training-loop.ts) runs the steps of a whole run.
 */
export async function trainStep(
  model: Model,
  frozen: WeightMap,
  trainable: Record<string, tfjs.Variable>,
  opt: Optimizer,
  batch: BatchTensors,
  lr: number,
  fwd: ForwardOptions,
  stepIndex: number,
): Promise<StepResult> {
  return stepOn(() => lossAndGradients(model, frozen, trainable, batch, fwd), [batch], trainable, opt, lr, stepIndex);
}

/**
 * trainStep of one batch given as micro-batches (gradient accumulation): each micro-batch's mean
 * loss is weighted by its share of the batch's rows and the gradients are summed, so the update is
 * the whole batch's (the loss is a mean over rows) to float32 rounding, while the backward pass
 * holds one micro-batch's activations at a time. Dropout masks are the whole batch's, sliced
 * (ForwardOptions.dropoutRows). The micro-batches are disposed.
 */
export async function accumulatedTrainStep(
  model: Model,
  frozen: WeightMap,
  trainable: Record<string, tfjs.Variable>,
  opt: Optimizer,
  micro: BatchTensors[],
  lr: number,
  fwd: ForwardOptions,
  stepIndex: number,
): Promise<StepResult> {
  return stepOn(() => accumulatedLossAndGradients(model, frozen, trainable, micro, fwd), micro, trainable, opt, lr, stepIndex);
}

/** Computes the loss and gradients, disposes the batches (whether or not that threw), reads the loss back and applies the update. */
async function stepOn(
  lossAndGrads: () => ReturnType<typeof lossAndGradients>,
  batches: BatchTensors[],
  trainable: Record<string, tfjs.Variable>,
  opt: Optimizer,
  lr: number,
  stepIndex: number,
): Promise<StepResult> {
  let pending: ReturnType<typeof lossAndGradients>;
  try {
    pending = lossAndGrads();
  } finally {
    for (const b of batches) disposeBatch(b);
  }
  const loss = await readScalar(pending.value);
  return finishStep(pending, loss, trainable, opt, lr, stepIndex);
}

function disposeBatch(batch: BatchTensors): void {
  batch.x.dispose();
  batch.y.dispose();
  batch.mask?.dispose();
}

/** The weighted sums of the micro-batches' losses and gradients; each micro-batch's tape is released before the next. */
function accumulatedLossAndGradients(model: Model, frozen: WeightMap, trainable: Record<string, tfjs.Variable>, micro: BatchTensors[], fwd: ForwardOptions) {
  const tf = model.tf;
  const vars = Object.values(trainable);
  const total = micro.reduce((n, b) => n + b.x.shape[0], 0);
  let value: tfjs.Scalar | undefined;
  let grads: Record<string, Tensor> = {};
  let bytesWithGradients = 0;
  let offset = 0;
  try {
    for (const b of micro) {
      const rows = b.x.shape[0];
      const share = rows / total;
      const part = tf.variableGrads(() => tf.mul(batchLoss(model, { ...frozen, ...trainable }, b, { ...fwd, dropoutRows: { offset, rows, total } }), share) as tfjs.Scalar, vars);
      bytesWithGradients = Math.max(bytesWithGradients, tf.memory().numBytes);
      if (!value) {
        value = part.value;
        grads = part.grads;
      } else {
        value = sumInto(tf, value, part.value);
        for (const k of Object.keys(part.grads)) grads[k] = sumInto(tf, grads[k], part.grads[k]);
      }
      offset += rows;
    }
  } catch (error) {
    tf.dispose([...(value ? [value] : []), ...Object.values(grads)]);
    throw error;
  }
  return { value: value!, grads, bytesWithGradients };
}

/** a + b, with both disposed. */
function sumInto<T extends Tensor>(tf: Model["tf"], a: T, b: T): T {
  const sum = tf.add(a, b) as T;
  a.dispose();
  b.dispose();
  return sum;
}

function lossAndGradients(model: Model, frozen: WeightMap, trainable: Record<string, tfjs.Variable>, batch: BatchTensors, fwd: ForwardOptions) {
  const tf = model.tf;
  const vars = Object.values(trainable);
  const { value, grads } = tf.variableGrads(() => batchLoss(model, { ...frozen, ...trainable }, batch, fwd), vars);
  return { value, grads, bytesWithGradients: tf.memory().numBytes };
}

function finishStep(pending: ReturnType<typeof lossAndGradients>, loss: number, trainable: Record<string, tfjs.Variable>, opt: Optimizer, lr: number, stepIndex: number): StepResult {
  const { value, grads, bytesWithGradients } = pending;
  value.dispose();
  if (!Number.isFinite(loss)) {
    for (const g of Object.values(grads)) g.dispose();
    throw new NonFiniteLossError({
      code: "train/non-finite-loss",
      message: `loss became ${loss} at step ${stepIndex}`,
      hint: "lower the learning rate (optimizer.lr) or add warm-up (schedule.warmup_steps); the last good checkpoint is kept",
      fields: { step: stepIndex, loss: String(loss) },
    });
  }
  const byName: Record<string, Tensor> = {};
  for (const k of Object.keys(trainable)) byName[k] = grads[trainable[k].name];
  opt.apply(byName, lr);
  for (const g of Object.values(grads)) g.dispose();
  return { loss, bytesWithGradients };
}

/** Accuracy and mean loss of a classifier (or mean loss of an LM) over a data set, in batches, read back asynchronously. */
export async function evaluate(model: Model, weights: WeightMap, data: TrainData, fwd: ForwardOptions = {}, batchSize = 1000): Promise<{ loss: number; accuracy: number }> {
  let lossSum = 0,
    correct = 0;
  for (const idx of evaluationBatches(data, batchSize)) {
    const sums = batchSums(model, weights, data, idx, fwd);
    const values = await readFloats(sums);
    sums.dispose();
    lossSum += values[0];
    correct += values[1];
  }
  return evaluationResult(data, lossSum, correct);
}

function evaluationBatches(data: TrainData, batchSize: number): number[][] {
  const out: number[][] = [];
  for (let s = 0; s < data.n; s += batchSize) out.push(Array.from({ length: Math.min(batchSize, data.n - s) }, (_, i) => s + i));
  return out;
}

/** [summed loss, correct predictions] of one batch, as one tensor so it is read back at once. */
function batchSums(model: Model, weights: WeightMap, data: TrainData, idx: number[], fwd: ForwardOptions): Tensor {
  const tf = model.tf;
  return tf.tidy(() => {
    const b = batchTensors(model, data, idx);
    const logits = model.forward(weights, b.x, { ...fwd, training: false });
    // the same loss as model.perExampleLoss, from the logits already computed
    const per = crossEntropy(tf, logits, b.y);
    const pred = tf.argMax(logits, -1);
    const hits = tf.sum(tf.cast(tf.equal(pred, b.y), "float32"));
    return tf.stack([tf.sum(per), hits]);
  });
}

function evaluationResult(data: TrainData, lossSum: number, correct: number): { loss: number; accuracy: number } {
  const tokens = data.yShape.reduce((a, b) => a * b, 1);
  return { loss: lossSum / (data.n * tokens), accuracy: correct / (data.n * tokens) };
}
