import type { GptConfig } from "../intelligence/models/gpt.js";
import type { Model, Tf, WeightMap } from "../intelligence/models/types.js";
import { TieredAdapterCache } from "./adapter-cache.js";
import { ThreadedEngine } from "./decode-thread.js";
import { Scheduler } from "./scheduler.js";
import { servingLayers } from "./sgmv.js";
import { SlotBank } from "./slots.js";
import { AdapterStore } from "./store.js";
import { createEngine, type StrategyName } from "./strategies.js";

/** Backends a worker thread can start its own runtime of (tfjs-node's addon and WebGPU's device are the process's). */
export const THREADABLE_BACKENDS: readonly string[] = ["wasm", "cpu"];

/** The serving settings users ask to control: cache budget, slots, batch, latency. */
export interface ServiceOptions {
  slots: number;
  maxRank: number;
  hostBudgetBytes: number;
  maxBatchSize: number;
  stepBudgetMs?: number;
  strategy?: StrategyName;
  /**
   * Batched decoding in a worker thread (decode-thread.ts), so an HTTP server on this thread is
   * never blocked by a step: on the wasm and cpu backends (whose runtime a worker can start);
   * on others the engine runs on this thread.
   */
  decodeThread?: boolean;
}

export const DEFAULT_SERVICE: ServiceOptions = { slots: 32, maxRank: 16, hostBudgetBytes: 64 << 20, maxBatchSize: 32, strategy: "batched" };

export interface OpenLoraService {
  store: AdapterStore;
  bank: SlotBank;
  cache: TieredAdapterCache;
  scheduler: Scheduler;
  dispose(): void;
}

/** Store, tiered cache, engine and scheduler for one base model, wired together. */
export function openLoraService(tf: Tf, model: Model<GptConfig>, base: { weights: WeightMap; sha256: string }, options: Partial<ServiceOptions> = {}): OpenLoraService {
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o: ServiceOptions = { ...DEFAULT_SERVICE, ...given };
  const store = new AdapterStore({ sha256: base.sha256, modules: model.linearModules }, { maxRank: o.maxRank });
  const bank = new SlotBank(tf, model.linearModules, o.slots, o.maxRank);
  const cache = new TieredAdapterCache(store, bank, o.hostBudgetBytes);
  const layers = servingLayers(tf, base.weights, model.linearModules);
  const threaded = o.decodeThread && (o.strategy ?? "batched") === "batched" && THREADABLE_BACKENDS.includes(tf.getBackend());
  const engine = threaded ? new ThreadedEngine(tf, model.config, base.weights, bank) : createEngine(o.strategy ?? "batched", tf, model.config, base.weights, layers, bank);
  const scheduler = new Scheduler({ engine, cache, blockSize: model.config.blockSize, maxBatchSize: o.maxBatchSize, stepBudgetMs: o.stepBudgetMs });
  return {
    store,
    bank,
    cache,
    scheduler,
    dispose: () => {
      engine.dispose();
      bank.dispose();
      for (const l of Object.values(layers)) l.wT.dispose();
    },
  };
}
