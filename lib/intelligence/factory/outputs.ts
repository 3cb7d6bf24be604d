import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { canonicalJson } from "../../canonical-json.js";
import { commitDir, movePath, sha256Hex, stagingPathBeside } from "../../files.js";
import { readBackToCpu, type WebGpuAdapterReport } from "../../tf/index.js";
import type { Datanet } from "../datanets.js";
import type { LoraAdapter } from "../lora/index.js";
import { toArrays } from "../models/checkpoint.js";
import type { Model } from "../models/types.js";
import { BASE_MODELS } from "../models/zoo.js";
import { peftTaskType, saveAdapter } from "../peft/index.js";
import { encodeSafetensors } from "../peft/safetensors.js";
import { modelCard } from "./card.js";
import { keptCheckpointNames } from "./checkpoints.js";
import type { FactorySpec } from "./factory-spec.js";

export interface FactoryMetrics {
  base: { test_loss: number; test_accuracy: number };
  final: { test_loss: number; test_accuracy: number; validation_loss: number; validation_accuracy: number };
  history: Array<{ step: number; loss: number; lr: number }>;
  evals: Array<{ step: number; validation_loss: number; validation_accuracy: number; test_loss: number; test_accuracy: number }>;
  trainable_params: number;
  total_params: number;
  trainable_fraction: number;
  steps: number;
  batch_size: number;
  seconds: number;
  examples_per_second: number;
  /** Model FLOPs per second: 3 × forward FLOPs per example × examples/s (forward + backward). */
  model_gflops_per_second: number;
  /** Tensor memory training adds over the loaded base model: trainable weights, optimizer
   *  state, gradients and the batch, at their peak (measured with the gradients held). */
  training_tensor_bytes: number;
  backend: string;
  resumed_from_step: number | null;
}

/** What the training loop measured, for the metrics. */
export interface TrainingRecord {
  history: FactoryMetrics["history"];
  evals: FactoryMetrics["evals"];
  final: FactoryMetrics["evals"][number];
  base: { loss: number; accuracy: number };
  /** Seconds of every call, and of the calls before this one (a resumed run). */
  seconds: number;
  secondsBefore: number;
  resumedFrom: number | null;
  peakTrainingBytes: number;
}

/**
 * The run's metrics. Throughput counts only the steps of this call over its own seconds, so a
 * resumed run reports the speed it trained at, not an average over the pause.
 */
export function factoryMetrics(spec: FactorySpec, model: Model, totalSteps: number, params: { trainable: number; total: number }, record: TrainingRecord, backend: string): FactoryMetrics {
  const examplesPerSecond = ((totalSteps - (record.resumedFrom ?? 0)) * spec.training.batch_size) / Math.max(1e-9, record.seconds - record.secondsBefore);
  const f = record.final;
  return {
    base: { test_loss: record.base.loss, test_accuracy: record.base.accuracy },
    final: { test_loss: f.test_loss, test_accuracy: f.test_accuracy, validation_loss: f.validation_loss, validation_accuracy: f.validation_accuracy },
    history: record.history,
    evals: record.evals,
    trainable_params: params.trainable,
    total_params: params.total,
    trainable_fraction: params.trainable / params.total,
    steps: totalSteps,
    batch_size: spec.training.batch_size,
    seconds: record.seconds,
    examples_per_second: examplesPerSecond,
    model_gflops_per_second: (3 * model.flopsPerExample() * examplesPerSecond) / 1e9,
    training_tensor_bytes: record.peakTrainingBytes,
    backend,
    resumed_from_step: record.resumedFrom,
  };
}

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
  await readBackToCpu(Object.values(a.trainable));
  try {
    mkdirSync(staged, { recursive: true });
    let adapterSha256: string;
    if (a.adapter) {
      adapterSha256 = saveAdapter(join(staged, "adapter"), a.adapter, { baseModelNameOrPath: spec.base_model.name, taskType: peftTaskType(model.task) }).sha256;
    } else {
      const bytes = encodeSafetensors(toArrays(a.trainable), { format: "pt" });
      adapterSha256 = sha256Hex(bytes);
      writeStagedFile(join(staged, "weights", "model.safetensors"), bytes);
    }
    const metricsJson = `${JSON.stringify(metrics, null, 2)}\n`;
    const metricsSha256 = sha256Hex(metricsJson);
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

/** A file inside a staged folder: the folder's rename makes it visible, so no temp name is needed. */
function writeStagedFile(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}
