import { linear } from "../models/ops.js";
import { mergeLora } from "../lora/index.js";
import type { GptConfig } from "../models/gpt.js";
import type { Model, Tensor, Tf, WeightMap } from "../models/types.js";
import { decodeStep, disposeCache, emptyCache, joinCaches, prefill, selectRows, type KvCache, type LinearFn } from "./decode.js";
import type { ResidentAdapter, SlotBank } from "./slots.js";
import { sgmvLinear } from "./sgmv.js";

/**
 * Three ways to serve a batch of sequences that each use their own adapter, behind one
 * interface, so the scheduler, the benchmark and the equivalence tests drive them alike:
 *   batched            one KV-cached pass over every running sequence; per layer one base
 *                      matmul and the gathered low-rank products (sgmv.ts)
 *   merge-per-request  each request gets its own copy of the targeted weights with W0 + s·B·A
 *                      folded in (the baseline Punica measures against), run alone
 *   unmerged-loop      each request runs alone on the base weights with its x·A·B term
 *                      (PEFT's forward, one adapter at a time)
 * All three compute the same function; only the grouping of the arithmetic differs.
 */
export type StrategyName = "batched" | "merge-per-request" | "unmerged-loop";
export const STRATEGIES: readonly StrategyName[] = ["batched", "merge-per-request", "unmerged-loop"];

export interface SequenceStart {
  id: string;
  prompt: number[];
  adapter: ResidentAdapter;
}

export interface DecodeEngine {
  readonly strategy: StrategyName;
  /** Prefills new sequences; returns each one's next-token logits (vocab floats). */
  admit(seqs: SequenceStart[]): Map<string, Float32Array>;
  /** One token for every running sequence (`next` holds each one's newest token). */
  step(next: Map<string, number>): Map<string, Float32Array>;
  /** Finished sequences leave; their cache rows are freed. */
  release(ids: string[]): void;
  running(): string[];
  dispose(): void;
}

function rowsOf(logits: Tensor, ids: string[]): Map<string, Float32Array> {
  const data = logits.dataSync() as Float32Array;
  logits.dispose();
  const V = data.length / Math.max(1, ids.length);
  return new Map(ids.map((id, n) => [id, data.slice(n * V, (n + 1) * V)]));
}

/** Every running sequence in one batch: base matmuls shared, adapters gathered per row. */
export class BatchedEngine implements DecodeEngine {
  readonly strategy = "batched" as const;
  private cache: KvCache = emptyCache();
  private ids: string[] = [];
  private slots: number[] = [];

  constructor(readonly tf: Tf, readonly config: GptConfig, readonly base: WeightMap, readonly bank: SlotBank) {}

  private router(slots: number[]): { fn: LinearFn; done: () => void } {
    const idx = this.tf.tensor1d(slots, "int32");
    return { fn: (name, x) => sgmvLinear(this.tf, this.base, this.bank, name, x, idx), done: () => idx.dispose() };
  }

  admit(seqs: SequenceStart[]): Map<string, Float32Array> {
    if (seqs.length === 0) return new Map();
    const r = this.router(seqs.map((s) => s.adapter.slot));
    const { logits, cache } = prefill(this.tf, this.config, this.base, seqs.map((s) => s.prompt), r.fn);
    r.done();
    this.cache = joinCaches(this.tf, this.cache, cache);
    this.ids.push(...seqs.map((s) => s.id));
    this.slots.push(...seqs.map((s) => s.adapter.slot));
    return rowsOf(logits, seqs.map((s) => s.id));
  }

  step(next: Map<string, number>): Map<string, Float32Array> {
    if (this.ids.length === 0) return new Map();
    const r = this.router(this.slots);
    const out = decodeStep(this.tf, this.config, this.base, this.cache, this.ids.map((id) => next.get(id)!), r.fn);
    r.done();
    this.cache = out.cache;
    return rowsOf(out.logits, this.ids);
  }

  release(ids: string[]): void {
    const gone = new Set(ids);
    const keep = this.ids.flatMap((id, n) => (gone.has(id) ? [] : [n]));
    if (keep.length === this.ids.length) return;
    if (keep.length === 0) { disposeCache(this.cache); this.cache = emptyCache(); }
    else this.cache = selectRows(this.tf, this.cache, keep);
    this.ids = keep.map((n) => this.ids[n]);
    this.slots = keep.map((n) => this.slots[n]);
  }

  running(): string[] {
    return [...this.ids];
  }

  dispose(): void {
    disposeCache(this.cache);
    this.cache = emptyCache();
    this.ids = [];
    this.slots = [];
  }
}

interface Solo {
  cache: KvCache;
  linear: LinearFn;
  weights: WeightMap;
  cleanup: () => void;
}

/** Shared loop of the per-request strategies: each sequence has its own cache and weights. */
abstract class PerRequestEngine implements DecodeEngine {
  abstract readonly strategy: StrategyName;
  private readonly solos = new Map<string, Solo>();

  constructor(readonly tf: Tf, readonly model: Model<GptConfig>, readonly base: WeightMap) {}

  protected abstract weightsFor(adapter: ResidentAdapter): { weights: WeightMap; linear: LinearFn; cleanup: () => void };

  admit(seqs: SequenceStart[]): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const s of seqs) {
      const w = this.weightsFor(s.adapter);
      const { logits, cache } = prefill(this.tf, this.model.config, w.weights, [s.prompt], w.linear);
      this.solos.set(s.id, { cache, ...w });
      out.set(s.id, rowsOf(logits, [s.id]).get(s.id)!);
    }
    return out;
  }

  step(next: Map<string, number>): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [id, solo] of this.solos) {
      const r = decodeStep(this.tf, this.model.config, solo.weights, solo.cache, [next.get(id)!], solo.linear);
      solo.cache = r.cache;
      out.set(id, rowsOf(r.logits, [id]).get(id)!);
    }
    return out;
  }

  release(ids: string[]): void {
    for (const id of ids) {
      const solo = this.solos.get(id);
      if (!solo) continue;
      disposeCache(solo.cache);
      solo.cleanup();
      this.solos.delete(id);
    }
  }

  running(): string[] {
    return [...this.solos.keys()];
  }

  dispose(): void {
    this.release([...this.solos.keys()]);
  }
}

/** W = W0 + s·B·A for each targeted layer, a private copy per request, dropped when it ends. */
export class MergePerRequestEngine extends PerRequestEngine {
  readonly strategy = "merge-per-request" as const;
  protected weightsFor(adapter: ResidentAdapter) {
    const merged = mergeLora(this.model, this.base, { config: adapter.config, modules: adapter.modules, tensors: adapter.tensors }).weights;
    const copies = adapter.modules.map((m) => merged[`${m.name}.weight`]);
    return { weights: merged, linear: ((name, x) => linear(this.tf, merged, name, x)) as LinearFn, cleanup: () => copies.forEach((t) => t.dispose()) };
  }
}

/** The base weights and this request's adapter tensors; x·A·B added in each targeted layer. */
export class UnmergedLoopEngine extends PerRequestEngine {
  readonly strategy = "unmerged-loop" as const;
  protected weightsFor(adapter: ResidentAdapter) {
    const weights = { ...this.base, ...adapter.tensors };
    const opts = { lora: { scaling: adapter.scaling } };
    return { weights, linear: ((name, x) => linear(this.tf, weights, name, x, opts)) as LinearFn, cleanup: () => {} };
  }
}

export function createEngine(strategy: StrategyName, tf: Tf, model: Model<GptConfig>, base: WeightMap, bank: SlotBank): DecodeEngine {
  if (strategy === "batched") return new BatchedEngine(tf, model.config, base, bank);
  if (strategy === "merge-per-request") return new MergePerRequestEngine(tf, model, base);
  return new UnmergedLoopEngine(tf, model, base);
}
