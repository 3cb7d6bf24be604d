import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GptConfig } from "../intelligence/models/gpt.js";
import type { Model, Tf, WeightMap } from "../intelligence/models/types.js";
import { rng } from "../random.js";
import { GREEDY } from "./sampling.js";
import type { GenerationResult } from "./scheduler.js";
import { openLoraService, type ServiceOptions } from "./service.js";
import { servingLayers } from "./sgmv.js";
import { type BaseModelInfo, type GeneratedAdapterSpec, writeGeneratedAdapter } from "./store.js";
import { createEngine, STRATEGIES, type StrategyName } from "./strategies.js";

/**
 * The measurements of notebook 04 and `./lab bench openlora`, as functions of a base model and
 * a set of adapters, so both print the same series: throughput and latency per strategy as the
 * number of distinct adapters in a batch grows, memory per adapter against a merged copy,
 * cache hit rate and cold start against the host budget, and many adapters within a budget.
 */
export interface ServingBench {
  tf: Tf;
  model: Model<GptConfig>;
  base: { weights: WeightMap; sha256: string };
  /** Generated adapter folders, all registered under ids g0000... */
  dirs: string[];
  root: string;
  dispose(): void;
}

/** Writes `count` generated adapters (ranks and targets cycling through the given lists). */
export function generateAdapterSet(model: Model, sha256: string, count: number, opts: { ranks: number[]; targets: string[][]; seed: number; root?: string }): { root: string; dirs: string[] } {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), "openlora-adapters-"));
  const info: BaseModelInfo = { sha256, modules: model.linearModules };
  const dirs = Array.from({ length: count }, (_, i) => {
    const dir = join(root, `g${String(i).padStart(4, "0")}`);
    const spec: GeneratedAdapterSpec = { r: opts.ranks[i % opts.ranks.length], targetModules: opts.targets[i % opts.targets.length], seed: opts.seed * 100_003 + i };
    writeGeneratedAdapter(dir, info, spec);
    return dir;
  });
  return { root, dirs };
}

export function servingBench(tf: Tf, model: Model<GptConfig>, base: { weights: WeightMap; sha256: string }, adapters: { root: string; dirs: string[] }): ServingBench {
  return { tf, model, base, ...adapters, dispose: () => rmSync(adapters.root, { recursive: true, force: true }) };
}

/** The nearest-rank p-quantile (0 < p ≤ 1) of ascending values: the value at rank ⌈p·n⌉. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export interface StrategyPoint {
  strategy: StrategyName;
  requests: number;
  distinctAdapters: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  /** Tokens per second of this process's CPU time: on a shared machine, the rate wall time hides. */
  tokensPerCpuSecond: number;
  p50Ms: number;
  p99Ms: number;
}

export interface WorkloadSpec {
  requests: number;
  distinctAdapters: number;
  promptTokens: number;
  newTokens: number;
  seed: number;
}

function workload(bench: ServingBench, w: WorkloadSpec) {
  const r = rng(w.seed).fork("openlora-workload");
  const V = bench.model.config.vocabSize;
  return Array.from({ length: w.requests }, (_, i) => ({
    id: `w${i}`,
    adapter: `g${String(i % w.distinctAdapters).padStart(4, "0")}`,
    prompt: Array.from({ length: w.promptTokens }, () => r.int(V)),
    maxTokens: w.newTokens,
    sampling: GREEDY,
    seed: i,
  }));
}

/**
 * All requests arrive at once; every adapter they use is already in a slot (this measures
 * decoding, not loading: cold starts are measured by cacheSweep). Latency is per request, from
 * arrival to its last token.
 */
export async function measureStrategy(bench: ServingBench, strategy: StrategyName, w: WorkloadSpec, opts: Partial<ServiceOptions> = {}): Promise<StrategyPoint & { results: GenerationResult[] }> {
  const reqs = workload(bench, w);
  const service = openLoraService(bench.tf, bench.model, bench.base, { slots: Math.max(1, w.distinctAdapters), maxRank: 8, hostBudgetBytes: 1 << 30, maxBatchSize: w.requests, strategy, ...opts });
  for (let i = 0; i < w.distinctAdapters; i++) service.store.register(`g${String(i).padStart(4, "0")}`, bench.dirs[i]);
  for (let i = 0; i < w.distinctAdapters; i++) service.cache.release(service.cache.acquire(`g${String(i).padStart(4, "0")}`).resident);
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const results = await Promise.all(reqs.map((q) => service.scheduler.submit(q)));
  const cpu = process.cpuUsage(cpu0);
  const seconds = (performance.now() - started) / 1000;
  service.dispose();
  const tokens = results.reduce((s, r) => s + r.tokens.length, 0);
  const lat = results.map((r) => r.timings.totalMs).sort((a, b) => a - b);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  return {
    strategy,
    requests: w.requests,
    distinctAdapters: w.distinctAdapters,
    tokens,
    seconds,
    tokensPerSecond: tokens / seconds,
    tokensPerCpuSecond: tokens / cpuSeconds,
    p50Ms: percentile(lat, 0.5),
    p99Ms: percentile(lat, 0.99),
    results,
  };
}

/** Throughput and latency of each strategy as the number of distinct adapters grows. */
export async function strategySweep(
  bench: ServingBench,
  distinct: number[],
  w: Omit<WorkloadSpec, "distinctAdapters" | "requests"> & { requests: (distinct: number) => number },
  strategies: readonly StrategyName[] = STRATEGIES,
  onPoint?: (p: StrategyPoint) => void,
): Promise<StrategyPoint[]> {
  const out: StrategyPoint[] = [];
  for (const d of distinct) {
    for (const s of strategies) {
      const { results: _results, ...p } = await measureStrategy(bench, s, { ...w, distinctAdapters: d, requests: w.requests(d) });
      out.push(p);
      onPoint?.(p);
    }
  }
  return out;
}

export interface MemoryPoint {
  rank: number;
  targets: string;
  adapterBytes: number;
  mergedCopyBytes: number;
  ratio: number;
}

/** Bytes of one adapter (host form) against one merged copy of the base (all its weights). */
export function memoryPerAdapter(model: Model, baseWeights: WeightMap, ranks: number[], targets: string[][]): MemoryPoint[] {
  const mergedCopyBytes = Object.values(baseWeights).reduce((s, t) => s + 4 * t.size, 0);
  const out: MemoryPoint[] = [];
  for (const t of targets) {
    const mods = model.linearModules.filter((m) => t.some((x) => m.name === x || m.name.endsWith(`.${x}`)));
    for (const r of ranks) {
      const adapterBytes = mods.reduce((s, m) => s + 4 * r * (m.inFeatures + m.outFeatures), 0);
      out.push({ rank: r, targets: t.join("+"), adapterBytes, mergedCopyBytes, ratio: mergedCopyBytes / adapterBytes });
    }
  }
  return out;
}

export interface CachePoint {
  budgetFraction: number;
  budgetBytes: number;
  hostHitRate: number;
  slotHitRate: number;
  diskLoads: number;
  coldStartDiskMs: number;
  coldStartHostMs: number;
}

/**
 * A Zipf-distributed stream of adapter requests (a few adapters are popular, most are rare, as
 * in S-LoRA's workloads) through the tiered cache at several host budgets, given as fractions of
 * the adapters' total bytes. Cold start: from acquire until the adapter is in a slot, ready for
 * the next batch, median per source tier.
 */
export function cacheSweep(bench: ServingBench, opts: { adapters: number; requests: number; slots: number; budgetFractions: number[]; zipf: number; seed: number }): CachePoint[] {
  const r = rng(opts.seed).fork("openlora-zipf");
  const weights = Array.from({ length: opts.adapters }, (_, k) => 1 / (k + 1) ** opts.zipf);
  const total = weights.reduce((a, b) => a + b, 0);
  const stream = Array.from({ length: opts.requests }, () => {
    let u = r.next() * total;
    for (let k = 0; k < weights.length; k++) {
      u -= weights[k];
      if (u <= 0) return k;
    }
    return weights.length - 1;
  });
  const out: CachePoint[] = [];
  for (const f of opts.budgetFractions) {
    const service = openLoraService(bench.tf, bench.model, bench.base, { slots: opts.slots, maxRank: 8, hostBudgetBytes: 1 << 30 });
    for (let k = 0; k < opts.adapters; k++) service.store.register(`g${String(k).padStart(4, "0")}`, bench.dirs[k]);
    const totalBytes = service.store.list().reduce((s, a) => s + a.tensorBytes, 0);
    const maxBytes = Math.max(...service.store.list().map((a) => a.tensorBytes));
    service.dispose();
    const budgetBytes = Math.max(maxBytes, Math.round(f * totalBytes));
    const s = openLoraService(bench.tf, bench.model, bench.base, { slots: opts.slots, maxRank: 8, hostBudgetBytes: budgetBytes });
    for (let k = 0; k < opts.adapters; k++) s.store.register(`g${String(k).padStart(4, "0")}`, bench.dirs[k]);
    const cold: Record<"disk" | "host", number[]> = { disk: [], host: [] };
    for (const k of stream) {
      const t0 = performance.now();
      const { resident, cold: c } = s.cache.acquire(`g${String(k).padStart(4, "0")}`);
      if (c.from === "disk" || c.from === "host") cold[c.from].push(performance.now() - t0);
      s.cache.release(resident);
    }
    const st = s.cache.stats;
    const misses = st.requests - st.slotHits;
    out.push({
      budgetFraction: f,
      budgetBytes,
      hostHitRate: misses ? st.hostHits / misses : 1,
      slotHitRate: st.slotHits / st.requests,
      diskLoads: st.diskLoads,
      coldStartDiskMs: percentile(
        cold.disk.sort((a, b) => a - b),
        0.5,
      ),
      coldStartHostMs: percentile(
        cold.host.sort((a, b) => a - b),
        0.5,
      ),
    });
    s.dispose();
  }
  return out;
}

export interface ScalePoint {
  adapters: number;
  requests: number;
  slots: number;
  hostBudgetBytes: number;
  tokensPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  hostBytesHeld: number;
  slotBytes: number;
  tfBytes: number;
  rssBytes: number;
  modelCopiesBytes: number;
  diskLoads: number;
  coldStartMedianMs: number;
}

/** Every registered adapter gets requests, through a fixed number of slots and a host budget. */
export async function scaleRun(
  bench: ServingBench,
  opts: { adapters: number; requests: number; slots: number; hostBudgetBytes: number; maxBatchSize: number; promptTokens: number; newTokens: number; seed: number },
): Promise<ScalePoint> {
  const s = openLoraService(bench.tf, bench.model, bench.base, { slots: opts.slots, maxRank: 8, hostBudgetBytes: opts.hostBudgetBytes, maxBatchSize: opts.maxBatchSize });
  for (let k = 0; k < opts.adapters; k++) s.store.register(`g${String(k).padStart(4, "0")}`, bench.dirs[k]);
  const reqs = workload(bench, { requests: opts.requests, distinctAdapters: opts.adapters, promptTokens: opts.promptTokens, newTokens: opts.newTokens, seed: opts.seed });
  const tf0 = bench.tf.memory().numBytes;
  let peakHost = 0;
  let peakTf = 0;
  const timer = setInterval(() => {
    peakHost = Math.max(peakHost, s.cache.hostBytes());
    peakTf = Math.max(peakTf, bench.tf.memory().numBytes - tf0);
  }, 5);
  const started = performance.now();
  const results = await Promise.all(reqs.map((q) => s.scheduler.submit(q)));
  const seconds = (performance.now() - started) / 1000;
  clearInterval(timer);
  const lat = results.map((r) => r.timings.totalMs).sort((a, b) => a - b);
  const cold = s.cache.stats.coldStarts.map((c) => c.ms).sort((a, b) => a - b);
  const modelBytes = Object.values(bench.base.weights).reduce((sum, t) => sum + 4 * t.size, 0);
  const point: ScalePoint = {
    adapters: opts.adapters,
    requests: opts.requests,
    slots: opts.slots,
    hostBudgetBytes: opts.hostBudgetBytes,
    tokensPerSecond: results.reduce((a, r) => a + r.tokens.length, 0) / seconds,
    p50Ms: percentile(lat, 0.5),
    p99Ms: percentile(lat, 0.99),
    hostBytesHeld: peakHost,
    slotBytes: s.bank.bytes(),
    tfBytes: peakTf,
    rssBytes: process.memoryUsage().rss,
    modelCopiesBytes: opts.adapters * modelBytes,
    diskLoads: s.cache.stats.diskLoads,
    coldStartMedianMs: percentile(cold, 0.5),
  };
  s.dispose();
  return point;
}

/**
 * The three strategies on one batch (mixed adapters, ranks and prompt lengths): each is fed the
 * batched strategy's greedy tokens, so all see the same sequences; returns each strategy's
 * largest logit difference from the batched one over every position.
 */
export async function strategyAgreement(
  tf: Tf,
  model: Model<GptConfig>,
  base: WeightMap,
  service: { cache: import("./adapter-cache.js").TieredAdapterCache; bank: import("./slots.js").SlotBank },
  adapters: string[],
  prompts: number[][],
  steps: number,
): Promise<Array<{ strategy: StrategyName; maxError: number; positions: number }>> {
  const layers = servingLayers(tf, base, model.linearModules);
  const residents = adapters.map((a) => service.cache.acquire(a).resident);
  const engines = STRATEGIES.map((s) => createEngine(s, tf, model.config, base, layers, service.bank));
  const seqs = prompts.map((p, i) => ({ id: `q${i}`, prompt: p, adapter: residents[i] }));
  const traces = await Promise.all(engines.map(async (e) => [await e.admit(seqs)]));
  for (let t = 0; t < steps; t++) {
    const next = new Map([...traces[0][t]].map(([id, l]) => [id, l.indexOf(Math.max(...l))]));
    for (const [k, e] of engines.entries()) traces[k].push(await e.step(next));
  }
  const out = engines.map((e, k) => {
    let maxError = 0;
    let positions = 0;
    traces[k].forEach((m, t) => {
      for (const [id, l] of m) {
        const ref = traces[0][t].get(id)!;
        positions++;
        for (let j = 0; j < l.length; j++) maxError = Math.max(maxError, Math.abs(l[j] - ref[j]));
      }
    });
    return { strategy: e.strategy, maxError, positions };
  });
  for (const e of engines) e.dispose();
  for (const r of residents) service.cache.release(r);
  for (const l of Object.values(layers)) l.wT.dispose();
  return out;
}
