import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256Hex, writeDirAtomic } from "../../files.js";
import { readTensorMap } from "../../tf/read-back.js";
import { IntelligenceError } from "../errors.js";
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from "../peft/safetensors.js";
import type { Tf, WeightMap } from "./types.js";

export function fromArrays(tf: Tf, arrays: Record<string, SafeTensor>): WeightMap {
  const out: WeightMap = {};
  for (const [k, a] of Object.entries(arrays)) out[k] = tf.tensor(a.data, a.shape, "float32");
  return out;
}

export interface CheckpointMeta {
  kind: string;
  config: unknown;
  /** How the weights were produced (data, steps, seed, backend), for the model card. */
  recipe?: Record<string, unknown>;
}

export interface LoadedCheckpoint extends CheckpointMeta {
  weights: WeightMap;
  /** sha256 of model.safetensors: the base model's content hash. */
  sha256: string;
  dir: string;
}

/** Saves weights as model.safetensors + config.json (read back asynchronously); returns the content hash of the weights. */
export async function saveCheckpoint(dir: string, weights: WeightMap, meta: CheckpointMeta): Promise<string> {
  const bytes = encodeSafetensors(await readTensorMap(weights), { format: "pt" });
  const hash = sha256Hex(bytes);
  writeDirAtomic(dir, {
    "model.safetensors": bytes,
    "config.json": `${JSON.stringify({ ...meta, sha256: hash }, null, 2)}\n`,
  });
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
  return { ...meta, weights: fromArrays(tf, decodeSafetensors(bytes).tensors), sha256: hash, dir };
}
