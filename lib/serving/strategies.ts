import type { GptConfig } from "../intelligence/models/gpt.js";
import type { Tensor, Tf, WeightMap } from "../intelligence/models/types.js";
import { decodeStep, disposeCache, emptyCache, joinCaches, type KvCache, type LinearFn, prefill, probeRow, selectRows } from "./decode.js";
import { dense, type ServingLayers, sgmvLinear } from "./sgmv.js";
import type { BlockSource, GatheredModule, ResidentAdapter } from "./slots.js";

/**
 * Three ways to serve a batch of sequences that each use their own adapter, behind one
 * interface, so the scheduler, the benchmark and the equivalence tests drive them alike:
 *   batched            one KV-cached pass over every running sequence; per layer one base
 *                      matmul and the gathered low-rank products (sgmv.ts)
 *   merge-per-request  each request gets its own copy of the targeted weights with W0 + s·B·A
 *                      folded in (the baseline Punica measures against), run alone
 * Every strategy multiplies by weights in the serving layout (Wᵀ, Aᵀ, Bᵀ; sgmv.ts), so the
 * comparison is between groupings of the same arithmetic, not between memory layouts.
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
  /** Prefills new sequences; resolves to each one's next-token logits (vocab floats). */
  admit(seqs: SequenceStart[]): Promise<Map<string, Float32Array>>;
  /** One token for every running sequence (`next` holds each one's newest token). */
  step(next: Map<string, number>): Promise<Map<string, Float32Array>>;
  /**
   * One running sequence's next-token logits for `token`, computed alone on a copy of its cache:
   * nothing changes (the scheduler asks which row of a step that threw is at fault).
   */
  probe(id: string, token: number): Promise<Float32Array>;
  /** Finished sequences leave; their cache rows are freed. */
  release(ids: string[]): void;
  running(): string[];
  dispose(): void;
}

/** Logits [N, vocab] read back (asynchronously: WebGPU in Node has no synchronous read) by row id. */
async function rowsOf(logits: Tensor, ids: string[]): Promise<Map<string, Float32Array>> {
  const data = (await logits.data()) as Float32Array;
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

  constructor(
    readonly tf: Tf,
    readonly config: GptConfig,
    readonly base: WeightMap,
    readonly layers: ServingLayers,
    readonly bank: BlockSource,
  ) {}

  private gathered: Map<string, GatheredModule | undefined> | undefined;

  /** Each layer's adapter blocks for rows using these slots; the caller disposes them. */
  private gather(slots: number[]): Map<string, GatheredModule | undefined> {
    return new Map(this.bank.modules.map((m) => [m.name, this.bank.gathered(m.name, slots)]));
  }

  private dropGathered(g = this.gathered): void {
    for (const t of g?.values() ?? []) {
      t?.aT.dispose();
      t?.sbT.dispose();
    }
    if (g === this.gathered) this.gathered = undefined;
  }

  private router(g: Map<string, GatheredModule | undefined>): LinearFn {
    return (name, x) => sgmvLinear(this.tf, this.layers, name, x, g.get(name));
  }

  async admit(seqs: SequenceStart[]): Promise<Map<string, Float32Array>> {
    if (seqs.length === 0) return new Map();
    const g = this.gather(seqs.map((s) => s.adapter.slot));
    let out: ReturnType<typeof prefill>;
    try {
      out = prefill(
        this.tf,
        this.config,
        this.base,
        seqs.map((s) => s.prompt),
        this.router(g),
      );
    } finally {
      this.dropGathered(g); // a prefill that throws leaves the running batch as it was
    }
    const { logits, cache } = out;
    this.dropGathered(); // the batch's rows change
    this.cache = joinCaches(this.tf, this.cache, cache);
    this.ids.push(...seqs.map((s) => s.id));
    this.slots.push(...seqs.map((s) => s.adapter.slot));
    return rowsOf(
      logits,
      seqs.map((s) => s.id),
    );
  }

  async step(next: Map<string, number>): Promise<Map<string, Float32Array>> {
    if (this.ids.length === 0) return new Map();
    this.gathered ??= this.gather(this.slots); // rebuilt only when rows join or leave
    const out = decodeStep(
      this.tf,
      this.config,
      this.base,
      this.cache,
      this.ids.map((id) => next.get(id)!),
      this.router(this.gathered),
    );
    this.cache = out.cache;
    return rowsOf(out.logits, this.ids);
  }

  async probe(id: string, token: number): Promise<Float32Array> {
    const n = this.ids.indexOf(id);
    if (n < 0) throw new RangeError(`probe: ${id} is not running`);
    const g = this.gather([this.slots[n]]);
    try {
      const logits = probeRow(this.tf, this.config, this.base, this.cache, n, token, this.router(g));
      return (await rowsOf(logits, [id])).get(id)!;
    } finally {
      this.dropGathered(g);
    }
  }

  release(ids: string[]): void {
    const gone = new Set(ids);
    const keep = this.ids.flatMap((id, n) => (gone.has(id) ? [] : [n]));
    if (keep.length === this.ids.length) return;
    if (keep.length === 0) {
      disposeCache(this.cache);
      this.cache = emptyCache();
    } else this.cache = selectRows(this.tf, this.cache, keep);
    this.ids = keep.map((n) => this.ids[n]);
    this.slots = keep.map((n) => this.slots[n]);
    this.dropGathered();
  }

  running(): string[] {
    return [...this.ids];
  }

  dispose(): void {
    this.dropGathered();
    disposeCache(this.cache);
    this.cache = emptyCache();
    this.ids = [];
    this.slots = [];
  }
}

interface Solo {
  cache: KvCache;
  linear: LinearFn;
  cleanup: () => void;
}

/** Shared loop of the per-request strategies: each sequence has its own cache and weights. */
abstract class PerRequestEngine implements DecodeEngine {
  abstract readonly strategy: StrategyName;
  private readonly solos = new Map<string, Solo>();

  constructor(
    readonly tf: Tf,
    readonly config: GptConfig,
    readonly base: WeightMap,
    readonly layers: ServingLayers,
  ) {}

  protected abstract layersFor(adapter: ResidentAdapter): { linear: LinearFn; cleanup: () => void };

  /** Each request's [1, vocab] logits stacked (an outer-axis concat) and read back once. */
  private rows(logits: Tensor[], ids: string[]): Promise<Map<string, Float32Array>> {
    if (ids.length === 0) return Promise.resolve(new Map());
    const all = this.tf.concat(logits, 0);
    for (const l of logits) l.dispose();
    return rowsOf(all, ids);
  }

  async admit(seqs: SequenceStart[]): Promise<Map<string, Float32Array>> {
    const logits: Tensor[] = [];
    try {
      for (const s of seqs) {
        const w = this.layersFor(s.adapter);
        try {
          const r = prefill(this.tf, this.config, this.base, [s.prompt], w.linear);
          this.solos.set(s.id, { cache: r.cache, ...w });
          logits.push(r.logits);
        } catch (e) {
          w.cleanup();
          throw e;
        }
      }
    } catch (e) {
      // all or nothing: the sequences of this call that did start leave again
      for (const l of logits) l.dispose();
      this.release(seqs.map((s) => s.id));
      throw e;
    }
    return this.rows(
      logits,
      seqs.map((s) => s.id),
    );
  }

  async step(next: Map<string, number>): Promise<Map<string, Float32Array>> {
    const logits: Tensor[] = [];
    const ids: string[] = [];
    for (const [id, solo] of this.solos) {
      const r = decodeStep(this.tf, this.config, this.base, solo.cache, [next.get(id)!], solo.linear);
      solo.cache = r.cache;
      logits.push(r.logits);
      ids.push(id);
    }
    return this.rows(logits, ids);
  }

  async probe(id: string, token: number): Promise<Float32Array> {
    const solo = this.solos.get(id);
    if (!solo) throw new RangeError(`probe: ${id} is not running`);
    const logits = probeRow(this.tf, this.config, this.base, solo.cache, 0, token, solo.linear);
    return (await rowsOf(logits, [id])).get(id)!;
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

/** Wᵀ = W0ᵀ + s·Aᵀ·Bᵀ for each targeted layer, a private copy per request, dropped when it ends. */
export class MergePerRequestEngine extends PerRequestEngine {
  readonly strategy = "merge-per-request" as const;
  protected layersFor(adapter: ResidentAdapter) {
    const tf = this.tf;
    const merged: ServingLayers = { ...this.layers };
    const copies: Tensor[] = [];
    for (const m of adapter.modules) {
      const { aT, bT } = adapter.transposed[m.name];
      const wT = tf.tidy(() => tf.add(this.layers[m.name].wT, tf.mul(tf.matMul(aT, bT), adapter.scaling)));
      copies.push(wT);
      merged[m.name] = { ...this.layers[m.name], wT };
    }
    return {
      linear: ((name, x) => dense(tf, merged[name], x)) as LinearFn,
      cleanup: () => {
        for (const t of copies) t.dispose();
      },
    };
  }
}

/** The base weights and this request's adapter: s·(x·Aᵀ)·Bᵀ added in each targeted layer. */
export class UnmergedLoopEngine extends PerRequestEngine {
  readonly strategy = "unmerged-loop" as const;
  protected layersFor(adapter: ResidentAdapter) {
    const tf = this.tf;
    const linear: LinearFn = (name, x) => {
      const y = dense(tf, this.layers[name], x);
      const t = adapter.transposed[name];
      if (!t) return y;
      const [n, T, inF] = x.shape as number[];
      const delta = tf.matMul(tf.matMul(tf.reshape(x, [n * T, inF]), t.aT), t.bT); // [n·T, out]
      return tf.add(y, tf.reshape(tf.mul(delta, adapter.scaling), y.shape));
    };
    return { linear, cleanup: () => {} };
  }
}

export function createEngine(strategy: StrategyName, tf: Tf, config: GptConfig, base: WeightMap, layers: ServingLayers, bank: BlockSource): DecodeEngine {
  if (strategy === "batched") return new BatchedEngine(tf, config, base, layers, bank);
  if (strategy === "merge-per-request") return new MergePerRequestEngine(tf, config, base, layers);
  return new UnmergedLoopEngine(tf, config, base, layers);
}
