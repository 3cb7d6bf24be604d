/**
 * Re-trainings as worker jobs (lib/worker-pool.ts): an LDS subset, a leave-one-out refit, a TRAK
 * ensemble member. A job is told only what it needs (the model's recipe, the training rows, how
 * to fit, and its seed inside the fit options) and answers the trained parameter vector; the
 * caller scores it. The same spec gives the same bits in this process and in any worker.
 */

import { initTf } from "../tf/index.js";
import { type JobRef, type PoolOptions, runJobs } from "../worker-pool.js";
import { AttributionError } from "./errors.js";
import { FactoryModel } from "./factory-model.js";
import { attributionMlp, type FactoryTrainOptions, trainTensors } from "./factory-train.js";
import { type Batch, LogisticRegression, type ModelRecipe, subset } from "./model.js";
import { fitNewton, type TrainOptions, trainModel } from "./retrain.js";

export type { ModelRecipe } from "./model.js";

/** How a job fits: Newton to the optimum, the lab's seeded Adam, or the Factory's own training (AdamW) from the seeded init. */
export type FitRecipe = { method: "newton"; l2: number; start?: Float64Array } | { method: "adam"; options: TrainOptions } | { method: "factory"; options: FactoryTrainOptions };

export interface RetrainSpec {
  model: ModelRecipe;
  train: Batch;
  /** The training rows to fit on (all of `train` when absent). */
  rows?: ArrayLike<number>;
  fit: FitRecipe;
}

/** The job: fits the recipe's model on the rows and answers its parameter vector. */
export async function retrainJob(spec: RetrainSpec): Promise<Float64Array> {
  const batch = spec.rows ? subset(spec.train, spec.rows) : spec.train;
  const { model, fit } = spec;
  if (model.kind === "logistic-regression") {
    const lr = new LogisticRegression(model.inputDim, model.numClasses);
    if (fit.method === "newton") return fitNewton(lr, batch, { l2: fit.l2, start: fit.start });
    if (fit.method === "adam") return (await trainModel(lr, batch, fit.options)).params;
  } else if (model.kind === "factory-mlp" && fit.method === "factory") {
    const mlp = attributionMlp((await initTf({ quiet: true })).tf, model.inputDim, model.hidden, model.numClasses);
    const init = mlp.init(fit.options.seed);
    const run = await trainTensors(mlp, {}, init, batch, { ...fit.options, checkpointEvery: undefined });
    const params = await new FactoryModel({ model: mlp, weights: run.tensors, trainable: Object.keys(run.tensors) }).readParams(run.tensors);
    for (const t of [...Object.values(init), ...Object.values(run.tensors)]) t.dispose();
    return params;
  }
  throw new AttributionError({
    code: "attribution/no-such-fit",
    message: `a ${model.kind} is not fitted by ${fit.method}`,
    hint: "fit the logistic regression by newton or adam, the Factory MLP by factory (an lm experiment's LoRA adapter re-trains by its own job, lmRetrainJob)",
    fields: { model: model.kind, fit: fit.method },
  });
}

const RETRAIN: JobRef = { module: import.meta.url, name: "retrainJob", local: retrainJob };

/** Every spec's re-trained parameters, in order, on the pool's workers (LAB_WORKERS). */
export function retrainAll(specs: readonly RetrainSpec[], options: PoolOptions = {}): Promise<Float64Array[]> {
  return runJobs<RetrainSpec, Float64Array>(RETRAIN, specs, options);
}
