/**
 * Measurements that need a fresh process per thread count: the wasm backend's thread count is
 * fixed when it initialises (LAB_THREADS), so `onThreads` runs this file as a child with
 * LAB_TF_BACKEND=wasm and LAB_THREADS set, and reads back the one JSON line it prints.
 *   matmul  — square float32 matmul GFLOP/s at each size, and per second of CPU time;
 *   lora    — GPT LoRA training tokens/s of a preset (the Factory's LoRA recipe, random tokens)
 *             and the last step's loss;
 *   batched — GFLOP/s of the SIMD batched product on the large preset's attention shapes (and the
 *             threads it was shared among);
 *   step    — the bits of a small GPT LoRA run (losses, adapter weights, one large product, and
 *             attention-sized batched products, which are shared among the threads), for checking
 *             that the thread count changes no number.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";
import { createGpt, DEFAULT_OPTIMIZER, initLora, loraConfig, loraForwardOptions, type Model, Optimizer, trainStep } from "../intelligence/index.js";
import { BASE_MODELS } from "../intelligence/models/zoo.js";
import { batchedProductReady, batchedProductThreads, initTf } from "../tf/index.js";
import { readFloats } from "../tf/read-back.js";
import { awaitProduct, matmulGflops, timeMs } from "./bench-tables.js";

export type ProbeTask =
  | { task: "matmul"; sizes: number[]; repeats: number }
  | { task: "batched"; repeats: number }
  | { task: "lora"; preset: string; batch: number; steps: number; repeats: number }
  | { task: "step" };

export interface ProbeReply {
  backend: string;
  threads: number;
  matmul?: Record<string, number>;
  /**
   * matmul: GFLOP per second of this process's CPU time (all its threads): what the threads cost,
   * which a machine shared with other work changes far less than the wall-clock rate.
   */
  matmulPerCpuSecond?: Record<string, number>;
  /** batched: GFLOP/s by product (BATCHED_PRODUCTS' labels). */
  batched?: Record<string, number>;
  /** batched and step: the threads the SIMD batched product shared its large products among. */
  batchedThreads?: number;
  tokensPerSecond?: number;
  /** lora: the loss of the last step, in full (the same at every thread count). */
  loss?: string;
  step?: { losses: string[]; adapterSha256: string; productSha256: string; batchedSha256: string };
  /**
   * The task's wall time and the CPU time this process spent on it (all its threads, user and
   * system), in seconds: CPU / wall near the thread count means the process had its cores, well
   * below it that something else on the machine took them.
   */
  wallSeconds: number;
  cpuSeconds: number;
}

/** The Factory's LoRA recipe for the GPT (experiments/factory/fortunes-lora.yaml). */
const LORA = { r: 2, loraAlpha: 4, targetModules: ["v_proj", "fc_out", "lm_head"] };
/** The character vocabulary of the fortunes corpus is about this size; the tokens are random. */
const VOCAB = 96;

/** A preset's GPT with the Factory's LoRA adapter, an optimizer and one seeded batch. */
function loraSetup(tf: typeof tfjs, preset: string, batch: number) {
  const model: Model = createGpt(tf, { vocabSize: VOCAB, ...BASE_MODELS[preset].gpt! });
  const base = model.init(1);
  const adapter = initLora(model, base, loraConfig(LORA), 1);
  const trainable: Record<string, tfjs.Variable> = {};
  for (const [k, t] of Object.entries(adapter.tensors)) trainable[k] = tf.variable(t, true);
  const opt = new Optimizer(tf, { ...DEFAULT_OPTIMIZER, lr: 0.03 }, trainable);
  const T = BASE_MODELS[preset].gpt!.blockSize;
  const x = tf.randomUniform([batch, T], 0, VOCAB, "int32", 3);
  const y = tf.randomUniform([batch, T], 0, VOCAB, "int32", 4);
  return { model, base, trainable, opt, x, y, fwd: loraForwardOptions(adapter, true, 1), tokens: batch * T };
}

function sha256(values: ArrayLike<number>[]): string {
  const hash = createHash("sha256");
  for (const v of values) hash.update(new Uint8Array(Float32Array.from(v).buffer));
  return hash.digest("hex");
}

/** GFLOP per second of this process's CPU time over `repeats` products of two n×n matrices. */
async function matmulPerCpu(tf: typeof tfjs, n: number, repeats: number): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const product = () => awaitProduct(tf, tf.matMul(a, b));
  await product();
  const cpu = process.cpuUsage();
  for (let i = 0; i < repeats; i++) await product();
  const { user, system } = process.cpuUsage(cpu);
  a.dispose();
  b.dispose();
  return (2 * n ** 3 * repeats) / ((user + system) * 1e3);
}

/**
 * The large preset's attention products at batch 4 (6 heads, 256 positions, 64 per head): [batch,
 * m, k, n] and the transposes, as the forward pass and its gradient ask for them.
 */
export const BATCHED_PRODUCTS: Array<{ label: string; shape: [number, number, number, number]; transposeA: boolean; transposeB: boolean }> = [
  { label: "QKᵀ [24, 256, 64]·[24, 256, 64]ᵀ", shape: [24, 256, 64, 256], transposeA: false, transposeB: true },
  { label: "attention×V [24, 256, 256]·[24, 256, 64]", shape: [24, 256, 256, 64], transposeA: false, transposeB: false },
  { label: "its gradient [24, 256, 256]ᵀ·[24, 256, 64]", shape: [24, 256, 256, 64], transposeA: true, transposeB: false },
];

/**
 * GFLOP/s of each of BATCHED_PRODUCTS. The wasm backend computes a kernel when it is called, so
 * the product is timed without reading it back (a read-back copies the output, a third of the time).
 */
async function batchedGflops(tf: typeof tfjs, repeats: number): Promise<Record<string, number>> {
  await batchedProductReady(tf);
  const rates: Record<string, number> = {};
  for (const { label, shape, transposeA, transposeB } of BATCHED_PRODUCTS) {
    const [batch, m, k, n] = shape;
    const a = tf.randomNormal(transposeA ? [batch, k, m] : [batch, m, k], 0, 1, "float32", 1);
    const b = tf.randomNormal(transposeB ? [batch, n, k] : [batch, k, n], 0, 1, "float32", 2);
    const ms = await timeMs(() => tf.matMul(a, b, transposeA, transposeB).dispose(), repeats);
    rates[label] = (2 * batch * m * k * n) / (ms * 1e6);
    tf.dispose([a, b]);
  }
  return rates;
}

async function run(tf: typeof tfjs, task: ProbeTask): Promise<Omit<ProbeReply, "backend" | "threads" | "wallSeconds" | "cpuSeconds">> {
  if (task.task === "batched") return { batched: await batchedGflops(tf, task.repeats), batchedThreads: batchedProductThreads(tf) };
  if (task.task === "matmul") {
    const matmul: Record<string, number> = {};
    const matmulPerCpuSecond: Record<string, number> = {};
    for (const n of task.sizes) {
      matmul[n] = await matmulGflops(tf, n, task.repeats);
      matmulPerCpuSecond[n] = await matmulPerCpu(tf, n, task.repeats);
    }
    return { matmul, matmulPerCpuSecond };
  }
  if (task.task === "lora") {
    const s = loraSetup(tf, task.preset, task.batch);
    let step = 0;
    let loss = 0;
    // trainStep disposes the batch it is given: each step gets its own copy of the one batch
    const steps = async (count: number) => {
      for (let i = 0; i < count; i++) loss = (await trainStep(s.model, s.base, s.trainable, s.opt, { x: s.x.clone(), y: s.y.clone() }, 0.03, s.fwd, step++)).loss;
    };
    // a run's steady state: the frozen weights' transposed copies are kept from their second use
    // (lib/tf/wasm-transposed-operands.ts), so one step before timeMs's own warm-up
    await steps(1);
    const ms = await timeMs(() => steps(task.steps), task.repeats);
    return { tokensPerSecond: (task.steps * s.tokens) / (ms / 1000), loss: loss.toString() };
  }
  // three steps of the small preset at batch 8, then one product of the large preset's width
  const s = loraSetup(tf, "fortunes-gpt", 8);
  const losses: string[] = [];
  for (let i = 0; i < 3; i++) losses.push((await trainStep(s.model, s.base, s.trainable, s.opt, { x: s.x.clone(), y: s.y.clone() }, 0.03, s.fwd, i)).loss.toString());
  const names = Object.keys(s.trainable).sort();
  const adapterSha256 = sha256(await Promise.all(names.map((k) => readFloats(s.trainable[k]))));
  const product = tf.tidy(() => tf.matMul(tf.randomNormal([1024, 384], 0, 1, "float32", 5), tf.randomNormal([384, 1152], 0, 1, "float32", 6)));
  const productSha256 = sha256([await readFloats(product)]);
  product.dispose();
  // the large preset's attention at batch 4: QKᵀ, attention×V, and a gradient's transposed left operand
  const batched = tf.tidy(() => {
    const [q, k, v] = [7, 8, 9].map((seed) => tf.randomNormal([24, 256, 64], 0, 1, "float32", seed));
    const scores = tf.matMul(q, k, false, true);
    return [scores, tf.matMul(scores, v), tf.matMul(scores, v, true, false)];
  });
  const batchedSha256 = sha256(await Promise.all(batched.map((t) => readFloats(t))));
  tf.dispose(batched);
  return { step: { losses, adapterSha256, productSha256, batchedSha256 }, batchedThreads: batchedProductThreads(tf) };
}

/**
 * Runs `task` in a fresh process on the wasm backend with `threads` threads (LAB_THREADS, and
 * `extraEnv`) and returns its reply; rejects with the child's last words when it fails.
 */
export function onThreads(threads: number, task: ProbeTask, extraEnv: Record<string, string> = {}): Promise<ProbeReply> {
  const script = fileURLToPath(import.meta.url);
  const env = { ...process.env, ...extraEnv, LAB_TF_BACKEND: "wasm", LAB_THREADS: String(threads) };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, JSON.stringify(task)], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as ProbeReply);
      else reject(new Error(`the ${task.task} probe on ${threads} thread(s) exited with ${code}: ${(err || out).trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const task = JSON.parse(process.argv[2]) as ProbeTask;
  const rt = await initTf({ quiet: true });
  const [started, cpu] = [performance.now(), process.cpuUsage()];
  const measured = await run(rt.tf, task);
  const { user, system } = process.cpuUsage(cpu);
  const reply: ProbeReply = { backend: rt.backend, threads: rt.threads ?? 1, ...measured, wallSeconds: (performance.now() - started) / 1000, cpuSeconds: (user + system) / 1e6 };
  console.log(JSON.stringify(reply));
}
