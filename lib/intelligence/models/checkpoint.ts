import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex, writeDirAtomic, writeDirOnce } from "../../files.js";
import { readTensorMap } from "../../tf/read-back.js";
import { IntelligenceError } from "../errors.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../peft/safetensors.js";
import { type BpeTokenizer, loadBpeTokenizer, type TokenizerRecord } from "./bpe-tokenizer.js";
import type { Tf, WeightMap } from "./types.js";

export function fromArrays(tf: Tf, arrays: Record<string, SafeTensor>): WeightMap {
  const out: WeightMap = {};
  for (const [k, a] of Object.entries(arrays)) out[k] = tf.tensor(a.data, a.shape, "float32");
  return out;
}

export interface CheckpointMeta {
  kind: string;
  config: unknown;
  /**
   * How the weights were produced (data, steps, seed, backend), for the model card; `tokenizer`
   * records a tokenizer saved beside the weights (kind, vocabulary size, file, sha256).
   */
  recipe?: Record<string, unknown> & { tokenizer?: TokenizerRecord };
}

export interface LoadedCheckpoint extends CheckpointMeta {
  weights: WeightMap;
  /** sha256 of model.safetensors: the base model's content hash. */
  sha256: string;
  dir: string;
  /** The tokenizer saved beside the weights, checked against the sha256 config.json records (BPE models). */
  tokenizer?: BpeTokenizer;
}

/**
 * Saves weights as model.safetensors + config.json (read back asynchronously), with any other
 * files of the model (tokenizer.json) in the same atomic write; returns the content hash of the
 * weights. A checkpoint already in place at `dir` is kept (writeDirOnce): a base checkpoint is a
 * function of its recipe and seed, and two experiments running at once may both pretrain it; a
 * folder there without weights is replaced.
 */
export async function saveCheckpoint(dir: string, weights: WeightMap, meta: CheckpointMeta, files: Record<string, string> = {}): Promise<string> {
  const bytes = encodeSafetensors(await readTensorMap(weights), { format: "pt" });
  const hash = sha256Hex(bytes);
  const folder = { "model.safetensors": bytes, "config.json": `${JSON.stringify({ ...meta, sha256: hash }, null, 2)}\n`, ...files };
  // a folder in place without weights (a leftover of an interrupted copy, say) is no checkpoint: replace it
  if (!writeDirOnce(dir, folder) && !existsSync(join(dir, "model.safetensors"))) writeDirAtomic(dir, folder);
  return hash;
}

export function loadCheckpoint(tf: Tf, dir: string, expectedSha256?: string): LoadedCheckpoint {
  const file = join(dir, "model.safetensors");
  if (!existsSync(file))
    throw new IntelligenceError({
      code: "checkpoint/missing",
      message: `no checkpoint at ${dir}`,
      hint: "pretrain the base model first (pretrainBase / ./lab factory builds it from its seed)",
      fields: { dir },
    });
  const bytes = readFileSync(file);
  const hash = sha256Hex(bytes);
  if (expectedSha256 && hash !== expectedSha256) {
    throw new IntelligenceError({
      code: "checkpoint/hash-mismatch",
      message: `checkpoint ${file} has sha256 ${hash}, expected ${expectedSha256}`,
      hint: "use the checkpoint the hash was recorded for, or update the expected hash",
      fields: { file, actual: hash, expected: expectedSha256 },
    });
  }
  const meta = JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as CheckpointMeta;
  const recorded = meta.recipe?.tokenizer;
  const tokenizer = recorded ? loadBpeTokenizer(join(dir, recorded.file), recorded.sha256) : undefined;
  return { ...meta, weights: fromArrays(tf, decodeSafetensors(bytes).tensors), sha256: hash, dir, ...(tokenizer ? { tokenizer } : {}) };
}
