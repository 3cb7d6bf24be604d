import { existsSync } from "node:fs";
import { join } from "node:path";
import { fromRoot } from "../../files.js";
import { IntelligenceError } from "../errors.js";
import { loadFashionMnist } from "../datasets/fashion-mnist.js";
import { charTokenizer, loadFortunes, type CharTokenizer } from "../datasets/text.js";
import { batchIndices, batchTensors, DEFAULT_OPTIMIZER, Optimizer, trainStep, learningRate, type TrainData } from "../train.js";
import { createGpt, type GptConfig } from "./gpt.js";
import { createMlp, type MlpConfig } from "./mlp.js";
import { loadCheckpoint, saveCheckpoint, type LoadedCheckpoint } from "./checkpoint.js";
import type { Model, Tf, WeightMap } from "./types.js";
import type * as tfjs from "@tensorflow/tfjs";

/**
 * Base models the lab can rebuild from a seed. Each recipe names its architecture, its
 * pretraining data and two budgets: "quick" (CI, seconds) and "full" (documented below).
 */
export type PretrainMode = "quick" | "full";

export interface BaseModelRecipe {
  name: string;
  kind: "mlp" | "gpt";
  description: string;
  pretrain: Record<PretrainMode, { steps: number; batchSize: number; lr: number }>;
  /** Rough time on the 2-core wasm machine, for the README and model cards. */
  fullTimeNote: string;
  /**
   * Bumped when the architecture or its initialisation changes, so a checkpoint pretrained by an
   * earlier revision is never loaded as this one (it names the checkpoint's folder from 2 on).
   */
  revision: number;
}

export const BASE_MODELS: Record<string, BaseModelRecipe> = {
  "fmnist-mlp": {
    name: "fmnist-mlp",
    kind: "mlp",
    description: "784-256-128-10 ReLU MLP pretrained on Fashion-MNIST training images 0..29999 (the unshifted domain)",
    pretrain: { quick: { steps: 150, batchSize: 128, lr: 2e-3 }, full: { steps: 940, batchSize: 128, lr: 1e-3 } },
    fullTimeNote: "about 60 s on wasm, 2 cores (4 epochs of 30 000 images)",
    revision: 1,
  },
  "fortunes-gpt": {
    name: "fortunes-gpt",
    kind: "gpt",
    description: "character-level 2-layer, 4-head, 64-wide decoder-only transformer (block 48) pretrained on the fortunes and riddles files of fortunes-min",
    pretrain: { quick: { steps: 60, batchSize: 16, lr: 3e-3 }, full: { steps: 800, batchSize: 16, lr: 3e-3 } },
    fullTimeNote: "about 5 minutes on wasm, 2 cores (800 steps of 16 windows of 48 characters)",
    revision: 2, // 2: GPT-2 initialisation (N(0, 0.02²), residual projections scaled by depth)
  },
};

export const MLP_CONFIG: MlpConfig = { inputSize: 784, hidden: [256, 128], numClasses: 10 };
/** The first N training images are the base model's; datanets draw from the rest. */
export const PRETRAIN_IMAGES = 30000;

let tokenizer: CharTokenizer | undefined;
/** The character vocabulary of the whole fortunes-min corpus (base model and datanets share it). */
export function fortunesTokenizer(): CharTokenizer {
  return (tokenizer ??= charTokenizer(loadFortunes().text));
}

export function gptConfig(): GptConfig {
  return { vocabSize: fortunesTokenizer().vocab.length, blockSize: 48, nLayer: 2, nHead: 4, nEmbd: 64 };
}

export function createModel(tf: Tf, kind: string, config: unknown): Model {
  if (kind === "mlp") return createMlp(tf, config as MlpConfig);
  if (kind === "gpt") return createGpt(tf, config as GptConfig);
  throw new IntelligenceError(`unknown model kind "${kind}"`, "use mlp or gpt");
}

export function baseModel(tf: Tf, name: string): Model {
  const recipe = BASE_MODELS[name];
  if (!recipe) throw new IntelligenceError(`no base model named "${name}"`, `use one of: ${Object.keys(BASE_MODELS).join(", ")}`);
  return recipe.kind === "mlp" ? createMlp(tf, MLP_CONFIG) : createGpt(tf, gptConfig());
}

/** Token windows of length blockSize+1 cut from text: x = first T ids, y = next T ids. */
export function lmWindows(ids: Int32Array, blockSize: number, stride = blockSize): TrainData {
  const count = Math.max(0, Math.floor((ids.length - blockSize - 1) / stride) + 1);
  const x = new Int32Array(count * blockSize);
  const y = new Int32Array(count * blockSize);
  for (let i = 0; i < count; i++) {
    x.set(ids.subarray(i * stride, i * stride + blockSize), i * blockSize);
    y.set(ids.subarray(i * stride + 1, i * stride + blockSize + 1), i * blockSize);
  }
  return { x, y, n: count, xShape: [blockSize], yShape: [blockSize] };
}

export function pretrainData(name: string): TrainData {
  const recipe = BASE_MODELS[name];
  if (recipe.kind === "mlp") {
    const set = loadFashionMnist("train");
    return { x: set.x.subarray(0, PRETRAIN_IMAGES * 784), y: set.y.subarray(0, PRETRAIN_IMAGES), n: PRETRAIN_IMAGES, xShape: [784], yShape: [] };
  }
  const corpus = loadFortunes();
  // pretraining domain: the "fortunes" and "riddles" files; "literature" is kept for fine-tuning
  const text = corpus.documents.filter((_, i) => corpus.sources[i] !== "literature").join("\n\n");
  return lmWindows(fortunesTokenizer().encode(text), gptConfig().blockSize, 24);
}

export function baseModelDir(name: string, mode: PretrainMode, seed: number): string {
  const revision = BASE_MODELS[name]?.revision ?? 1;
  return fromRoot("experiments", "runs", "base-models", name, `${mode}-seed${seed}${revision > 1 ? `-r${revision}` : ""}`);
}

export interface PretrainOptions {
  mode: PretrainMode;
  seed: number;
  dir?: string;
  onStep?: (step: number, loss: number) => void;
  /** Fewer steps than the recipe's budget (tests); the checkpoint records the steps run. */
  steps?: number;
}

/** Pretrains a base model from its recipe and seed, saves it, and returns the checkpoint. */
export function pretrainBase(tf: Tf, name: string, opts: PretrainOptions): LoadedCheckpoint {
  const recipe = BASE_MODELS[name];
  if (!recipe) throw new IntelligenceError(`no base model named "${name}"`, `use one of: ${Object.keys(BASE_MODELS).join(", ")}`);
  const model = baseModel(tf, name);
  const budget = { ...recipe.pretrain[opts.mode], ...(opts.steps !== undefined ? { steps: opts.steps } : {}) };
  const data = pretrainData(name);
  const init = model.init(opts.seed);
  const vars: Record<string, tfjs.Variable> = {};
  for (const [k, t] of Object.entries(init)) { vars[k] = tf.variable(t, true); t.dispose(); }
  const opt = new Optimizer(tf, { ...DEFAULT_OPTIMIZER, lr: budget.lr }, vars);
  const started = Date.now();
  let last = NaN;
  for (let s = 0; s < budget.steps; s++) {
    const lr = learningRate(budget.lr, { kind: "cosine", warmupSteps: Math.min(20, budget.steps / 10) }, s, budget.steps);
    last = tf.tidy(() => trainStep(model, {}, vars, opt, batchTensors(model, data, batchIndices(data.n, budget.batchSize, opts.seed, s)), lr, {}, s).loss);
    opts.onStep?.(s, last);
  }
  opt.dispose();
  const weights: WeightMap = vars;
  const dir = opts.dir ?? baseModelDir(name, opts.mode, opts.seed);
  saveCheckpoint(dir, weights, {
    kind: recipe.kind, config: model.config,
    recipe: { base_model: name, mode: opts.mode, seed: opts.seed, ...budget, final_loss: last, seconds: (Date.now() - started) / 1000, backend: tf.getBackend() },
  });
  Object.values(vars).forEach((v) => v.dispose());
  return loadCheckpoint(tf, dir);
}

/** Loads the base checkpoint for (name, mode, seed), pretraining it first if absent. */
export function loadOrPretrainBase(tf: Tf, name: string, opts: PretrainOptions): LoadedCheckpoint {
  const dir = opts.dir ?? baseModelDir(name, opts.mode, opts.seed);
  if (existsSync(join(dir, "model.safetensors"))) return loadCheckpoint(tf, dir);
  return pretrainBase(tf, name, { ...opts, dir });
}
