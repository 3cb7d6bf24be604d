import type { GptConfig } from "../intelligence/models/gpt.js";
import type { LinearModule, Tensor, Tf, WeightMap } from "../intelligence/models/types.js";
import { type HostTensor, initTf, readTensorMap } from "../tf/index.js";
import { JobWorker } from "../worker-pool.js";
import { servingLayers } from "./sgmv.js";
import { type BlockSource, gatherBlocks, type PaddedBlocks, type ResidentAdapter, type SlotBank } from "./slots.js";
import { BatchedEngine, type DecodeEngine, type SequenceStart } from "./strategies.js";

/**
 * The batched decode engine in a worker thread (node:worker_threads), so the HTTP server's
 * event loop never waits on a prefill or a decode step: the main thread keeps the scheduler,
 * the adapter cache and the slot bank's bookkeeping, and sends the worker only what the
 * arithmetic needs: the base weights once, each slot's padded adapter blocks when an adapter
 * first runs in it, and per step the newest token of each row; the worker answers each row's
 * next-token logits. Sampling stays on the main thread (the request's seeded stream), and the
 * worker runs the same BatchedEngine on the same backend as the main thread, so a request's
 * tokens are those the in-process engine gives.
 *
 * Calls reach the worker in order and run there one at a time (a release sent during a step
 * applies after it). A worker that stops (a crash, out of memory) fails the calls in flight
 * with `workers/worker-lost`; the next admit starts a fresh one.
 */
export type DecodeCall =
  | { op: "start"; config: GptConfig; modules: LinearModule[]; weights: Record<string, HostTensor>; maxRank: number }
  | { op: "admit"; seqs: Array<{ id: string; prompt: number[]; slot: number }>; slots: Array<{ slot: number; blocks: PaddedBlocks | undefined }> }
  | { op: "step"; next: Map<string, number> }
  | { op: "probe"; id: string; token: number }
  | { op: "release"; ids: string[] }
  | { op: "memory" };

/** What the worker holds: its backend's tensors and wasm heap, its JS heap. */
export interface DecodeThreadMemory {
  tensors: number;
  wasmBytes: number;
  heapBytes: number;
}

/**
 * The decode thread's young generation, in MB. V8 doubles a heap's young generation while it
 * allocates fast (a step's logits, messages), up to 64 MB per semi-space, and keeps it: resident
 * memory that grows for minutes under load and never returns, though nothing is retained. The
 * thread's garbage is small and short-lived, so a small young generation costs nothing.
 */
export const DECODE_THREAD_YOUNG_MB = 16;

/** The slot blocks the worker was sent, by slot: the block source of its engine. */
class SentBlocks implements BlockSource {
  private readonly bySlot = new Map<number, PaddedBlocks>();
  constructor(
    readonly tf: Tf,
    readonly modules: LinearModule[],
    readonly maxRank: number,
  ) {}

  set(slot: number, blocks: PaddedBlocks | undefined): void {
    if (blocks) this.bySlot.set(slot, blocks);
    else this.bySlot.delete(slot);
  }

  gathered(module: string, slotsPerRow: number[]) {
    return gatherBlocks(this.tf, this.modules, this.maxRank, (s) => this.bySlot.get(s), module, slotsPerRow);
  }
}

/** The worker's state: its engine and the blocks it reads (one engine per worker). */
let worker: { engine: BatchedEngine; blocks: SentBlocks } | undefined;
let queue: Promise<unknown> = Promise.resolve();

/** The job the worker runs (lib/worker-pool.ts JobWorker): each call after the one before it. */
export function decodeThreadJob(call: DecodeCall): Promise<unknown> {
  const answer = queue.then(() => run(call));
  queue = answer.catch(() => undefined);
  return answer;
}

async function run(call: DecodeCall): Promise<unknown> {
  if (call.op === "start") {
    const { tf } = await initTf({ quiet: true });
    const weights: WeightMap = Object.fromEntries(Object.entries(call.weights).map(([k, t]) => [k, tf.keep(tf.tensor(t.data, t.shape)) as Tensor]));
    const blocks = new SentBlocks(tf, call.modules, call.maxRank);
    worker = { engine: new BatchedEngine(tf, call.config, weights, servingLayers(tf, weights, call.modules), blocks), blocks };
    return tf.getBackend();
  }
  if (!worker) throw new Error(`decode thread: "${call.op}" before "start"`);
  const { engine, blocks } = worker;
  switch (call.op) {
    case "admit":
      for (const s of call.slots) blocks.set(s.slot, s.blocks);
      return engine.admit(call.seqs.map((s) => ({ id: s.id, prompt: s.prompt, adapter: { slot: s.slot } as ResidentAdapter })));
    case "step":
      return engine.step(call.next);
    case "probe":
      return engine.probe(call.id, call.token);
    case "release":
      engine.release(call.ids);
      return undefined;
    case "memory": {
      const { tf } = await initTf({ quiet: true });
      const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
      return { tensors: tf.memory().numTensors, wasmBytes: backend.wasm?.HEAPU8?.byteLength ?? 0, heapBytes: process.memoryUsage().heapUsed } satisfies DecodeThreadMemory;
    }
  }
}

/** The main thread's side: a DecodeEngine whose arithmetic runs in the worker. */
export class ThreadedEngine implements DecodeEngine {
  readonly strategy = "batched" as const;
  private worker?: JobWorker;
  private ready?: Promise<unknown>;
  private readonly weights: Promise<Record<string, HostTensor>>;
  /** The resident each slot's blocks were sent for: a slot that holds another adapter now is sent again. */
  private readonly sent = new Map<number, ResidentAdapter>();
  private ids: string[] = [];

  constructor(
    tf: Tf,
    readonly config: GptConfig,
    base: WeightMap,
    readonly bank: SlotBank,
  ) {
    this.weights = readTensorMap(base);
    this.weights.catch(() => undefined); // reported by the first admit
    this.backend = tf.getBackend();
  }

  private readonly backend: string;

  /** The worker, started (again, after a loss) with the base weights. */
  private async started(): Promise<JobWorker> {
    const lost = this.worker?.failure;
    if (lost && this.ids.length) {
      // the running sequences' caches went with the worker: they fail, and the next call starts afresh
      this.ids = [];
      throw lost;
    }
    if (!this.worker || this.worker.stopped) {
      void this.worker?.terminate();
      this.sent.clear();
      this.ids = [];
      this.worker = new JobWorker(
        { module: import.meta.url, name: "decodeThreadJob" },
        { env: { ...process.env, LAB_TF_BACKEND: this.backend }, resourceLimits: { maxYoungGenerationSizeMb: DECODE_THREAD_YOUNG_MB } },
      );
      const w = this.worker;
      this.ready = this.weights.then((weights) => w.call<DecodeCall, string>({ op: "start", config: this.config, modules: this.bank.modules, weights, maxRank: this.bank.maxRank }));
    }
    await this.ready;
    return this.worker;
  }

  async admit(seqs: SequenceStart[]): Promise<Map<string, Float32Array>> {
    if (seqs.length === 0) return new Map();
    const w = await this.started();
    const slots: Array<{ slot: number; blocks: PaddedBlocks | undefined }> = [];
    for (const s of seqs) {
      const slot = s.adapter.slot;
      if (slot < 0 || this.sent.get(slot) === s.adapter) continue;
      this.sent.set(slot, s.adapter);
      slots.push({ slot, blocks: this.bank.blocks(slot) });
    }
    const logits = await w.call<DecodeCall, Map<string, Float32Array>>({ op: "admit", seqs: seqs.map((s) => ({ id: s.id, prompt: s.prompt, slot: s.adapter.slot })), slots });
    this.ids.push(...seqs.map((s) => s.id));
    return logits;
  }

  async step(next: Map<string, number>): Promise<Map<string, Float32Array>> {
    if (this.ids.length === 0) return new Map();
    return (await this.started()).call<DecodeCall, Map<string, Float32Array>>({ op: "step", next });
  }

  async probe(id: string, token: number): Promise<Float32Array> {
    return (await this.started()).call<DecodeCall, Float32Array>({ op: "probe", id, token });
  }

  /** What the worker holds now (after the calls before this one). */
  async memory(): Promise<DecodeThreadMemory> {
    return (await this.started()).call<DecodeCall, DecodeThreadMemory>({ op: "memory" });
  }

  release(ids: string[]): void {
    const gone = new Set(ids);
    if (!this.ids.some((id) => gone.has(id))) return;
    this.ids = this.ids.filter((id) => !gone.has(id));
    // in order after the calls before it; a lost worker has nothing left to release
    if (this.worker && !this.worker.stopped) this.worker.call<DecodeCall, void>({ op: "release", ids }).catch(() => undefined);
  }

  running(): string[] {
    return [...this.ids];
  }

  dispose(): void {
    void this.worker?.terminate();
    this.worker = undefined;
    this.sent.clear();
    this.ids = [];
  }
}
