/**
 * The platform the layers stand on, in one run: TensorFlow.js matmul GFLOP/s per backend at one
 * thread and at every core (the wasm backend's thread count is fixed per process, so each trial
 * runs in a fresh process: lib/bench/thread-probe.ts); the machine's BLAS at the same sizes and
 * threads, the ceiling (Debian's numpy on OpenBLAS, OPENBLAS_NUM_THREADS); GPT LoRA training
 * tokens/s of the small and the large preset at one thread and at every core; the lab's SIMD
 * batched product on the large preset's attention shapes at one thread and at every core; then the
 * in-process chain's settlement rate.
 *
 * On a machine shared with other work a ratio of two measurements minutes apart says more about
 * the other work than about the threads, so one thread and every core are measured in interleaved
 * pairs (ABBA order, lib/bench/paired-trials.ts), each trial a fresh process with the 1-minute load
 * average around it and the CPU time it used beside its wall time; a ratio is taken within each
 * pair and the median of the pairs' ratios is reported with its spread and the number of pairs.
 * The BLAS runs right after the wasm matmul in each trial, at the same thread count.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import * as tf from "@tensorflow/tfjs";
import { id } from "ethers";
import { matmulGflops, printTable } from "../lib/bench/bench-tables.js";
import { armMedian, type PairedTrials, pairRatios, type RatioSummary, runPaired, summarizeRatios } from "../lib/bench/paired-trials.js";
import { onThreads, type ProbeReply } from "../lib/bench/thread-probe.js";
import { connect, deployOrReuse } from "../lib/chain/index.js";
import { activateWebGpu, selectBackend, WASM_MAX_THREADS } from "../lib/tf/index.js";

const quick = process.argv.includes("--quick");
const cores = Math.min(availableParallelism(), WASM_MAX_THREADS);
/** The two arms of every pair: one thread (A) and every core (B). */
const armThreads: [number, number] = [1, cores];
const threadCounts = cores > 1 ? armThreads : [1];
const sizes = quick ? [256, 1024] : [256, 512, 1024];
const repeats = quick ? 3 : 5;
/** Pairs per measurement: enough for a median on a shared machine, few enough for about ten minutes on two cores. */
const PAIRS = { matmul: quick ? 2 : 8, batched: quick ? 2 : 4, lora: quick ? 2 : 5, loraLarge: quick ? 1 : 6 };
console.log(`${availableParallelism()} cores available; thread counts measured: ${threadCounts.join(" and ")}, in interleaved pairs (ABBA order)`);

type Row = Record<string, string | number>;
const matmul: Row[] = [];
const record = (backend: string, threads: number | string, bySize: Record<number, number>, perCpuSecond?: Record<number, number>) => {
  for (const [n, gflops] of Object.entries(bySize)) matmul.push({ backend, threads, "matrix size": Number(n), "GFLOP/s": gflops, "GFLOP per CPU-second": perCpuSecond?.[Number(n)] ?? "" });
};
const skipped: Row[] = [];
/** Every pair of every paired measurement, with the load average and CPU / wall time of each trial. */
const pairLog: Row[] = [];
const ratios: Row[] = [];
const fmt = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : "—");
const summaryRow = (ratio: string, s: RatioSummary): Row => ({
  ratio,
  threads: cores,
  median: s.median,
  "interquartile range": `${fmt(s.q1)}–${fmt(s.q3)}`,
  "min–max": `${fmt(s.min)}–${fmt(s.max)}`,
  pairs: s.pairs,
});
const timesOf = (t: { wallSeconds: number; cpuSeconds: number } | undefined) => (t ? `${t.cpuSeconds.toFixed(2)} / ${t.wallSeconds.toFixed(2)}` : "");

/** One row per pair: its order, the load around each trial, the headline figure of each, the ratio, and CPU-s / wall-s of each. */
function logPairs<T>(measurement: string, paired: PairedTrials<T>, figure: (v: T) => number | undefined, times: (v: T) => { wallSeconds: number; cpuSeconds: number } | undefined) {
  const ratio = pairRatios(paired, figure);
  for (const [a, b] of paired) {
    pairLog.push({
      measurement,
      pair: a.pair + 1,
      order: a.pair % 2 === 0 ? `1 → ${cores}` : `${cores} → 1`,
      "load, 1 thread": `${a.loadBefore.toFixed(2)} → ${a.loadAfter.toFixed(2)}`,
      [`load, ${cores} threads`]: `${b.loadBefore.toFixed(2)} → ${b.loadAfter.toFixed(2)}`,
      "1 thread": figure(a.value) ?? "",
      [`${cores} threads`]: figure(b.value) ?? "",
      ratio: ratio[a.pair],
      "CPU-s / wall-s, 1 thread": timesOf(times(a.value)),
      [`CPU-s / wall-s, ${cores} threads`]: timesOf(times(b.value)),
    });
  }
}

// wasm (XNNPACK) and then the BLAS through Debian's numpy, at the same sizes and thread count, in each trial
const NUMPY = `
import json, sys, time
import numpy as np
sizes, repeats = json.loads(sys.argv[1]), int(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
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
print(json.dumps({"numpy": np.__version__, "blas": ", ".join(libs), "gflops": out, "wallSeconds": time.perf_counter() - wall, "cpuSeconds": time.process_time() - cpu}))
`;
const python = "/usr/bin/python3";
interface BlasReply {
  numpy: string;
  blas: string;
  gflops: Record<number, number>;
  wallSeconds: number;
  cpuSeconds: number;
}
let blasName = "";
let blasMissing = false;
function blasOn(threads: number): BlasReply | undefined {
  if (blasMissing) return undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
  // tuning left in the environment for another BLAS build would misdescribe this one
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const run = spawnSync(python, ["-c", NUMPY, JSON.stringify(sizes), String(repeats)], { env, encoding: "utf8" });
  if (run.status !== 0) {
    const why = run.error ? run.error.message : (run.stderr.trim().split("\n").pop() ?? `exit ${run.status}`);
    skipped.push({ measurement: "BLAS ceiling", reason: `Debian's numpy did not run (${why}); as root ./lab bench platform installs python3-numpy and OpenBLAS` });
    blasMissing = true;
    return undefined;
  }
  const reply = JSON.parse(run.stdout.trim().split("\n").pop() ?? "{}") as BlasReply;
  blasName = `numpy ${reply.numpy}, ${reply.blas || "BLAS"}`;
  return reply;
}
const matmulTrials = await runPaired(PAIRS.matmul, async (arm) => {
  const wasm = await onThreads(armThreads[arm], { task: "matmul", sizes, repeats });
  return { wasm, blas: blasOn(armThreads[arm]) };
});
for (const [arm, threads] of threadCounts.entries()) {
  const bySize = (pick: (v: (typeof matmulTrials)[number][0]["value"], n: number) => number | undefined) =>
    Object.fromEntries(sizes.map((n) => [n, armMedian(matmulTrials, arm as 0 | 1, (v) => pick(v, n))]));
  record(
    "wasm",
    threads,
    bySize((v, n) => v.wasm.matmul?.[n]),
    bySize((v, n) => v.wasm.matmulPerCpuSecond?.[n]),
  );
}

// cpu: plain JavaScript, one thread, small sizes only (1024² takes seconds)
await selectBackend({ override: "cpu" });
record("cpu", 1, { 256: await matmulGflops(tf, 256, quick ? 2 : 3) });

// webgpu: on a hardware adapter (a software one is a CPU renderer, no yardstick)
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

if (!blasMissing) {
  for (const [arm, threads] of threadCounts.entries()) {
    record("BLAS", threads, Object.fromEntries(sizes.map((n) => [n, armMedian(matmulTrials, arm as 0 | 1, (v) => v.blas?.gflops[n])])));
  }
}
printTable(`float32 matmul rate per backend and thread count, the median over ${PAIRS.matmul} trials of each (wasm, BLAS)${blasName ? ` (BLAS: ${blasName})` : ""}`, matmul);
const largest = sizes[sizes.length - 1];
logPairs(
  `wasm matmul ${largest}² (GFLOP/s)`,
  matmulTrials,
  (v) => v.wasm.matmul?.[largest],
  (v) => v.wasm,
);
if (!blasMissing)
  logPairs(
    `BLAS matmul ${largest}² (GFLOP/s)`,
    matmulTrials,
    (v) => v.blas?.gflops[largest],
    (v) => v.blas,
  );

// GPT LoRA training: the small preset at the Factory's batch, the large one at batch 4
const training: Row[] = [];
const trainingCases = [
  { preset: "fortunes-gpt", batch: 16, steps: quick ? 3 : 10, pairs: PAIRS.lora },
  { preset: "fortunes-gpt-large", batch: quick ? 2 : 4, steps: 1, pairs: PAIRS.loraLarge },
];
const loraTrials: Record<string, PairedTrials<ProbeReply>> = {};
for (const c of trainingCases) {
  const paired = await runPaired(c.pairs, (arm) => onThreads(armThreads[arm], { task: "lora", preset: c.preset, batch: c.batch, steps: c.steps, repeats: quick ? 1 : 2 }));
  loraTrials[c.preset] = paired;
  for (const [arm, threads] of threadCounts.entries()) {
    const losses = new Set(paired.map((p) => p[arm as 0 | 1].value.loss ?? ""));
    training.push({
      preset: c.preset,
      batch: c.batch,
      threads,
      trials: c.pairs,
      "tokens/s (median)": armMedian(paired, arm as 0 | 1, (v) => v.tokensPerSecond),
      "last step's loss": [...losses].join(" / "),
    });
  }
  logPairs(
    `${c.preset} LoRA (tokens/s)`,
    paired,
    (v) => v.tokensPerSecond,
    (v) => v,
  );
}
printTable("GPT LoRA training on wasm (r 2 on v_proj, fc_out, lm_head; AdamW)", training);

// the SIMD batched product alone (attention's per-head products), shared among the threads
const batched: Row[] = [];
const batchedTrials = await runPaired(PAIRS.batched, (arm) => onThreads(armThreads[arm], { task: "batched", repeats }));
const products = Object.keys(batchedTrials[0][0].value.batched ?? {});
for (const [arm, threads] of threadCounts.entries()) {
  for (const product of products) {
    batched.push({
      product,
      threads,
      "shared among threads": batchedTrials[0][arm as 0 | 1].value.batchedThreads ?? 1,
      "GFLOP/s (median)": armMedian(batchedTrials, arm as 0 | 1, (v) => v.batched?.[product]),
    });
  }
}
printTable(`wasm SIMD batched product, the large preset's attention at batch 4 (lib/tf/wasm-batched-matmul.ts), ${PAIRS.batched} trials each`, batched);
for (const product of products)
  logPairs(
    `batched product ${product} (GFLOP/s)`,
    batchedTrials,
    (v) => v.batched?.[product],
    (v) => v,
  );

// the ratios: wasm against the BLAS at equal threads (within each trial), and every core against one (within each pair)
for (const [arm, threads] of threadCounts.entries()) {
  if (blasMissing) break;
  for (const n of sizes) {
    const perTrial = matmulTrials.map((p) => {
      const v = p[arm as 0 | 1].value;
      return (v.wasm.matmul?.[n] ?? NaN) / (v.blas?.gflops[n] ?? NaN);
    });
    ratios.push({ ...summaryRow(`wasm / BLAS, ${n}² (within each trial)`, summarizeRatios(perTrial)), threads });
  }
}
if (cores > 1) {
  for (const n of sizes) {
    const wasmGain = pairRatios(matmulTrials, (v) => v.wasm.matmul?.[n]);
    ratios.push(summaryRow(`wasm matmul ${n}², ${cores} threads / 1`, summarizeRatios(wasmGain)));
    ratios.push(summaryRow(`wasm matmul ${n}² per CPU-second, ${cores} threads / 1`, summarizeRatios(pairRatios(matmulTrials, (v) => v.wasm.matmulPerCpuSecond?.[n]))));
    if (!blasMissing) {
      const blasGain = pairRatios(matmulTrials, (v) => v.blas?.gflops[n]);
      ratios.push(summaryRow(`BLAS matmul ${n}², ${cores} threads / 1`, summarizeRatios(blasGain)));
      // the cores a shared machine gives change both gains alike: this one is about the threading alone
      ratios.push(summaryRow(`wasm's gain / BLAS's gain, ${n}²`, summarizeRatios(wasmGain.map((g, i) => g / blasGain[i]))));
    }
  }
  for (const product of products) {
    ratios.push(summaryRow(`wasm batched product ${product}, ${cores} threads / 1`, summarizeRatios(pairRatios(batchedTrials, (v) => v.batched?.[product]))));
  }
  for (const c of trainingCases) {
    const paired = loraTrials[c.preset];
    ratios.push(summaryRow(`${c.preset} LoRA tokens/s, ${cores} threads / 1`, summarizeRatios(pairRatios(paired, (v) => v.tokensPerSecond))));
    const losses = paired.flatMap(([a, b]) => [Number(a.value.loss), Number(b.value.loss)]);
    const identical = new Set(paired.flatMap(([a, b]) => [a.value.loss, b.value.loss])).size === 1;
    const spread = Math.max(...losses) - Math.min(...losses);
    ratios.push({
      ratio: `${c.preset} last loss, every trial at 1 and ${cores} threads`,
      threads: cores,
      median: identical ? "identical" : `differs by up to ${spread.toExponential(2)}`,
      "interquartile range": "",
      "min–max": "",
      pairs: paired.length,
    });
  }
}
printTable("Every pair: the load average (1 minute) around each trial and the CPU time it used beside its wall time", pairLog);
printTable("Ratios measured in this run: the median of the ratios within each pair, their interquartile range and extremes", ratios);
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
