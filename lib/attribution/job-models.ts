/**
 * A model as an attribution job names it (lib/worker-pool.ts): its recipe, which a worker rebuilds
 * once and keeps for its later jobs, or the model itself when the jobs run in this process. A
 * model has a recipe when a worker can rebuild it from a few numbers: the logistic regression, and
 * the Factory's one-hidden-layer MLP with every weight trainable (its parameter vector is the whole
 * model). A LoRA adapter on a language model's base has none (a worker would load and hold the base
 * again): its jobs run here, one after another, with the same numbers.
 */

import { initTf } from "../tf/index.js";
import { type PoolOptions, poolWorkers } from "../worker-pool.js";
import { FactoryModel } from "./factory-model.js";
import { attributionMlp } from "./factory-train.js";
import { LogisticRegression, type ModelRecipe, type TraceableModel } from "./model.js";

export type { ModelRecipe } from "./model.js";

/** A recipe (any worker count), or the model itself (jobs in this process). */
export type JobModel = ModelRecipe | TraceableModel;

/**
 * The recipe a worker rebuilds `model` from, where it has one: only a model built by the class
 * itself, not one derived from it, whose overrides a rebuilt model would not have.
 */
export function recipeOf(model: TraceableModel): ModelRecipe | undefined {
  const made = Object.getPrototypeOf(model);
  if (made === LogisticRegression.prototype) return { kind: "logistic-regression", inputDim: model.inputDim, numClasses: model.numClasses };
  if (made === FactoryModel.prototype) return (model as FactoryModel).recipe;
  return undefined;
}

/**
 * How jobs on `model` run: on the pool's workers with the model's recipe, or, when it has none,
 * when something only this process holds comes along (`local`, e.g. an on-disk gradient store),
 * or when the pool has one worker anyway, in this process with the model itself.
 */
export function jobModel(model: TraceableModel, options: PoolOptions = {}, local = false): { model: JobModel; options: PoolOptions } {
  const recipe = recipeOf(model);
  if (!recipe || local || poolWorkers(options) <= 1) return { model, options: { ...options, workers: 1 } };
  return { model: recipe, options };
}

const rebuilt = new Map<string, Promise<TraceableModel>>();

/** The job's model: itself, or its recipe rebuilt (once per process). */
export function modelOf(m: JobModel): Promise<TraceableModel> {
  if ("numParams" in m) return Promise.resolve(m);
  const key = JSON.stringify(m);
  let model = rebuilt.get(key);
  if (!model) {
    model = build(m);
    rebuilt.set(key, model);
  }
  return model;
}

async function build(recipe: ModelRecipe): Promise<TraceableModel> {
  if (recipe.kind === "logistic-regression") return new LogisticRegression(recipe.inputDim, recipe.numClasses);
  const mlp = attributionMlp((await initTf({ quiet: true })).tf, recipe.inputDim, recipe.hidden, recipe.numClasses);
  // every weight is trainable, so the parameter vector replaces all of these
  const weights = mlp.init(0);
  return new FactoryModel({ model: mlp, weights, trainable: Object.keys(weights), recipe });
}
