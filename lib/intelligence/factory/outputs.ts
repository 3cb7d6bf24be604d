import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { canonicalJson } from "../../canonical-json.js";
import { commitDir, movePath, sha256Hex, stagingPathBeside } from "../../files.js";
import { readTensorMap, type WebGpuAdapterReport } from "../../tf/index.js";
import type { Datanet } from "../datanets.js";
import type { LoraAdapter } from "../lora/index.js";
import type { Model } from "../models/types.js";
import { BASE_MODELS } from "../models/zoo.js";
import { peftTaskType, saveAdapter } from "../peft/index.js";
import { encodeSafetensors } from "../peft/safetensors.js";
import { modelCard } from "./card.js";
import { keptCheckpointNames } from "./checkpoints.js";
import type { FactoryMetrics } from "./factory-metrics.js";
import type { FactorySpec } from "./factory-spec.js";

export interface FactoryOutputs {
  adapterSha256: string;
  metricsSha256: string;
}

/**
 * Stage "outputs and card": builds the output folder beside `outDir` (the adapter in PEFT
 * files, or the fine-tuned weights; spec, metrics, datanet manifests, result.json, the model
 * card; the kept checkpoints moved in from staging) and renames it into place, replacing an
 * older output only once the new one is whole.
 */
export async function writeFactoryOutputs(a: {
  outDir: string;
  spec: FactorySpec;
  specSha256: string;
  model: Model;
  metrics: FactoryMetrics;
  datanets: Datanet[];
  trainable: Record<string, tfjs.Variable>;
  adapter?: LoraAdapter;
  base: { sha256: string; recipe?: Record<string, unknown> };
  checkpointsDir: string;
  backend: string;
  /** The base model trained on: the spec's, or the GPU preset standing in for it. */
  baseName?: string;
  gpuAdapter?: WebGpuAdapterReport;
}): Promise<FactoryOutputs> {
  const { spec, model, metrics, datanets } = a;
  const baseName = a.baseName ?? spec.base_model.name;
  const adapter = a.gpuAdapter;
  const staged = stagingPathBeside(a.outDir);
  try {
    mkdirSync(staged, { recursive: true });
    let adapterSha256: string;
    if (a.adapter) {
      adapterSha256 = (await saveAdapter(join(staged, "adapter"), a.adapter, { baseModelNameOrPath: spec.base_model.name, taskType: peftTaskType(model.task) })).sha256;
    } else {
      const bytes = encodeSafetensors(await readTensorMap(a.trainable), { format: "pt" });
      adapterSha256 = sha256Hex(bytes);
      writeStagedFile(join(staged, "weights", "model.safetensors"), bytes);
    }
    const metricsJson = `${JSON.stringify(metrics, null, 2)}\n`;
    const metricsSha256 = metricsHash(metrics);
    const result = {
      name: spec.name,
      method: spec.method,
      base_model: spec.base_model.name,
      base_model_sha256: a.base.sha256,
      adapter_sha256: adapterSha256,
      spec_sha256: a.specSha256,
      metrics_sha256: metricsSha256,
      datanet_ids: datanets.map((d) => d.id),
      backend: a.backend,
      ...(baseName !== spec.base_model.name ? { base_model_preset: baseName } : {}),
      ...(adapter ? { gpu_adapter: { vendor: adapter.vendor, architecture: adapter.architecture, device: adapter.device, description: adapter.description, software: adapter.software } } : {}),
    };
    const files: Record<string, string | Uint8Array> = { "spec.json": `${canonicalJson(spec)}\n`, "metrics.json": metricsJson };
    for (const d of datanets) files[`datanets/${d.name}.manifest.json`] = `${JSON.stringify(d.manifest)}\n`;
    files["result.json"] = `${JSON.stringify(result, null, 2)}\n`;
    files["model_card.md"] = modelCard({ spec, result, metrics, datanets, baseRecipe: BASE_MODELS[baseName], baseMeta: a.base.recipe ?? {} });
    for (const [name, data] of Object.entries(files)) writeStagedFile(join(staged, name), data);
    mkdirSync(join(staged, "checkpoints"), { recursive: true });
    for (const name of keptCheckpointNames(a.checkpointsDir)) movePath(join(a.checkpointsDir, name), join(staged, "checkpoints", name));
    commitDir(staged, a.outDir);
    return { adapterSha256, metricsSha256 };
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

/** Fields of metrics.json that measure the machine, not the model: the same seed gives other values on every run. */
export const WALL_CLOCK_METRICS = ["seconds", "examples_per_second", "model_gflops_per_second"] as const;

/**
 * What the chain records of a run's metrics: sha256 of their canonical JSON (RFC 8785) without
 * the wall-clock fields, so one seed registers one hash on any machine and at any load.
 */
export function metricsHash(metrics: object): string {
  const measured = Object.fromEntries(Object.entries(metrics).filter(([k]) => !(WALL_CLOCK_METRICS as readonly string[]).includes(k)));
  return sha256Hex(canonicalJson(measured));
}

/** A file inside a staged folder: the folder's rename makes it visible, so no temp name is needed. */
function writeStagedFile(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}
