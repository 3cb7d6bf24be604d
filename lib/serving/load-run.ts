import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import type { GptConfig } from "../intelligence/models/gpt.js";
import type { Model, Tf, WeightMap } from "../intelligence/models/types.js";
import { decodeSafetensors, encodeSafetensors } from "../intelligence/peft/safetensors.js";
import { rng } from "../random.js";
import { ThreadedEngine } from "./decode-thread.js";
import { startServer, type TextTokenizer } from "./server.js";
import { openLoraService } from "./service.js";
import { percentile } from "./serving-bench.js";
import { type BaseModelInfo, writeGeneratedAdapter } from "./store.js";
import type { DecodeEngine } from "./strategies.js";

/**
 * The server under a bounded load with hostile requests mixed in, over real HTTP on 127.0.0.1:
 * rounds of concurrent requests for many adapters (half of them streamed), of which a share are
 * the hostile cases OpenLoRA must refuse alone (bad ids, path escapes, broken adapters, a
 * run-time overflow, huge prompts, bad URIs, wrong methods, unsupported fields, max_tokens past
 * the context, a reused request_id) and clients that hang up mid-stream. Every good request must be answered in full
 * and every hostile one with a 4xx and a code; meanwhile /health is probed, and the resident
 * memory is read after each round.
 */
export interface LoadRunOptions {
  rounds: number;
  requestsPerRound: number;
  concurrency: number;
  adapters: number;
  /** Share of each round's requests that are hostile. */
  hostileShare: number;
  maxTokens: number;
  seed: number;
  /** Decoding in a worker thread (default) or on the server's own thread. */
  decodeThread?: boolean;
}

export interface LoadRunResult {
  rounds: Array<{
    round: number;
    good: number;
    goodAnswered: number;
    hostile: number;
    hostile4xx: number;
    aborted: number;
    rssMb: number;
    heapMb: number;
    /** Memory of ArrayBuffers and Buffers outside the JS heap (Node's external, less the wasm heap's buffer). */
    externalMb: number;
    tfTensors: number;
    wasmMb: number;
    /** The decode thread's tensors and wasm heap, when decoding runs in one. */
    threadTensors?: number;
    threadWasmMb?: number;
    seconds: number;
  }>;
  /** Hostile answers that were not a 4xx with a code, by case: what must stay empty. */
  misses: string[];
  /** Good requests that were not answered in full: what must stay empty. */
  failures: string[];
  healthP50Ms: number;
  healthP99Ms: number;
  healthMaxMs: number;
  healthProbes: number;
  /** Largest RSS of rounds 2.. over round 1's, minus 1. */
  rssGrowth: number;
  receiptsCut: number;
}

/** A byte-level tokenizer: one token per character code below the vocabulary size. */
export function byteTokenizer(vocab: number): TextTokenizer {
  return {
    encode(s) {
      return Array.from(s, (c) => {
        const code = c.charCodeAt(0);
        if (code >= vocab) throw new RangeError(`character ${JSON.stringify(c)} is outside the ${vocab}-symbol vocabulary`);
        return code;
      });
    },
    decode: (ids) => String.fromCharCode(...Array.from(ids)),
  };
}

type Outcome = { ok: boolean; what: string };
type RoundJob = () => Promise<{ kind: "good" | "hostile" | "aborted"; outcome: Outcome }>;

/**
 * Runs the rounds against a server started here on generated adapters, then stops the server,
 * frees the service's tensors and removes every folder it wrote, whether the run ends or throws.
 */
export async function hostileLoadRun(tf: Tf, model: Model<GptConfig>, base: { weights: WeightMap; sha256: string }, o: LoadRunOptions): Promise<LoadRunResult> {
  const folders = writeLoadRunFolders(model, base.sha256, o);
  try {
    const service = openLoraService(tf, model, base, { slots: 16, maxRank: 8, hostBudgetBytes: 16 << 20, maxBatchSize: 32, decodeThread: o.decodeThread ?? true });
    try {
      return await serveRounds(tf, model, base.sha256, service, folders, o);
    } finally {
      service.dispose();
    }
  } finally {
    for (const dir of [folders.root, folders.outside]) rmSync(dir, { recursive: true, force: true });
  }
}

/** The server on the service, the rounds with /health probed meanwhile, and the run's summary. */
async function serveRounds(tf: Tf, model: Model<GptConfig>, sha256: string, service: ReturnType<typeof openLoraService>, folders: LoadRunFolders, o: LoadRunOptions): Promise<LoadRunResult> {
  for (const [i, d] of folders.adapters.entries()) service.store.register(`a${i}`, d);
  service.store.register("overflow", folders.overflow);
  const server = await startServer({
    scheduler: service.scheduler,
    cache: service.cache,
    tokenizer: byteTokenizer(model.config.vocabSize),
    backend: "load",
    baseModel: { name: "base", sha256 },
    loadRoots: [folders.root],
    mergeDir: folders.mergeDir,
    sealEvery: 256,
  });
  try {
    const hostileCases = hostileCasesOf(server.url, folders);
    await holdRequestId(server.url, "taken");
    const rounds: LoadRunResult["rounds"] = [];
    const misses: string[] = [];
    const failures: string[] = [];
    const health = probeHealth(server.url);
    let healthMs: number[] = [];
    try {
      const random = rng(o.seed).fork("load");
      for (let round = 1; round <= o.rounds; round++) {
        const t0 = performance.now();
        const results = await runConcurrently(roundJobs(round, server.url, model.config.vocabSize, hostileCases, random, o), o.concurrency);
        for (const r of results) {
          if (r.kind === "good" && !r.outcome.ok) failures.push(`round ${round}: ${r.outcome.what}`);
          if (r.kind === "hostile" && !r.outcome.ok) misses.push(`round ${round}: ${r.outcome.what}`);
        }
        rounds.push({
          round,
          ...countOutcomes(results),
          ...memoryAfterCollection(),
          tfTensors: tf.memory().numTensors,
          wasmMb: wasmHeapBytes(tf) / 2 ** 20,
          ...(await threadMemory(service.scheduler.opts.engine)),
          seconds: (performance.now() - t0) / 1000,
        });
      }
    } finally {
      healthMs = await health.stop();
    }
    await service.scheduler.idle();
    const receiptsCut = server.receipts.pending().filter((r) => r.cut).length + server.receipts.batches.reduce((n, b) => n + b.receipts.filter((r) => r.cut).length, 0);
    return { rounds, misses, failures, ...healthPercentiles(healthMs), rssGrowth: Math.max(...rounds.slice(1).map((r) => r.rssMb)) / rounds[0].rssMb - 1, receiptsCut };
  } finally {
    await server.close();
  }
}

interface LoadRunFolders {
  /** The one folder the server may load from (--adapter-root), and one outside it that a symlink points into. */
  root: string;
  outside: string;
  /** Generated adapters a0, a1, ... of ranks 2, 4 and 8 on three sets of target modules. */
  adapters: string[];
  /** Copies of a0 broken one way each: a NaN weight, a text lora_alpha, weights that overflow at run time. */
  nan: string;
  textAlpha: string;
  overflow: string;
  /** A symlink out of the root, an adapter over the rank limit, and the merge folder with "taken" already there. */
  symlinkOut: string;
  wide: string;
  mergeDir: string;
}

/** Every folder the run reads: good adapters, the broken copies and the escapes the hostile cases name. */
function writeLoadRunFolders(model: Model<GptConfig>, sha256: string, o: LoadRunOptions): LoadRunFolders {
  const root = mkdtempSync(join(tmpdir(), "openlora-load-"));
  const outside = mkdtempSync(join(tmpdir(), "openlora-outside-"));
  try {
    return writeFoldersUnder(root, outside, { sha256, modules: model.linearModules }, o);
  } catch (error) {
    for (const dir of [root, outside]) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function writeFoldersUnder(root: string, outside: string, info: BaseModelInfo, o: LoadRunOptions): LoadRunFolders {
  const targets = [["q_proj", "v_proj"], ["q_proj", "k_proj", "v_proj", "o_proj"], ["fc_out"]];
  const adapters = Array.from({ length: o.adapters }, (_, i) => {
    const dir = join(root, `a${i}`);
    writeGeneratedAdapter(dir, info, { r: [2, 4, 8][i % 3], targetModules: targets[i % 3], seed: o.seed + i });
    return dir;
  });
  const edited = (name: string, edit: { config?: (c: Record<string, unknown>) => void; value?: (tensor: string, i: number) => number }) => {
    const dir = join(root, name);
    cpSync(adapters[0], dir, { recursive: true });
    if (edit.config) {
      const c = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
      edit.config(c);
      writeFileSync(join(dir, "adapter_config.json"), JSON.stringify(c));
    }
    if (edit.value) {
      const { tensors, metadata } = decodeSafetensors(readFileSync(join(dir, "adapter_model.safetensors")));
      for (const [k, t] of Object.entries(tensors)) t.data = Float32Array.from(t.data, (_, i) => edit.value!(k, i));
      writeFileSync(join(dir, "adapter_model.safetensors"), encodeSafetensors(tensors, metadata));
    }
    return dir;
  };
  const nan = edited("nan", { value: (k, i) => (k.includes("lora_B") && i === 1 ? Number.NaN : 0.01) });
  const textAlpha = edited("alpha", { config: (c) => (c.lora_alpha = "x") });
  const overflow = edited("overflow", { value: (k, i) => (k.includes("lora_A") ? (i % 2 ? 1e20 : -1e20) : 1e20) });
  cpSync(adapters[1 % adapters.length], join(outside, "adapter"), { recursive: true });
  const symlinkOut = join(root, "escape");
  symlinkSync(join(outside, "adapter"), symlinkOut);
  const wide = join(root, "wide");
  writeGeneratedAdapter(wide, info, { r: 32, targetModules: ["q_proj"], seed: 1 });
  const mergeDir = join(root, "merged");
  mkdirSync(join(mergeDir, "taken"), { recursive: true });
  return { root, outside, adapters, nan, textAlpha, overflow, symlinkOut, wide, mergeDir };
}

function postJson(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
}

/** The answer was `status` with error code `code`. */
async function refusedWith(res: Response, status: number, code: string): Promise<Outcome> {
  const text = await res.text();
  let got = "";
  try {
    got = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? "";
  } catch {}
  return { ok: res.status === status && got === code, what: `${res.status} ${got} (wanted ${status} ${code})` };
}

/** The hostile requests, each with the status and code OpenLoRA must refuse it with. */
function hostileCasesOf(url: string, f: LoadRunFolders): Array<() => Promise<Outcome>> {
  const post = (path: string, body: unknown) => postJson(url, path, body);
  return [
    async () => refusedWith(await post("/v1/models/merge", { id: "..", adapters: ["a0"] }), 400, "adapter/bad-id"),
    async () => refusedWith(await post("/v1/models/merge", { id: "taken", adapters: ["a0"] }), 409, "adapter/folder-exists"),
    async () => refusedWith(await post("/v1/models", { id: "nan", path: f.nan }), 422, "adapter/non-finite"),
    async () => refusedWith(await post("/v1/load_lora_adapter", { lora_name: "alpha", lora_path: f.textAlpha }), 422, "adapter/bad-config"),
    async () => refusedWith(await post("/v1/models", { id: "wide", path: f.wide }), 422, "adapter/rank-too-large"),
    async () => refusedWith(await post("/v1/models", { id: "escape", path: f.symlinkOut }), 403, "adapter/path-not-allowed"),
    async () => refusedWith(await fetch(`${url}/v1/models/%E0%A4%A`), 400, "request/bad-uri"),
    async () => refusedWith(await post("/v1/completions", { model: "a0", prompt: "x".repeat(1 << 20) }), 413, "request/too-large"),
    async () => refusedWith(await post("/v1/completions", { model: "a0", prompt: "x".repeat(10_000) }), 400, "request/prompt-too-long"),
    async () => refusedWith(await fetch(`${url}/v1/completions`), 405, "request/method-not-allowed"),
    async () => refusedWith(await post("/v1/completions", { model: "a0", prompt: "HELLO", logit_bias: { "5": 3 } }), 400, "request/unsupported-field"),
    async () => refusedWith(await post("/v1/completions", { model: "a0", prompt: "HELLO", max_tokens: 10_000 }), 400, "request/context-exceeded"),
    async () => refusedWith(await post("/v1/completions", { model: "overflow", prompt: "HELLO", max_tokens: 4, temperature: 1 }), 422, "adapter/non-finite-output"),
    async () => refusedWith(await post("/v1/completions", { model: "a0", prompt: "HELLO", max_tokens: 1, request_id: "taken" }), 409, "request/duplicate-id"),
  ];
}

/** Sends the request whose id the last hostile case reuses; its receipt is kept through the run. */
async function holdRequestId(url: string, id: string): Promise<void> {
  const first = await postJson(url, "/v1/completions", { model: "a0", prompt: "HELLO", max_tokens: 1, request_id: id });
  if (first.status !== 200) throw new Error(`load run: the first request named "${id}" was answered ${first.status}: ${await first.text()}`);
}

/** /health probed every 20 ms until `stop`, which returns each probe's milliseconds. */
function probeHealth(url: string): { stop(): Promise<number[]> } {
  const healthMs: number[] = [];
  let probing = true;
  const prober = (async () => {
    while (probing) {
      const t0 = performance.now();
      const res = await fetch(`${url}/health`);
      await res.arrayBuffer();
      healthMs.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      probing = false;
      await prober;
      return healthMs;
    },
  };
}

/**
 * One round's requests in a seeded order: the good ones (a random adapter, eight characters from
 * space up, half streamed), and the hostile share cycling through the cases and a client that hangs
 * up mid-stream, spread through the round.
 */
function roundJobs(round: number, url: string, vocabSize: number, hostileCases: Array<() => Promise<Outcome>>, random: ReturnType<typeof rng>, o: LoadRunOptions): RoundJob[] {
  const prompt = () => Array.from({ length: 8 }, () => String.fromCharCode(32 + Math.floor(random.next() * Math.min(90, vocabSize - 32)))).join("");
  const hostileCount = Math.round(o.requestsPerRound * o.hostileShare);
  const jobs: RoundJob[] = [];
  for (let i = 0; i < o.requestsPerRound - hostileCount; i++) {
    const body = { model: `a${Math.floor(random.next() * o.adapters)}`, prompt: prompt(), max_tokens: o.maxTokens, temperature: 0.8, seed: i, stream: i % 2 === 0 };
    jobs.push(async () => ({ kind: "good", outcome: await goodRequest(url, body, o.maxTokens) }));
  }
  for (let k = 0; k < hostileCount; k++) {
    const c = (round * hostileCount + k) % (hostileCases.length + 1);
    if (c === hostileCases.length) {
      const body = { model: "a1", prompt: "HELLO", max_tokens: o.maxTokens, temperature: 0, stream: true };
      jobs.push(async () => ({ kind: "aborted", outcome: { ok: (await abortAfter(url, body, 2)) >= 0, what: "aborted" } }));
    } else jobs.push(async () => ({ kind: "hostile", outcome: await hostileCases[c]() }));
  }
  for (let i = jobs.length - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
  }
  return jobs;
}

/** The jobs on `concurrency` clients, each taking the next job when its last is answered. */
async function runConcurrently<T>(jobs: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < jobs.length) results.push(await jobs[next++]());
    }),
  );
  return results;
}

function countOutcomes(results: Array<{ kind: string; outcome: Outcome }>) {
  const count = (kind: string, ok?: boolean) => results.filter((r) => r.kind === kind && (ok === undefined || r.outcome.ok === ok)).length;
  return { good: count("good"), goodAnswered: count("good", true), hostile: count("hostile"), hostile4xx: count("hostile", true), aborted: count("aborted") };
}

function healthPercentiles(healthMs: number[]): Pick<LoadRunResult, "healthP50Ms" | "healthP99Ms" | "healthMaxMs" | "healthProbes"> {
  const sorted = [...healthMs].sort((a, b) => a - b);
  return { healthP50Ms: percentile(sorted, 0.5), healthP99Ms: percentile(sorted, 0.99), healthMaxMs: sorted[sorted.length - 1], healthProbes: sorted.length };
}

/** A good request, answered in full: 200, and every token (a finish chunk and [DONE] when streamed). */
async function goodRequest(url: string, body: { stream: boolean; max_tokens: number }, maxTokens: number): Promise<Outcome> {
  const res = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 200) return { ok: false, what: `${res.status} ${text.slice(0, 120)}` };
  if (!body.stream) {
    const j = JSON.parse(text) as { usage: { completion_tokens: number } };
    return { ok: j.usage.completion_tokens === maxTokens, what: `non-stream: ${j.usage.completion_tokens} tokens` };
  }
  const frames = text.split("\n\n").filter(Boolean);
  const last = JSON.parse(frames[frames.length - 2].slice(6)) as { usage?: { completion_tokens: number } };
  return { ok: frames[frames.length - 1] === "data: [DONE]" && last.usage?.completion_tokens === maxTokens, what: `stream: ${frames.length} frames` };
}

/** Streams a completion and hangs up after `events` chunks; returns how many it read. */
function abortAfter(url: string, body: object, events: number): Promise<number> {
  return new Promise((resolve) => {
    const data = JSON.stringify(body);
    const req = httpRequest(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) } }, (res) => {
      let seen = 0;
      res.on("data", (b: Buffer) => {
        seen += b
          .toString()
          .split("\n\n")
          .filter((f) => f.startsWith("data: {")).length;
        if (seen >= events) {
          req.destroy();
          resolve(seen);
        }
      });
      res.on("end", () => resolve(seen));
    });
    req.on("error", () => resolve(-1));
    req.end(data);
  });
}

/** The decode thread's tensors and wasm heap in MB, when the engine runs in one. */
async function threadMemory(engine: DecodeEngine): Promise<{ threadTensors?: number; threadWasmMb?: number }> {
  if (!(engine instanceof ThreadedEngine)) return {};
  const m = await engine.memory();
  return { threadTensors: m.tensors, threadWasmMb: m.wasmBytes / 2 ** 20 };
}

/** Bytes of the wasm backend's linear memory (it grows to its peak and never shrinks); 0 on other backends. */
function wasmHeapBytes(tf: Tf): number {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  return backend.wasm?.HEAPU8?.byteLength ?? 0;
}

/**
 * RSS and JS heap after a full garbage collection: what the process holds, not the garbage the
 * collector has yet to reclaim (which depends on when it last ran).
 */
function memoryAfterCollection(): { rssMb: number; heapMb: number; externalMb: number } {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20, externalMb: m.external / 2 ** 20 };
}
