import { existsSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../../cache.js";
import { loadFashionMnist } from "../datasets/fashion-mnist.js";
import { FORTUNES } from "../datasets/fortune-sets.js";
import { type CharTokenizer, charTokenizer, loadFortuneSet, loadFortunes } from "../datasets/text-corpus.js";
import { IntelligenceError } from "../errors.js";
import { DEFAULT_OPTIMIZER, type TrainData } from "../train.js";
import { releaseVariables, runTrainingLoop, trainableVariables } from "../training-loop.js";
import { BPE_KIND, type BpeTokenizer, TOKENIZER_FILE, tokenizerRecord, trainBpe } from "./bpe-tokenizer.js";
import { type LoadedCheckpoint, loadCheckpoint, saveCheckpoint } from "./checkpoint.js";
import { createGpt, type GptConfig } from "./gpt.js";
import { createMlp, type MlpConfig } from "./mlp.js";
import type { Model, Tf } from "./types.js";

/**
 * Base models the lab can rebuild from a seed. Each recipe names its architecture, its
 * pretraining data and two budgets: "quick" (CI, seconds) and "full" (documented below).
 */
export type PretrainMode = "quick" | "full";

export interface BaseModelRecipe {
  name: string;
  kind: "mlp" | "gpt";
  /** GPT recipes: the architecture (vocabulary size comes from the corpus). */
  gpt?: Omit<GptConfig, "vocabSize">;
  /** Pretraining windows are cut every `stride` tokens (GPT recipes). */
  stride?: number;
  /**
   * GPT recipes: byte-level BPE learned from the recipe's pretraining text (bpe-tokenizer.ts), saved
   * beside the weights; absent: the character vocabulary of fortunes-min.
   */
  tokenizer?: { kind: typeof BPE_KIND; vocabSize: number };
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
    gpt: { blockSize: 48, nLayer: 2, nHead: 4, nEmbd: 64 },
    stride: 24,
    pretrain: { quick: { steps: 60, batchSize: 16, lr: 3e-3 }, full: { steps: 800, batchSize: 16, lr: 3e-3 } },
    fullTimeNote: "about 5 minutes on wasm, 2 cores (800 steps of 16 windows of 48 characters)",
    revision: 2, // 2: GPT-2 initialisation (N(0, 0.02²), residual projections scaled by depth)
  },
  /**
   * The GPU preset: nanoGPT's character-level Shakespeare configuration (6 layers, 6 heads,
   * width 384, block 256; about 10.8 M parameters) on the same corpus. The Factory's full mode
   * (base_model.pretrain: full) of fortunes-gpt builds this one when a GPU backend is active.
   */
  "fortunes-gpt-large": {
    name: "fortunes-gpt-large",
    kind: "gpt",
    description: "character-level 6-layer, 6-head, 384-wide decoder-only transformer (block 256; nanoGPT's shakespeare-char size) pretrained on the fortunes and riddles files of fortunes-min",
    gpt: { blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 384 },
    stride: 128,
    pretrain: { quick: { steps: 20, batchSize: 8, lr: 1e-3 }, full: { steps: 2000, batchSize: 64, lr: 1e-3 } },
    fullTimeNote: "GPU only: 2000 steps of 64 windows of 256 characters (about 2 PFLOP); on wasm, 2 cores, one step takes about a minute",
    revision: 2, // 2: GPT-2 initialisation (N(0, 0.02²), residual projections scaled by depth)
  },
  /**
   * Words as tokens: the same 2-layer, 64-wide transformer over byte-level BPE (2048 tokens, about
   * 2.7 bytes each) learned from, and pretrained on, the full English fortune collection, so a
   * 48-token block holds about 130 characters and a word is one or two tokens.
   */
  "fortunes-bpe-gpt": {
    name: "fortunes-bpe-gpt",
    kind: "gpt",
    description:
      "byte-level BPE (2048 tokens) 2-layer, 4-head, 64-wide decoder-only transformer (block 48) pretrained on Debian's full English fortune collection (fortunes and fortunes-min less its literature file)",
    gpt: { blockSize: 48, nLayer: 2, nHead: 4, nEmbd: 64 },
    stride: 24,
    tokenizer: { kind: BPE_KIND, vocabSize: 2048 },
    pretrain: { quick: { steps: 60, batchSize: 16, lr: 3e-3 }, full: { steps: 1500, batchSize: 16, lr: 3e-3 } },
    fullTimeNote: "about 4.5 minutes on wasm, 2 cores (1500 steps of 16 windows of 48 tokens: 1.15 M tokens, 1.2 passes over the 930 000-token corpus)",
    revision: 1,
  },
  /**
   * The larger BPE base: twice the depth and width of fortunes-bpe-gpt and a 64-token block
   * (1.33 M parameters), over the identical tokenizer (the same kind and vocabulary size, learned
   * from the same text), so the DataInf paper's named-transformation documents (up to 52 tokens)
   * fit one block each. Its budget, two passes over the corpus, was sized by a measured 2 700
   * tokens a second on the 2-core wasm machine.
   */
  "fortunes-bpe-gpt-wide": {
    name: "fortunes-bpe-gpt-wide",
    kind: "gpt",
    description:
      "byte-level BPE (2048 tokens) 4-layer, 4-head, 128-wide decoder-only transformer (block 64) pretrained on Debian's full English fortune collection (fortunes and fortunes-min less its literature file)",
    gpt: { blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 128 },
    stride: 32,
    tokenizer: { kind: BPE_KIND, vocabSize: 2048 },
    pretrain: { quick: { steps: 30, batchSize: 16, lr: 3e-3 }, full: { steps: 1800, batchSize: 16, lr: 3e-3 } },
    fullTimeNote:
      "about 13 minutes on wasm, 2 cores (1800 steps of 16 windows of 64 tokens: 1.84 M tokens, 2.0 passes over the 930 000-token corpus, about 0.4 s a step; 797 s measured, final loss 4.56 nats per token)",
    revision: 1,
  },
};

/**
 * The base model a spec's (name, pretrain mode) trains from on a backend: the full mode of
 * fortunes-gpt on a GPU backend is the larger preset, so GPU runs fine-tune a model worth a GPU.
 */
export function resolveBaseModel(name: string, mode: PretrainMode, onGpu: boolean): string {
  return name === "fortunes-gpt" && mode === "full" && onGpu ? "fortunes-gpt-large" : name;
}

export const MLP_CONFIG: MlpConfig = { inputSize: 784, hidden: [256, 128], numClasses: 10 };
/** The first N training images are the base model's; datanets draw from the rest. */
export const PRETRAIN_IMAGES = 30000;

let tokenizer: CharTokenizer | undefined;
/** The character vocabulary of the whole fortunes-min corpus (base model and datanets share it). */
export function fortunesTokenizer(): CharTokenizer {
  tokenizer ??= charTokenizer(loadFortunes().text);
  return tokenizer;
}

/** What the language models' callers need of a tokenizer: the vocabulary and both directions. */
export interface LmTokenizer {
  vocab: string[];
  encode(s: string): Int32Array;
  decode(ids: ArrayLike<number>): string;
}

/**
 * The English pretraining documents of the BPE base models: fortunes-min's `fortunes` and
 * `riddles` (its `literature` is kept for fine-tuning) and the full `fortunes` package.
 */
export function englishFortuneDocuments(): string[] {
  const min = loadFortunes();
  return [...min.documents.filter((_, i) => min.sources[i] !== "literature"), ...loadFortuneSet(FORTUNES).documents];
}

const bpeTokenizers = new Map<number, BpeTokenizer>();
/** The tokenizer a GPT recipe was built with: learned (deterministically) from its pretraining text for BPE, else the character vocabulary. */
export function recipeTokenizer(name = "fortunes-gpt"): LmTokenizer {
  const spec = recipeOf(name).tokenizer;
  if (!spec) return fortunesTokenizer();
  const known = bpeTokenizers.get(spec.vocabSize);
  if (known) return known;
  const bpe = trainBpe(englishFortuneDocuments(), { vocabSize: spec.vocabSize });
  bpeTokenizers.set(spec.vocabSize, bpe);
  return bpe;
}

/** The tokenizer of a loaded base checkpoint: the one saved beside its weights (hash-checked), else its recipe's. */
export function checkpointTokenizer(checkpoint: LoadedCheckpoint, name: string): LmTokenizer {
  return checkpoint.tokenizer ?? recipeTokenizer(name);
}

/** The GPT architecture of a recipe (fortunes-gpt by default), vocabulary from its tokenizer. */
export function gptConfig(name = "fortunes-gpt"): GptConfig {
  const recipe = BASE_MODELS[name];
  if (!recipe?.gpt) {
    const gpts = Object.values(BASE_MODELS)
      .filter((r) => r.gpt)
      .map((r) => r.name);
    throw new IntelligenceError({ code: "model/not-a-gpt", message: `base model "${name}" is not a GPT recipe`, hint: `use one of: ${gpts.join(", ")}`, fields: { name, known: gpts } });
  }
  return { vocabSize: recipeTokenizer(name).vocab.length, ...recipe.gpt };
}

export function createModel(tf: Tf, kind: string, config: unknown): Model {
  if (kind === "mlp") return createMlp(tf, config as MlpConfig);
  if (kind === "gpt") return createGpt(tf, config as GptConfig);
  throw new IntelligenceError({
    code: "model/unknown-kind",
    message: `unknown model kind "${kind}"`,
    hint: "use mlp or gpt",
    fields: { kind },
  });
}

export function baseModel(tf: Tf, name: string): Model {
  const recipe = recipeOf(name);
  return recipe.kind === "mlp" ? createMlp(tf, MLP_CONFIG) : createGpt(tf, gptConfig(name));
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
  return lmWindows(pretrainTokenIds(name), gptConfig(name).blockSize, recipe.stride ?? 24);
}

/**
 * A GPT base model's pretraining text as token ids: for the character models the "fortunes" and
 * "riddles" files of fortunes-min ("literature" is kept for fine-tuning); for the BPE models the
 * English fortune documents (englishFortuneDocuments), each pair apart by a blank line.
 */
export function pretrainTokenIds(name = "fortunes-gpt"): Int32Array {
  if (recipeOf(name).tokenizer) return recipeTokenizer(name).encode(englishFortuneDocuments().join("\n\n"));
  const corpus = loadFortunes();
  const text = corpus.documents.filter((_, i) => corpus.sources[i] !== "literature").join("\n\n");
  return fortunesTokenizer().encode(text);
}

export function baseModelDir(name: string, mode: PretrainMode, seed: number): string {
  const revision = BASE_MODELS[name]?.revision ?? 1;
  return cacheDir("base-models", name, `${mode}-seed${seed}${revision > 1 ? `-r${revision}` : ""}`);
}

export interface PretrainOptions {
  mode: PretrainMode;
  seed: number;
  dir?: string;
  onStep?: (step: number, loss: number) => void;
  /** Fewer steps than the recipe's budget (tests); the checkpoint records the steps run. */
  steps?: number;
}

/** Pretrains a base model from its recipe and seed (AdamW, warm-up then cosine decay), saves it, and returns the checkpoint. */
export async function pretrainBase(tf: Tf, name: string, opts: PretrainOptions): Promise<LoadedCheckpoint> {
  const recipe = recipeOf(name);
  const model = baseModel(tf, name);
  const budget = { ...recipe.pretrain[opts.mode], ...(opts.steps !== undefined ? { steps: opts.steps } : {}) };
  const started = Date.now();
  const init = model.init(opts.seed);
  const trainable = trainableVariables(tf, init);
  for (const t of Object.values(init)) t.dispose();
  const run = await runTrainingLoop({
    model,
    frozen: {},
    trainable,
    optimizer: { ...DEFAULT_OPTIMIZER, lr: budget.lr },
    data: pretrainData(name),
    batchSize: budget.batchSize,
    seed: opts.seed,
    steps: budget.steps,
    schedule: { kind: "cosine", warmupSteps: Math.min(20, budget.steps / 10) },
    onStep: (r) => opts.onStep?.(r.step - 1, r.loss),
  });
  const weights = releaseVariables(tf, trainable);
  const dir = opts.dir ?? baseModelDir(name, opts.mode, opts.seed);
  const bpe = recipe.tokenizer ? (recipeTokenizer(name) as BpeTokenizer) : undefined;
  const tokenizer = bpe ? tokenizerRecord(bpe) : undefined;
  await saveCheckpoint(
    dir,
    weights,
    {
      kind: recipe.kind,
      config: model.config,
      recipe: {
        base_model: name,
        mode: opts.mode,
        seed: opts.seed,
        ...budget,
        final_loss: run.lastLoss,
        seconds: (Date.now() - started) / 1000,
        backend: tf.getBackend(),
        ...(tokenizer ? { tokenizer } : {}),
      },
    },
    bpe ? { [TOKENIZER_FILE]: bpe.serialize() } : {},
  );
  for (const t of Object.values(weights)) t.dispose();
  return loadCheckpoint(tf, dir);
}

function recipeOf(name: string): BaseModelRecipe {
  const recipe = BASE_MODELS[name];
  if (recipe) return recipe;
  throw new IntelligenceError({
    code: "model/unknown-base-model",
    message: `no base model named "${name}"`,
    hint: `use one of: ${Object.keys(BASE_MODELS).join(", ")}`,
    fields: { name, known: Object.keys(BASE_MODELS) },
  });
}

/** Loads the base checkpoint for (name, mode, seed), pretraining it first if absent. */
export async function loadOrPretrainBase(tf: Tf, name: string, opts: PretrainOptions): Promise<LoadedCheckpoint> {
  const dir = opts.dir ?? baseModelDir(name, opts.mode, opts.seed);
  if (existsSync(join(dir, "model.safetensors"))) return loadCheckpoint(tf, dir);
  return pretrainBase(tf, name, { ...opts, dir });
}
