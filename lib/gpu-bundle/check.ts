import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { describeError, LabError } from "../errors.js";
import { type FactorySpec, validateSpecFile } from "../intelligence/factory/factory-spec.js";
import { specLoraConfig, specOptimizerConfig } from "../intelligence/factory/fine-tune.js";
import { countParams, initLora, loraForwardOptions } from "../intelligence/lora/index.js";
import { createGpt, type GptConfig } from "../intelligence/models/gpt.js";
import { createMlp } from "../intelligence/models/mlp.js";
import type { Model, WeightMap } from "../intelligence/models/types.js";
import { BASE_MODELS, lmWindows, MLP_CONFIG } from "../intelligence/models/zoo.js";
import type { TrainData } from "../intelligence/train.js";
import { runTrainingLoop, trainableVariables } from "../intelligence/training-loop.js";
import { type BackendChoice, selectBackend } from "../tf/backend.js";
import { activateWebGpu, findLibrary, findVulkanIcds, type WebGpuAdapterReport } from "../tf/webgpu.js";
import { attributionPassOptions, bundleAttributionInput, runAttributionPass } from "./attribution-pass.js";

/**
 * The GPU check of `./lab gpu-bundle`: bundled into one script with tfjs, the WebGPU backend and
 * the lab's training code, it runs on a bare machine and prints one JSON object:
 *   - the WebGPU adapter (vendor, architecture, limits) or the structured reason there is none;
 *   - fp32 matrix-product GFLOP/s at several sizes (and wasm's at one, as the yardstick);
 *   - tokens/s and examples/s of the Model Factory's training step (LoRA and full fine-tuning,
 *     from the example specs in experiments/factory/) for the MLP, the GPT and the larger GPT
 *     preset, on webgpu and on wasm (the CPU) in the same process, and the largest difference
 *     between their losses over the steps both ran;
 *   - one attribution pass (attribution-pass.ts): per-example gradients and DataInf scores of the
 *     larger preset's LoRA adapter over 1,000 windows, tokens/s on webgpu and on wasm;
 *   - the targets with the measured figures next to them.
 * Data comes from `data/` beside the script (written by the bundler from the lab's data sets).
 */

export interface CheckOptions {
  quick: boolean;
  allowSoftware: boolean;
  /** Stop starting new workloads after this many seconds (the check must end within 8 minutes). */
  budgetSeconds: number;
  dataDir: string;
}

interface BundleData {
  vocabSize: number;
  specs: Record<string, unknown>;
  mlp: { n: number; features: number; file: string; labels: string };
  literature: { n: number; blockSize: number; x: string; y: string };
  pretrain: { ids: string };
}

interface Workload {
  name: string;
  kind: "mlp" | "gpt";
  preset: string;
  spec: FactorySpec;
  batchSize: number;
  gpuSteps: number;
  cpuSteps: number;
  data: TrainData;
  build(): Model;
}

interface RunFigures {
  backend: BackendChoice;
  steps: number;
  /** Steps after the first (which compiles shaders) over the time they took. */
  tokensPerSecond: number | null;
  examplesPerSecond: number;
  secondsPerStep: number;
  losses: number[];
}

const readGz = (dir: string, file: string) => gunzipSync(readFileSync(join(dir, file)));

export function loadBundleData(dir: string): { meta: BundleData; mlp: TrainData; literature: TrainData; pretrainIds: Int32Array } {
  const meta = JSON.parse(readFileSync(join(dir, "data.json"), "utf8")) as BundleData;
  const pixels = readGz(dir, meta.mlp.file);
  const x = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) x[i] = pixels[i] / 255;
  const mlp: TrainData = { x, y: Int32Array.from(readGz(dir, meta.mlp.labels)), n: meta.mlp.n, xShape: [meta.mlp.features], yShape: [] };
  const u16 = (b: Buffer) => Int32Array.from(new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2));
  const T = meta.literature.blockSize;
  const literature: TrainData = { x: u16(readGz(dir, meta.literature.x)), y: u16(readGz(dir, meta.literature.y)), n: meta.literature.n, xShape: [T], yShape: [T] };
  return { meta, mlp, literature, pretrainIds: u16(readGz(dir, meta.pretrain.ids)) };
}

/**
 * Batch of the larger preset: 8 windows of 256 tokens, the most one pass holds in wasm's 4 GiB heap
 * (above it the training loop accumulates over micro-batches of 8 on wasm), so the ratio to wasm
 * compares one pass on each backend.
 */
const LARGE_BATCH = 8;

function gptConfigOf(preset: string, vocabSize: number): GptConfig {
  return { vocabSize, ...BASE_MODELS[preset].gpt! };
}

function workloads(options: CheckOptions, data: ReturnType<typeof loadBundleData>): Workload[] {
  const { meta } = data;
  const spec = (name: string) => validateSpecFile(meta.specs[name]);
  const q = options.quick;
  const large = gptConfigOf("fortunes-gpt-large", meta.vocabSize);
  const largeData = lmWindows(data.pretrainIds, large.blockSize, BASE_MODELS["fortunes-gpt-large"].stride);
  const out: Workload[] = [];
  for (const method of ["lora", "full"] as const) {
    out.push({
      name: `mlp-${method}`,
      kind: "mlp",
      preset: "fmnist-mlp",
      spec: spec(`fmnist-${method}`),
      batchSize: 128,
      gpuSteps: q ? 6 : 100,
      cpuSteps: q ? 6 : 100,
      data: data.mlp,
      build: () => createMlp(tf, MLP_CONFIG),
    });
  }
  for (const method of ["lora", "full"] as const) {
    out.push({
      name: `gpt-${method}`,
      kind: "gpt",
      preset: "fortunes-gpt",
      spec: spec(`fortunes-${method}`),
      batchSize: 16,
      gpuSteps: q ? 4 : 60,
      cpuSteps: q ? 4 : 30,
      data: data.literature,
      build: () => createGpt(tf, gptConfigOf("fortunes-gpt", meta.vocabSize)),
    });
  }
  // last: the larger preset is the one that can exhaust wasm's heap (which then stays unusable)
  for (const method of ["lora", "full"] as const) {
    out.push({
      name: `gpt-large-${method}`,
      kind: "gpt",
      preset: "fortunes-gpt-large",
      spec: spec(`fortunes-${method}`),
      batchSize: q ? 2 : LARGE_BATCH,
      gpuSteps: q ? 3 : 30,
      cpuSteps: 2,
      data: largeData,
      build: () => createGpt(tf, q ? { ...large, nLayer: 1, blockSize: 64 } : large),
    });
  }
  return out;
}

/**
 * The Model Factory's training loop for one spec, cut to `steps`: the same adapter initialisation,
 * optimizer, schedule, batch order and dropout seeds as runFactory, on an unpretrained base
 * (initialised from the spec's base seed: throughput and backend agreement do not depend on it).
 */
async function train(w: Workload, backend: BackendChoice, steps: number): Promise<RunFigures> {
  await selectBackend({ override: backend });
  const model = w.build();
  const spec = w.spec;
  const T = w.kind === "gpt" ? (model.config as GptConfig).blockSize : 1;
  const data = w.kind === "gpt" && w.data.xShape[0] !== T ? lmWindowsOf(w.data, T) : w.data;
  const base = model.init(spec.base_model.seed);
  let frozen: WeightMap = {};
  let init: WeightMap;
  let fwd = {};
  if (spec.method === "lora") {
    const adapter = initLora(model, base, specLoraConfig(spec), spec.seed);
    frozen = base;
    init = adapter.tensors;
    fwd = loraForwardOptions(adapter);
  } else {
    init = base;
  }
  const trainable = trainableVariables(tf, init);
  const losses: number[] = [];
  let timedFrom = 0;
  try {
    await runTrainingLoop({
      model,
      frozen,
      trainable,
      optimizer: specOptimizerConfig(spec),
      data,
      batchSize: w.batchSize,
      seed: spec.seed,
      steps,
      schedule: { kind: spec.schedule.kind, warmupSteps: spec.schedule.warmup_steps },
      scheduleSteps: spec.training.steps ?? steps,
      forward: fwd,
      dropout: true,
      onStep: (r) => {
        losses.push(r.loss);
        if (r.step === 1) timedFrom = performance.now();
      },
    });
  } finally {
    for (const v of Object.values(trainable)) v.dispose();
    for (const t of [...Object.values(base), ...Object.values(init)]) if (!t.isDisposed) t.dispose();
  }
  const seconds = (performance.now() - timedFrom) / 1000;
  const timedSteps = Math.max(1, steps - 1);
  const examplesPerSecond = (timedSteps * w.batchSize) / seconds;
  return {
    backend,
    steps,
    losses,
    tokensPerSecond: w.kind === "gpt" ? examplesPerSecond * T : null,
    examplesPerSecond,
    secondsPerStep: seconds / timedSteps,
  };
}

function lmWindowsOf(data: TrainData, T: number): TrainData {
  const out = { ...data, xShape: [T], yShape: [T] };
  const n = data.n;
  const from = data.xShape[0];
  const x = new Int32Array(n * T),
    y = new Int32Array(n * T);
  for (let i = 0; i < n; i++) {
    x.set(data.x.subarray(i * from, i * from + T), i * T);
    y.set(data.y.subarray(i * from, i * from + T), i * T);
  }
  return { ...out, x, y };
}

/** fp32 matrix product n×n·n×n: 2n³ FLOPs per product, `reps` products queued, one read-back. */
async function matmulGflops(backend: BackendChoice, n: number, reps: number): Promise<{ n: number; reps: number; seconds: number; gflops: number }> {
  await selectBackend({ override: backend });
  const a = tf.randomUniform([n, n], -1, 1, "float32", 1);
  const b = tf.randomUniform([n, n], -1, 1, "float32", 2);
  const once = async (count: number) => {
    let last: tf.Tensor | undefined;
    for (let r = 0; r < count; r++) {
      last?.dispose();
      last = tf.matMul(a, b);
    }
    const s = tf.sum(last!);
    await s.data();
    s.dispose();
    last!.dispose();
  };
  await once(2); // shaders compiled, buffers allocated
  const t0 = performance.now();
  await once(reps);
  const seconds = (performance.now() - t0) / 1000;
  a.dispose();
  b.dispose();
  return { n, reps, seconds, gflops: (2 * n ** 3 * reps) / seconds / 1e9 };
}

const round = (x: number, digits = 4) => Number(x.toPrecision(digits));

export async function runCheck(options: CheckOptions): Promise<Record<string, unknown>> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const errors: Array<{ part: string; code: string; message: string }> = [];
  const note = (part: string, error: unknown) => errors.push({ part, code: error instanceof LabError ? error.code : "check/error", message: describeError(error) });
  const report: Record<string, unknown> = {
    check: "openledger-lab gpu-check",
    node: process.versions.node,
    tfjs: tf.version.tfjs,
    platform: `${process.platform}-${process.arch}`,
    options: { quick: options.quick, allowSoftware: options.allowSoftware, budgetSeconds: options.budgetSeconds },
    environment: { vulkanLoader: findLibrary("libvulkan.so.1") ?? null, vulkanIcds: findVulkanIcds(), ldLibraryPath: process.env.LD_LIBRARY_PATH ?? null },
  };
  let adapter: WebGpuAdapterReport | undefined;
  try {
    const activation = await activateWebGpu(tf, { allowSoftware: options.allowSoftware });
    adapter = activation.report;
    report.adapter = adapter;
    report.adapterAttempts = activation.attempts.map(({ dawnBackend, code, reason }) => ({ dawnBackend, code, reason }));
  } catch (error) {
    report.adapter = null;
    if (error instanceof LabError) report.adapterAttempts = error.fields.attempts;
    note("adapter", error);
  }
  const data = loadBundleData(options.dataDir);
  // wasm first: it is the CPU reference and sets the ratio's denominator
  await selectBackend({ override: "wasm" });

  if (adapter) {
    const sizes = options.quick ? [128, 256] : [1024, 2048, 4096, 8192];
    const matmul: unknown[] = [];
    for (const n of sizes) {
      try {
        const m = await matmulGflops("webgpu", n, options.quick ? 2 : Math.max(4, Math.round(2 ** 35 / n ** 3)));
        matmul.push({ n: m.n, reps: m.reps, seconds: round(m.seconds), gflops: round(m.gflops) });
      } catch (error) {
        note(`matmul ${n}`, error);
      }
    }
    report.matmul = matmul;
  }
  try {
    const n = options.quick ? 256 : 1024;
    const m = await matmulGflops("wasm", n, options.quick ? 2 : 4);
    report.matmulWasm = [{ n, reps: m.reps, seconds: round(m.seconds), gflops: round(m.gflops) }];
  } catch (error) {
    note("matmul wasm", error);
  }

  const training: Array<Record<string, unknown>> = [];
  for (const w of workloads(options, data)) {
    if (elapsed() > options.budgetSeconds) {
      training.push({ name: w.name, skipped: `time budget of ${options.budgetSeconds} s spent` });
      continue;
    }
    const entry: Record<string, unknown> = { name: w.name, preset: w.preset, method: w.spec.method, spec: w.spec.name, batchSize: w.batchSize };
    try {
      const probe = w.build();
      entry.config = probe.config;
      const init = probe.init(1);
      entry.parameters = countParams(init);
      for (const t of Object.values(init)) t.dispose();
      const cpu = await train(w, "wasm", w.cpuSteps);
      entry.cpu = { ...cpu, losses: cpu.losses.map((l) => round(l, 8)), examplesPerSecond: round(cpu.examplesPerSecond), tokensPerSecond: cpu.tokensPerSecond && round(cpu.tokensPerSecond) };
      if (adapter) {
        const gpu = await train(w, "webgpu", w.gpuSteps);
        entry.gpu = { ...gpu, losses: gpu.losses.map((l) => round(l, 8)), examplesPerSecond: round(gpu.examplesPerSecond), tokensPerSecond: gpu.tokensPerSecond && round(gpu.tokensPerSecond) };
        const shared = Math.min(cpu.losses.length, gpu.losses.length);
        entry.maxLossDifference = Math.max(...cpu.losses.slice(0, shared).map((l, i) => Math.abs(l - gpu.losses[i])));
        entry.speedup = round(gpu.examplesPerSecond / cpu.examplesPerSecond);
      }
    } catch (error) {
      note(w.name, error);
      entry.error = describeError(error);
    }
    training.push(entry);
  }
  report.training = training;
  if (elapsed() > options.budgetSeconds) report.attribution = { skipped: `time budget of ${options.budgetSeconds} s spent` };
  else {
    try {
      const input = bundleAttributionInput(validateSpecFile(data.meta.specs["fortunes-lora"]), data.meta.vocabSize, data.pretrainIds, options.quick);
      report.attribution = await runAttributionPass(input, adapter ? "webgpu" : undefined, attributionPassOptions(options.quick));
    } catch (error) {
      note("attribution", error);
      report.attribution = { error: describeError(error), ...(error instanceof LabError ? { code: error.code, fields: error.fields } : {}) };
    }
  }
  report.targets = targets(report, training);
  report.errors = errors;
  report.seconds = round(elapsed());
  return report;
}

function targets(report: Record<string, unknown>, training: Array<Record<string, unknown>>): Record<string, unknown> {
  const matmul = (report.matmul as Array<{ gflops: number }> | undefined) ?? [];
  const best = matmul.length ? Math.max(...matmul.map((m) => m.gflops)) / 1000 : null;
  const largeLora = training.find((t) => t.name === "gpt-large-lora");
  const diffs = training.map((t) => t.maxLossDifference).filter((d): d is number => typeof d === "number");
  const worst = diffs.length ? Math.max(...diffs) : null;
  const speedup = typeof largeLora?.speedup === "number" ? largeLora.speedup : null;
  return {
    matmulTflops: { target: 10, measured: best && round(best), met: best !== null && best >= 10 },
    largeLoraTokensPerSecondOverWasm: { target: 50, measured: speedup, met: speedup !== null && speedup >= 50 },
    maxLossDifference: { target: 1e-3, measured: worst, met: worst !== null && worst <= 1e-3 },
  };
}

/** Entry point of the bundled script: `node check.mjs [--quick] [--allow-software]`. */
export async function main(argv: string[]): Promise<number> {
  const here = dirname(fileURLToPath(import.meta.url));
  const dataDir = process.env.LAB_GPU_CHECK_DATA ?? join(here, "data");
  if (!existsSync(join(dataDir, "data.json"))) {
    console.error(`no check data in ${dataDir}: run the bundle's run.sh, or ./lab gpu-bundle to rebuild it`);
    return 2;
  }
  const wasmDir = join(here, "wasm");
  if (existsSync(wasmDir)) {
    const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
    setWasmPaths(`${wasmDir}/`);
  }
  const quick = argv.includes("--quick");
  const report = await runCheck({
    quick,
    allowSoftware: argv.includes("--allow-software"),
    budgetSeconds: Number(process.env.LAB_GPU_CHECK_BUDGET_S ?? (quick ? 600 : 400)),
    dataDir,
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  return report.adapter ? 0 : 1;
}
