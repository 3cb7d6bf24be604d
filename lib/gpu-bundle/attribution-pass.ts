import * as tf from "@tensorflow/tfjs";
import { FactoryModel, lmBatch } from "../attribution/factory-model.js";
import { type GradientSet, perExampleGradients } from "../attribution/gradients.js";
import { datainfGroups, layerwiseInfluence } from "../attribution/methods/datainf.js";
import type { Batch } from "../attribution/model.js";
import { hasCode, LabError } from "../errors.js";
import type { FactorySpec } from "../intelligence/factory/factory-spec.js";
import { initTrainable, specOptimizerConfig } from "../intelligence/factory/fine-tune.js";
import { createGpt, type GptConfig } from "../intelligence/models/gpt.js";
import type { Model, WeightMap } from "../intelligence/models/types.js";
import { BASE_MODELS, lmWindows } from "../intelligence/models/zoo.js";
import type { TrainData } from "../intelligence/train.js";
import { runTrainingLoop } from "../intelligence/training-loop.js";
import { type BackendChoice, selectBackend } from "../tf/backend.js";
import { type HostTensor, readTensorMap } from "../tf/read-back.js";
import { assertWebGpuHealthy } from "../tf/webgpu.js";

/**
 * One attribution pass of the GPU check: per-example gradients and DataInf scores (Kwon et al.
 * 2024) of the large preset's LoRA adapter over token windows, timed on the device's backend and
 * on wasm in the same process. The adapter is the Factory's LoRA recipe (fortunes-lora.yaml)
 * trained for a few steps on the first backend (a freshly initialised adapter has B = 0, so every
 * gradient of A would be zero), then carried to the other backend as host arrays, so both passes
 * attribute the same weights and their gradients can be compared.
 *
 * Tokens per second count every token of every window whose gradient was taken (training and
 * test windows) over the time of gradients plus scores. wasm runs fewer windows (a thousand
 * windows of 256 tokens is about twenty minutes there); throughput is per token, so the ratio
 * compares like with like.
 */

/** The pass could not run; codes: gpu-check/attribution-out-of-memory. */
export class AttributionPassError extends LabError {}

export interface AttributionPassOptions {
  /** Training windows attributed on the device. */
  windows: number;
  /** Training windows attributed on wasm (the first `wasmWindows` of the same set). */
  wasmWindows: number;
  /** Test windows scored against every training window. */
  testWindows: number;
  /** Windows per forward/backward pass on the device and on wasm (bounds their memory). */
  chunk: { device: number; wasm: number };
  /** LoRA steps that train the adapter before it is attributed, and their batch. */
  trainSteps: number;
  trainBatch: number;
  /** Quick mode: one layer and windows of 64 tokens, so the CPU can run it in seconds. */
  quick: boolean;
}

/** The pass's sizes: the 1,000 windows, or a few for a quick run; LAB_GPU_CHECK_ATTRIBUTION_WINDOWS and _CHUNK override. */
export function attributionPassOptions(quick: boolean, env: NodeJS.ProcessEnv = process.env): AttributionPassOptions {
  const windows = positiveInt(env.LAB_GPU_CHECK_ATTRIBUTION_WINDOWS, "LAB_GPU_CHECK_ATTRIBUTION_WINDOWS") ?? (quick ? 8 : 1000);
  const chunk = positiveInt(env.LAB_GPU_CHECK_ATTRIBUTION_CHUNK, "LAB_GPU_CHECK_ATTRIBUTION_CHUNK");
  return {
    windows,
    wasmWindows: Math.min(windows, quick ? 4 : 32),
    testWindows: quick ? 2 : 8,
    chunk: { device: chunk ?? (quick ? 4 : 16), wasm: Math.min(chunk ?? 4, 4) },
    trainSteps: quick ? 1 : 3,
    trainBatch: quick ? 2 : 4,
    quick,
  };
}

function positiveInt(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new AttributionPassError({
      code: "gpu-check/bad-setting",
      message: `${name}=${value} is not a positive whole number`,
      hint: `set ${name} to 1 or more, or unset it`,
      fields: { name, value },
    });
  return n;
}

export interface AttributionRun {
  backend: BackendChoice;
  windows: number;
  testWindows: number;
  chunk: number;
  /** Tokens whose per-example gradients were taken (training and test windows). */
  tokens: number;
  gradientSeconds: number;
  scoreSeconds: number;
  tokensPerSecond: number;
  /** Training windows ranked most helpful to the first test window (DataInf scores). */
  topHelpful: number[];
  /** Host-side: the gradients of the training windows both backends ran (not in the report). */
  sharedRows: Float64Array;
}

export interface AttributionPassReport {
  preset: string;
  config: GptConfig;
  loraTargets: string[];
  parameters: number;
  adapterLosses: number[];
  runs: Array<Omit<AttributionRun, "sharedRows">>;
  /** Device tokens/s over wasm's. */
  speedup: number | null;
  /** Largest |device − wasm| over the gradients of the shared windows, relative to the largest |wasm| entry. */
  gradientDifference: number | null;
}

export interface AttributionPassInput {
  spec: FactorySpec;
  config: GptConfig;
  /** Token windows of the preset's block size; the first windows train, the next are the test set. */
  windows: TrainData;
}

/**
 * The pass's model and data from the check's bundle: the large preset (one layer and windows of
 * 64 tokens in quick mode) and its pretraining windows, with the Factory's LoRA spec.
 */
export function bundleAttributionInput(spec: FactorySpec, vocabSize: number, pretrainIds: Int32Array, quick: boolean): AttributionPassInput {
  const recipe = BASE_MODELS["fortunes-gpt-large"];
  const full: GptConfig = { vocabSize, ...recipe.gpt! };
  const config = quick ? { ...full, nLayer: 1, blockSize: 64 } : full;
  return { spec, config, windows: lmWindows(pretrainIds, config.blockSize, recipe.stride) };
}

/**
 * Runs the pass on `device` (when given) and on wasm. An allocation the device or wasm cannot hold
 * becomes gpu-check/attribution-out-of-memory with the settings that shrink the pass.
 */
export async function runAttributionPass(input: AttributionPassInput, device: BackendChoice | undefined, options: AttributionPassOptions): Promise<AttributionPassReport> {
  const { spec, config, windows } = input;
  const needed = options.windows + options.testWindows;
  if (windows.n < needed)
    throw new AttributionPassError({
      code: "gpu-check/attribution-windows",
      message: `the corpus gives ${windows.n} windows; the pass needs ${needed}`,
      hint: "lower LAB_GPU_CHECK_ATTRIBUTION_WINDOWS",
      fields: { available: windows.n, needed },
    });
  const backends: BackendChoice[] = device ? [device, "wasm"] : ["wasm"];
  const adapter = await guarded(backends[0], options, () => trainAdapter(input, backends[0], options));
  const runs: AttributionRun[] = [];
  for (const backend of backends) {
    const n = backend === "wasm" ? options.wasmWindows : options.windows;
    const chunk = backend === "wasm" ? options.chunk.wasm : options.chunk.device;
    runs.push(await guarded(backend, options, () => attributeOn(input, adapter.tensors, backend, n, chunk, options)));
  }
  const [first, last] = [runs[0], runs[runs.length - 1]];
  const shared = Math.min(first.sharedRows.length, last.sharedRows.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < shared; i++) {
    diff = Math.max(diff, Math.abs(first.sharedRows[i] - last.sharedRows[i]));
    scale = Math.max(scale, Math.abs(last.sharedRows[i]));
  }
  return {
    preset: "fortunes-gpt-large",
    config,
    loraTargets: spec.lora.target_modules,
    parameters: adapter.parameters,
    adapterLosses: adapter.losses,
    runs: runs.map(({ sharedRows: _, ...figures }) => figures),
    speedup: runs.length > 1 ? first.tokensPerSecond / last.tokensPerSecond : null,
    gradientDifference: runs.length > 1 && scale > 0 ? diff / scale : null,
  };
}

/** The refusal of a pass that ran out of memory on `backend`, with the settings that shrink it. */
export function attributionOutOfMemory(error: unknown, backend: BackendChoice, options: AttributionPassOptions): AttributionPassError | undefined {
  if (!hasCode(error, "wasm/out-of-memory") && !hasCode(error, "webgpu/out-of-memory")) return undefined;
  const chunk = backend === "wasm" ? options.chunk.wasm : options.chunk.device;
  return new AttributionPassError({
    code: "gpu-check/attribution-out-of-memory",
    message: `the attribution pass ran out of memory on ${backend} (${chunk} windows per pass, ${backend === "wasm" ? options.wasmWindows : options.windows} windows): ${(error as LabError).message}`,
    hint: `rerun with fewer windows per pass (LAB_GPU_CHECK_ATTRIBUTION_CHUNK=${Math.max(1, Math.floor(chunk / 2))}) or fewer windows (LAB_GPU_CHECK_ATTRIBUTION_WINDOWS=${Math.max(1, Math.floor(options.windows / 2))})`,
    fields: { backend, chunk, windows: options.windows, wasmWindows: options.wasmWindows, cause: (error as LabError).code },
    cause: error,
  });
}

async function guarded<T>(backend: BackendChoice, options: AttributionPassOptions, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    if (backend === "webgpu") assertWebGpuHealthy(); // a device allocation that failed is reported after the fact
    return result;
  } catch (error) {
    throw attributionOutOfMemory(error, backend, options) ?? error;
  }
}

function buildModel(input: AttributionPassInput): Model {
  return createGpt(tf, input.config);
}

/** The Factory's LoRA recipe for a few steps on `backend`: the trained adapter as host arrays. */
async function trainAdapter(
  input: AttributionPassInput,
  backend: BackendChoice,
  options: AttributionPassOptions,
): Promise<{ tensors: Record<string, HostTensor>; losses: number[]; parameters: number }> {
  await selectBackend({ override: backend });
  const { spec } = input;
  const model = buildModel(input);
  const base = model.init(spec.base_model.seed);
  const setup = initTrainable(tf, model, base, spec);
  const losses: number[] = [];
  try {
    await runTrainingLoop({
      model,
      frozen: setup.frozen,
      trainable: setup.trainable,
      optimizer: specOptimizerConfig(spec),
      data: input.windows,
      rows: Array.from({ length: options.windows }, (_, i) => i),
      batchSize: options.trainBatch,
      seed: spec.seed,
      steps: options.trainSteps,
      schedule: { kind: spec.schedule.kind, warmupSteps: spec.schedule.warmup_steps },
      scheduleSteps: spec.training.steps ?? options.trainSteps,
      forward: setup.forward,
      dropout: true,
      onStep: (r) => {
        losses.push(r.loss);
      },
    });
    const tensors = await readTensorMap(setup.trainable);
    const parameters = Object.values(tensors).reduce((s, t) => s + t.data.length, 0);
    return { tensors, losses, parameters };
  } finally {
    tf.dispose([...Object.values(setup.trainable), ...Object.values(base)]);
  }
}

/** Per-example gradients of `n` training windows and the test windows, then DataInf scores, on `backend`. */
async function attributeOn(
  input: AttributionPassInput,
  adapter: Record<string, HostTensor>,
  backend: BackendChoice,
  n: number,
  chunk: number,
  options: AttributionPassOptions,
): Promise<AttributionRun> {
  await selectBackend({ override: backend });
  const { spec, windows } = input;
  const T = input.config.blockSize;
  const model = buildModel(input);
  const base = model.init(spec.base_model.seed);
  const setup = initTrainable(tf, model, base, spec); // the forward options (LoRA scaling) of the recipe
  const trained: WeightMap = Object.fromEntries(Object.entries(adapter).map(([k, t]) => [k, tf.tensor(t.data, t.shape)]));
  try {
    const fm = new FactoryModel({ model, weights: { ...base, ...trained }, trainable: Object.keys(adapter), forwardOptions: setup.forward });
    const params = fm.pack(adapter);
    const slice = (from: number, count: number): Batch => lmBatch(windows.x.subarray(from * T, (from + count) * T), windows.y.subarray(from * T, (from + count) * T), count, T);
    const train = slice(0, n);
    const test = slice(options.windows, options.testWindows); // after the device's training windows: the same test set on both backends
    const started = performance.now();
    const G: GradientSet = await perExampleGradients(fm, params, train, { chunk });
    const V: GradientSet = await perExampleGradients(fm, params, test, { chunk });
    const gradientSeconds = (performance.now() - started) / 1000;
    const scored = performance.now();
    const { data } = layerwiseInfluence(G, V, "datainf", { groups: datainfGroups(fm.blocks) });
    const scoreSeconds = (performance.now() - scored) / 1000;
    const first = Array.from(data.subarray(0, n));
    const topHelpful = first
      .map((s, i) => [s, i] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 5)
      .map(([, i]) => i);
    return {
      backend,
      windows: n,
      testWindows: options.testWindows,
      chunk,
      tokens: (n + options.testWindows) * T,
      gradientSeconds,
      scoreSeconds,
      tokensPerSecond: ((n + options.testWindows) * T) / (gradientSeconds + scoreSeconds),
      topHelpful,
      sharedRows: G.data.subarray(0, Math.min(n, options.wasmWindows) * fm.numParams),
    };
  } finally {
    tf.dispose([...Object.values(setup.trainable), ...Object.values(base), ...Object.values(trained)]);
  }
}
