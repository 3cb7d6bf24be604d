/**
 * The Factory's MLP trained for the attribution experiments: the Intelligence layer's own model
 * (createMlp), optimizer and training loop, on an attribution batch. A run returns the trained
 * tensors and the checkpoints TracIn-CP needs; FactoryModel (factory-model.ts) scores them.
 *
 * Two forms: full training of every linear weight and bias from the model's seeded init, and LoRA
 * adapters (PEFT's init: A Kaiming-uniform, B = 0) on a frozen base.
 */
import { initLora, loraConfig, loraForwardOptions } from "../intelligence/lora/index.js";
import { createMlp, type MlpConfig } from "../intelligence/models/mlp.js";
import type { ForwardOptions, Model, Tf, WeightMap } from "../intelligence/models/types.js";
import { DEFAULT_OPTIMIZER, type TrainData } from "../intelligence/train.js";
import { type KeptTensors, releaseVariables, runTrainingLoop, trainableVariables } from "../intelligence/training-loop.js";
import type { OnProgress } from "../progress.js";
import { AttributionError } from "./errors.js";
import { FactoryModel } from "./factory-model.js";
import type { Batch, ModelRecipe } from "./model.js";
import type { Checkpoint } from "./retrain.js";

export interface FactoryTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  /** AdamW's decoupled weight decay (0: plain Adam's update). */
  weightDecay: number;
  seed: number;
  optimizer?: "adamw" | "sgd";
  /** Keep a checkpoint at the end of every `checkpointEvery` epochs (TracIn-CP). */
  checkpointEvery?: number;
}

export interface FactoryTrainRun {
  /** The trained tensors (caller disposes). */
  tensors: WeightMap;
  checkpoints: KeptTensors[];
  finalLoss: number;
}

/** The Factory's one-hidden-layer ReLU MLP (fc1, head) for inputs of `inputDim` features. */
export function attributionMlp(tf: Tf, inputDim: number, hidden: number, numClasses: number): Model {
  return createMlp(tf, { inputSize: inputDim, hidden: [hidden], numClasses });
}

/** The recipe attributionMlp rebuilds `model` from, where it is one of its MLPs (one hidden layer). */
export function mlpRecipe(model: Model): ModelRecipe | undefined {
  const c = model.config as Partial<MlpConfig>;
  if (model.kind !== "mlp" || c.hidden?.length !== 1 || c.inputSize === undefined || c.numClasses === undefined) return undefined;
  return { kind: "factory-mlp", inputDim: c.inputSize, hidden: c.hidden[0], numClasses: c.numClasses };
}

function trainData(batch: Batch): TrainData {
  return { x: Float32Array.from(batch.x), y: batch.y, n: batch.n, xShape: [batch.dim], yShape: [] };
}

/**
 * Seeded minibatch training of the `start` tensors with everything else in `frozen` held fixed, by
 * the Intelligence layer's training loop: batches are its per-epoch permutations of (seed, epoch),
 * so the same seed and data give bit-identical tensors. `start` is copied, not consumed.
 * `onProgress` counts the steps.
 */
export async function trainTensors(
  model: Model,
  frozen: WeightMap,
  start: WeightMap,
  batch: Batch,
  o: FactoryTrainOptions,
  fwd: ForwardOptions = {},
  onProgress?: OnProgress,
): Promise<FactoryTrainRun> {
  checkTrainOptions(batch, o);
  const trainable = trainableVariables(model.tf, start);
  const perEpoch = Math.max(1, Math.floor(batch.n / o.batchSize));
  const steps = o.epochs * perEpoch;
  const run = await runTrainingLoop({
    model,
    frozen,
    trainable,
    optimizer: { ...DEFAULT_OPTIMIZER, name: o.optimizer ?? "adamw", lr: o.lr, weightDecay: o.weightDecay },
    data: trainData(batch),
    batchSize: o.batchSize,
    seed: o.seed,
    steps,
    forward: fwd,
    keepEvery: o.checkpointEvery && perEpoch * o.checkpointEvery,
    onStep: onProgress && ((r) => onProgress(r.step, steps)),
  });
  return { tensors: releaseVariables(model.tf, trainable), checkpoints: run.kept, finalLoss: run.lastLoss };
}

function checkTrainOptions(batch: Batch, o: FactoryTrainOptions): void {
  if (o.batchSize >= 1 && o.epochs >= 1 && batch.n >= 1) return;
  throw new AttributionError({
    code: "attribution/bad-train-options",
    message: `cannot train ${o.epochs} epochs of batch ${o.batchSize} on ${batch.n} examples`,
    hint: "give at least one epoch, a batch size of at least 1 and a non-empty batch",
    fields: { epochs: o.epochs, batchSize: o.batchSize, n: batch.n },
  });
}

/** A fully trained MLP as the attribution methods see it: every linear weight and bias trainable. */
export interface MlpRun {
  model: FactoryModel;
  params: Float64Array;
  /** The trained weights (the frozen base of a LoRA run on top of it). */
  weights: WeightMap;
  checkpoints: Checkpoint[];
}

/** Trains every weight of `model` from its seeded init (seed `o.seed`); `onProgress` counts the steps. */
export async function trainMlp(model: Model, batch: Batch, o: FactoryTrainOptions, onProgress?: OnProgress): Promise<MlpRun> {
  const init = model.init(o.seed);
  const run = await trainTensors(model, {}, init, batch, o, {}, onProgress);
  for (const t of Object.values(init)) t.dispose();
  const fm = new FactoryModel({ model, weights: run.tensors, trainable: Object.keys(run.tensors), recipe: mlpRecipe(model) });
  return { model: fm, params: await fm.readParams(run.tensors), weights: run.tensors, checkpoints: fm.checkpoints(run.checkpoints) };
}

export interface LoraMlpRun {
  model: FactoryModel;
  params: Float64Array;
  forwardOptions: ForwardOptions;
}

/** LoRA adapters of rank r (PEFT's alpha, scaling alpha / r) on `targets`, trained on a frozen base; `onProgress` counts the steps. */
export async function trainLoraMlp(
  model: Model,
  base: WeightMap,
  batch: Batch,
  lora: { r: number; alpha: number; targets: string[] },
  o: FactoryTrainOptions,
  onProgress?: OnProgress,
): Promise<LoraMlpRun> {
  const adapter = initLora(model, base, loraConfig({ r: lora.r, loraAlpha: lora.alpha, targetModules: lora.targets }), o.seed);
  const fwd = loraForwardOptions(adapter);
  const run = await trainTensors(model, base, adapter.tensors, batch, o, fwd, onProgress);
  for (const t of Object.values(adapter.tensors)) t.dispose();
  const weights = { ...base, ...run.tensors };
  const fm = new FactoryModel({ model, weights, trainable: Object.keys(run.tensors), forwardOptions: fwd });
  const params = await fm.readParams(weights);
  for (const t of Object.values(run.tensors)) t.dispose(); // the vector holds them now
  return { model: fm, params, forwardOptions: fwd };
}
