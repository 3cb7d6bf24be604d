/**
 * The base language model an lm experiment fine-tunes, chosen by its `base` param: the
 * character-level fortunes-gpt (the default: quick mode, teaching, and every recorded claim) or
 * fortunes-bpe-gpt, the same transformer over byte-level BPE tokens pretrained on the full English
 * fortune collection, in which a word is one or two tokens; or fortunes-bpe-gpt-wide, twice as deep
 * and wide with a 64-token block over the identical tokenizer. Loaded from the base-model cache, or
 * pretrained from its seed first; the tokenizer is the one saved beside the weights.
 */

import { type LoraConfig, loraConfig } from "../intelligence/lora/index.js";
import type { Model, Tf, WeightMap } from "../intelligence/models/types.js";
import type { PretrainMode } from "../intelligence/models/zoo.js";
import { baseModel, checkpointTokenizer, type LmTokenizer, loadOrPretrainBase } from "../intelligence/models/zoo.js";

/** The base models the lm experiments take, by zoo name. */
export const LM_BASE_MODELS = ["fortunes-gpt", "fortunes-bpe-gpt", "fortunes-bpe-gpt-wide"] as const;
export type LmBaseName = (typeof LM_BASE_MODELS)[number];

/** The base when a spec names none. */
export const DEFAULT_LM_BASE: LmBaseName = "fortunes-gpt";

export interface LmBase {
  name: LmBaseName;
  model: Model;
  weights: WeightMap;
  tokenizer: LmTokenizer;
  /** The block size in tokens (characters for fortunes-gpt). */
  blockSize: number;
}

/** What picks a base: its name (absent: the default), pretraining budget and seed. */
export interface LmBaseParams {
  base?: LmBaseName;
  pretrain: PretrainMode;
  baseSeed: number;
}

/** The base model of an lm experiment's params, loaded (or pretrained) with its tokenizer. */
export async function loadLmBase(tf: Tf, p: LmBaseParams): Promise<LmBase> {
  const name = p.base ?? DEFAULT_LM_BASE;
  const checkpoint = await loadOrPretrainBase(tf, name, { mode: p.pretrain, seed: p.baseSeed });
  const model = baseModel(tf, name);
  return { name, model, weights: checkpoint.weights, tokenizer: checkpointTokenizer(checkpoint, name), blockSize: (model.config as { blockSize: number }).blockSize };
}

/** A key naming the base of `p`, for caches of loaded bases. */
export function lmBaseKey(p: LmBaseParams): string {
  return `${p.base ?? DEFAULT_LM_BASE}/${p.pretrain}/${p.baseSeed}`;
}

/** The base this process holds for its jobs (one at a time: a worker keeps the last it loaded), by lmBaseKey. */
let held: { key: string; base: Promise<LmBase> } | undefined;

/**
 * The base of `p` as a job sees it: loaded once per process (from the base-model cache the
 * experiment's set-up filled) and kept for the process's later jobs on the same base; a job on
 * another base replaces it. The LoRA re-trainings and the LoRA adapter's rebuilt model
 * (job-models.ts) share it.
 */
export function heldLmBase(tf: Tf, p: LmBaseParams): Promise<LmBase> {
  const key = lmBaseKey(p);
  if (held?.key === key) return held.base;
  const base = loadLmBase(tf, p);
  held = { key, base };
  // a failed load is not kept: the next job tries again
  base.catch(() => {
    if (held?.base === base) held = undefined;
  });
  return base;
}

/** The LoRA adapter an lm experiment trains on its base: rank, alpha and target modules (the spec's `lora`). */
export interface LmLora {
  r: number;
  alpha: number;
  targets: string[];
}

/** The adapter's LoRA config (PEFT's defaults beside the spec's three fields), for training and for a rebuilt model alike. */
export function lmLoraConfig(lora: LmLora): LoraConfig {
  return loraConfig({ r: lora.r, loraAlpha: lora.alpha, targetModules: lora.targets });
}
