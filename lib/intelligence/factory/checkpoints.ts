import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { writeDirAtomic } from "../../files.js";
import { readTensorMap } from "../../tf/index.js";
import type { LoraAdapter } from "../lora/index.js";
import type { ArrayMap, Model } from "../models/types.js";
import { encodeAdapter, peftTaskType, toPeftConfig } from "../peft/index.js";
import { decodeSafetensors, encodeSafetensors } from "../peft/safetensors.js";
import type { FactorySpec } from "./factory-spec.js";

/** One kept checkpoint: what the attribution layer replays (TracIn sums over these). */
export interface FactoryCheckpoint {
  step: number;
  /** Learning rate used for the step that produced these weights (LoRA+ B rate = lr × lr_ratio_b). */
  lr: number;
  loss: number;
  /** Trainable tensors at that step, by PEFT key (LoRA: MODULE.lora_A.weight ...). */
  tensors: ArrayMap;
  dir: string;
}

const CHECKPOINT_NAME = /^step-\d+$/;

/** Folder name of the checkpoint after `step` steps: zero-padded, so names sort by step. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(6, "0")}`;
}

/** Names of the checkpoints in `root`, oldest first. */
export function keptCheckpointNames(root: string): string[] {
  return existsSync(root)
    ? readdirSync(root)
        .filter((d) => CHECKPOINT_NAME.test(d))
        .sort()
    : [];
}

/** The newest checkpoint folder in `root`, for messages ("(none yet)" before the first). */
export function lastCheckpointDir(root: string): string {
  const kept = keptCheckpointNames(root);
  return kept.length ? join(root, kept[kept.length - 1]) : "(none yet)";
}

/** Removes all but the newest `keep` checkpoints; returns the names removed. */
export function pruneCheckpoints(root: string, keep: number): string[] {
  const kept = keptCheckpointNames(root);
  const removed = kept.slice(0, Math.max(0, kept.length - keep));
  for (const old of removed) rmSync(join(root, old), { recursive: true, force: true });
  return removed;
}

/**
 * Writes the checkpoint after `step` steps (PEFT adapter files for LoRA, model.safetensors
 * otherwise, with meta.json holding step, learning rates and loss) and prunes to
 * spec.checkpoints.keep. Returns its folder. The tensors are read back asynchronously first:
 * WebGPU has no synchronous read-back.
 */
export async function writeCheckpoint(
  root: string,
  at: { step: number; lr: number; loss: number },
  trainable: Record<string, tfjs.Variable>,
  spec: FactorySpec,
  model: Model,
  adapter?: LoraAdapter,
): Promise<string> {
  const tensors = Object.fromEntries(Object.entries(trainable).map(([k, v]) => [k, v as tfjs.Tensor]));
  const lrB = spec.method === "lora" ? at.lr * spec.optimizer.lr_ratio_b : at.lr;
  const files: Record<string, Uint8Array | string> = { "meta.json": `${JSON.stringify({ step: at.step, lr: at.lr, lr_b: lrB, loss: at.loss }, null, 2)}\n` };
  if (adapter) {
    files["adapter_config.json"] = `${JSON.stringify(toPeftConfig(adapter.config, spec.base_model.name, peftTaskType(model.task)), null, 2)}\n`;
    files["adapter_model.safetensors"] = await encodeAdapter({ ...adapter, tensors });
  } else {
    files["model.safetensors"] = encodeSafetensors(await readTensorMap(tensors), { format: "pt" });
  }
  const dir = join(root, checkpointName(at.step));
  writeDirAtomic(dir, files);
  pruneCheckpoints(root, spec.checkpoints.keep);
  return dir;
}

/** Reads the kept checkpoints of a finished run back, tensors keyed without PEFT's prefix. */
export function readCheckpoints(root: string, isAdapter: boolean): FactoryCheckpoint[] {
  return keptCheckpointNames(root).map((name) => {
    const dir = join(root, name);
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as { step: number; lr: number; loss: number };
    const { tensors } = decodeSafetensors(readFileSync(join(dir, isAdapter ? "adapter_model.safetensors" : "model.safetensors")));
    const byKey: ArrayMap = {};
    for (const [key, t] of Object.entries(tensors)) byKey[key.replace(/^base_model\.model\./, "")] = t;
    return { step: meta.step, lr: meta.lr, loss: meta.loss, tensors: byKey, dir };
  });
}
