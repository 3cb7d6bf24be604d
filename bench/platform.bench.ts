/**
 * The platform the layers stand on, in one run: TensorFlow.js matmul GFLOP/s per backend at one
 * thread and at every core (the wasm backend's thread count is fixed per process, so each count
 * runs in a fresh process: lib/bench/thread-probe.ts); the machine's BLAS at the same sizes and
 * threads, the ceiling (Debian's numpy on OpenBLAS, OPENBLAS_NUM_THREADS); GPT LoRA training
 * tokens/s of the small and the large preset at one thread and at every core; the lab's SIMD
 * batched product on the large preset's attention shapes at one thread and at every core; then the
 * in-process chain's settlement rate. Ratios are of numbers measured in this same run.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { id } from "ethers";
import { matmulGflops, printTable } from "../lib/bench/bench-tables.js";
import { onThreads } from "../lib/bench/thread-probe.js";
import { connect, deployOrReuse } from "../lib/chain/index.js";
import { activateWebGpu, selectBackend, WASM_MAX_THREADS } from "../lib/tf/index.js";

const quick = process.argv.includes("--quick");
const cores = Math.min(availableParallelism(), WASM_MAX_THREADS);
const threadCounts = cores > 1 ? [1, cores] : [1];
const sizes = quick ? [256, 1024] : [256, 512, 1024];
const repeats = quick ? 3 : 5;
console.log(`${availableParallelism()} cores available; thread counts measured: ${threadCounts.join(" and ")}`);

type Row = Record<string, string | number>;
const matmul: Row[] = [];
/** GFLOP/s by "backend@threads" and size. */
const rate: Record<string, Record<number, number>> = {};
/** GFLOP per CPU-second by "backend@threads" and size (the wasm rows). */
const perCpu: Record<string, Record<number, number>> = {};
const record = (backend: string, threads: number | string, bySize: Record<number, number>, perCpuSecond?: Record<number, number>) => {
  rate[`${backend}@${threads}`] = bySize;
  if (perCpuSecond) perCpu[`${backend}@${threads}`] = perCpuSecond;
  for (const [n, gflops] of Object.entries(bySize)) matmul.push({ backend, threads, "matrix size": Number(n), "GFLOP/s": gflops, "GFLOP per CPU-second": perCpuSecond?.[Number(n)] ?? "" });
};

// wasm: XNNPACK on 1 and on every core, each in its own process
for (const threads of threadCounts) {
  const reply = await onThreads(threads, { task: "matmul", sizes, repeats });
  record("wasm", threads, reply.matmul ?? {}, reply.matmulPerCpuSecond);
}

// cpu: plain JavaScript, one thread, small sizes only (1024² takes seconds)
await selectBackend({ override: "cpu" });
record("cpu", 1, { 256: await matmulGflops(tf, 256, quick ? 2 : 3) });

// webgpu: on a hardware adapter (a software one is a CPU renderer, no yardstick)
const skipped: Row[] = [];
try {
  const { report } = await activateWebGpu(tf, { allowSoftware: false });
  const bySize: Record<number, number> = {};
  for (const n of [...sizes, 2048]) bySize[n] = await matmulGflops(tf, n, repeats);
  record(`webgpu (${report.device || report.description})`, "device", bySize);
} catch (error) {
  const e = error as { code?: string; message: string };
  const why = e.message.split("\n")[0];
  skipped.push({ measurement: "webgpu matmul", reason: `${e.code ? `[${e.code}] ` : ""}${why.length > 120 ? `${why.slice(0, 117)}...` : why}` });
}

// the machine's BLAS through Debian's numpy: the same sizes and thread counts
const NUMPY = `
import json, sys, time
import numpy as np
sizes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(1)
out = {}
for n in sizes:
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    times = []
    for _ in range(repeats):
        t = time.perf_counter(); a @ b; times.append(time.perf_counter() - t)
    out[n] = 2 * n**3 / sorted(times)[len(times) // 2] / 1e9
libs = sorted({l.split()[-1].rsplit("/", 1)[-1] for l in open("/proc/self/maps") if "blas" in l.lower() and "/" in l})
libs = [l for l in libs if "openblas" in l] or libs
print(json.dumps({"numpy": np.__version__, "blas": ", ".join(libs), "gflops": out}))
`;
const python = "/usr/bin/python3";
let blasName = "";
for (const threads of threadCounts) {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  // tuning left in the environment for another BLAS build would misdescribe this one
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(python, ["-c", NUMPY, JSON.stringify(sizes), String(repeats)], { env, encoding: "utf8" });
  if (run.status !== 0) {
    const why = run.error ? run.error.message : (run.stderr.trim().split("\n").pop() ?? `exit ${run.status}`);
    skipped.push({ measurement: "BLAS ceiling", reason: `Debian's numpy did not run (${why}); as root ./lab bench platform installs python3-numpy and OpenBLAS` });
    break;
  }
  const reply = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as { numpy: string; blas: string; gflops: Record<number, number> };
  blasName = `numpy ${reply.numpy}, ${reply.blas || "BLAS"}`;
  record("BLAS", threads, reply.gflops);
}
printTable(`float32 matmul rate per backend and thread count${blasName ? ` (BLAS: ${blasName})` : ""}`, matmul);

// GPT LoRA training: the small preset at the Factory's batch, the large one at batch 4
const training: Row[] = [];
const tokens: Record<string, number> = {};
const losses: Record<string, string> = {};
const trainingCases = [
  { preset: "fortunes-gpt", batch: 16, steps: quick ? 3 : 10 },
  { preset: "fortunes-gpt-large", batch: quick ? 2 : 4, steps: 1 },
];
for (const c of trainingCases) {
  for (const threads of threadCounts) {
    const reply = await onThreads(threads, { task: "lora", preset: c.preset, batch: c.batch, steps: c.steps, repeats: quick ? 1 : 2 });
    tokens[`${c.preset}@${threads}`] = reply.tokensPerSecond ?? 0;
    losses[`${c.preset}@${threads}`] = reply.loss ?? "";
    training.push({ preset: c.preset, batch: c.batch, threads, "tokens/s": reply.tokensPerSecond ?? 0, "last step's loss": reply.loss ?? "" });
  }
}
printTable("GPT LoRA training on wasm (r 2 on v_proj, fc_out, lm_head; AdamW)", training);

// the SIMD batched product alone (attention's per-head products), shared among the threads
const batched: Row[] = [];
const batchedRate: Record<string, Record<string, number>> = {};
for (const threads of threadCounts) {
  const reply = await onThreads(threads, { task: "batched", repeats });
  batchedRate[threads] = reply.batched ?? {};
  for (const [product, gflops] of Object.entries(reply.batched ?? {})) batched.push({ product, threads, "shared among threads": reply.batchedThreads ?? 1, "GFLOP/s": gflops });
}
printTable("wasm SIMD batched product, the large preset's attention at batch 4 (lib/tf/wasm-batched-matmul.ts)", batched);

// the ratios: wasm against the BLAS at equal threads, and every core against one
const ratios: Row[] = [];
for (const threads of threadCounts) {
  for (const n of sizes) {
    const blas = rate[`BLAS@${threads}`]?.[n];
    if (blas) ratios.push({ ratio: `wasm / BLAS, ${n}²`, threads, value: rate[`wasm@${threads}`][n] / blas });
  }
}
if (cores > 1) {
  for (const n of sizes) {
    ratios.push({ ratio: `wasm matmul ${n}², ${cores} threads / 1`, threads: cores, value: rate[`wasm@${cores}`][n] / rate["wasm@1"][n] });
    ratios.push({ ratio: `wasm matmul ${n}² per CPU-second, ${cores} threads / 1`, threads: cores, value: perCpu[`wasm@${cores}`][n] / perCpu["wasm@1"][n] });
    const blas1 = rate["BLAS@1"]?.[n];
    if (blas1) {
      const blasGain = rate[`BLAS@${cores}`][n] / blas1;
      ratios.push({ ratio: `BLAS matmul ${n}², ${cores} threads / 1`, threads: cores, value: blasGain });
      // the cores a shared machine gives change both gains alike: this one is about the threading alone
      ratios.push({ ratio: `wasm's gain / BLAS's gain, ${n}²`, threads: cores, value: rate[`wasm@${cores}`][n] / rate["wasm@1"][n] / blasGain });
    }
  }
  for (const product of Object.keys(batchedRate[1] ?? {})) {
    ratios.push({ ratio: `wasm batched product ${product}, ${cores} threads / 1`, threads: cores, value: batchedRate[cores][product] / batchedRate[1][product] });
  }
  for (const c of trainingCases) {
    ratios.push({ ratio: `${c.preset} LoRA tokens/s, ${cores} threads / 1`, threads: cores, value: tokens[`${c.preset}@${cores}`] / tokens[`${c.preset}@1`] });
    const [one, all] = [losses[`${c.preset}@1`], losses[`${c.preset}@${cores}`]];
    ratios.push({ ratio: `${c.preset} last loss, ${cores} threads vs 1`, threads: cores, value: one === all ? "identical" : `differs by ${Math.abs(Number(one) - Number(all)).toExponential(2)}` });
  }
}
printTable("Ratios measured in this run", ratios);
if (skipped.length) printTable("Not measured", skipped);

const chain = await connect();
const registry = await deployOrReuse(chain, "ResultsRegistry");
const count = quick ? 20 : 200;
let nonce = await chain.provider.getTransactionCount(chain.signer.address);
const started = performance.now();
for (let i = 0; i < count; i++) {
  const tx = await registry.settle(id(`bench-${Date.now()}-${i}`), id("bench"), id(`r${i}`), ["x"], [BigInt(i)], { nonce: nonce++ });
  await tx.wait();
}
const perSecond = count / ((performance.now() - started) / 1000);
printTable("Settlement on the in-process Hardhat chain", [{ transactions: count, "settlements/s": perSecond, "ms each": 1000 / perSecond }]);
await chain.close();
