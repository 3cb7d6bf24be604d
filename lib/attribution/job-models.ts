/**
 * A model as an attribution job names it (lib/worker-pool.ts): its recipe, which a worker rebuilds
 * once and keeps for its later jobs, or the model itself when the jobs run in this process. A
 * model has a recipe when a worker can rebuild it from a few numbers: the logistic regression, the
 * Factory's one-hidden-layer MLP with every weight trainable (its parameter vector is the whole
 * model), and a LoRA adapter on an lm experiment's base (the worker loads the base from the
 * base-model cache, once, as its LoRA re-trainings do; the adapter's factors are the parameter
 * vector). Another LoRA adapter (the Factory MLP's) has none: its jobs run here, one after
 * another, with the same numbers.
 */

import { initLora, loraForwardOptions } from "../intelligence/lora/index.js";
import type { Tf } from "../intelligence/models/types.js";
import { initTf } from "../tf/index.js";
import { type PoolOptions, poolWorkers } from "../worker-pool.js";
import { FactoryModel } from "./factory-model.js";
import { attributionMlp } from "./factory-train.js";
import { heldLmBase, type LmBaseParams, type LmLora, lmLoraConfig } from "./lm-base.js";
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

/** A language model's LoRA adapter, rebuilt on its base. */
type LmLoraRecipe = Extract<ModelRecipe, { kind: "lm-lora" }>;

/** The recipe of a LoRA adapter `lora` on the base `p` picks (only the fields that pick it, so equal bases give equal recipes). */
export function lmLoraRecipe(p: LmBaseParams, lora: LmLora): LmLoraRecipe {
  const base: LmBaseParams = { pretrain: p.pretrain, baseSeed: p.baseSeed };
  if (p.base !== undefined) base.base = p.base;
  return { kind: "lm-lora", base, lora: { r: lora.r, alpha: lora.alpha, targets: [...lora.targets] } };
}

async function build(recipe: ModelRecipe): Promise<TraceableModel> {
  if (recipe.kind === "logistic-regression") return new LogisticRegression(recipe.inputDim, recipe.numClasses);
  const { tf } = await initTf({ quiet: true });
  if (recipe.kind === "lm-lora") return lmAdapterModel(tf, recipe);
  const mlp = attributionMlp(tf, recipe.inputDim, recipe.hidden, recipe.numClasses);
  // every weight is trainable, so the parameter vector replaces all of these
  const weights = mlp.init(0);
  return new FactoryModel({ model: mlp, weights, trainable: Object.keys(weights), recipe });
}

/**
 * The adapter on its base: the base held by this process (heldLmBase), a fresh adapter of the
 * recipe's shape whose factors the parameter vector replaces, and the forward options of the
 * adapter that was trained (the same config, so the same scaling). Workers rebuild the model this
 * way; callers that hold members' parameter vectors (benches, tests) build it this way too.
 */
export async function lmAdapterModel(tf: Tf, recipe: LmLoraRecipe): Promise<FactoryModel> {
  const { model, weights } = await heldLmBase(tf, recipe.base);
  const adapter = initLora(model, weights, lmLoraConfig(recipe.lora), 0);
  const fm = new FactoryModel({ model, weights: { ...weights, ...adapter.tensors }, trainable: Object.keys(adapter.tensors), forwardOptions: loraForwardOptions(adapter), recipe });
  // the model keeps the base weights alone: the factors gave only their shapes
  for (const t of Object.values(adapter.tensors)) t.dispose();
  return fm;
}
