/**
 * OpenLoRA: many LoRA adapters served on one base model. Adapters live on disk as PEFT files
 * (store.ts), move through a tiered cache into backend slots (cache.ts, slots.ts), and are
 * served by one of three strategies (strategies.ts: batched multi-adapter decoding with the
 * gathered SGMV product of sgmv.ts, merge-per-request, an unmerged loop) over a KV-cached
 * decode (decode.ts). The scheduler batches a request stream continuously (scheduler.ts); the
 * HTTP server speaks OpenAI's completions API (server.ts); every inference leaves a receipt,
 * batched under a Merkle root recorded on chain (receipts.ts). merge.ts combines adapters.
 */

export * from "./adapter-cache.js";
export * from "./adapter-config.js";
export * from "./adapter-paths.js";
export * from "./decode.js";
export * from "./errors.js";
export * from "./load-run.js";
export * from "./merge.js";
export * from "./metrics.js";
export * from "./openai-client.js";
export * from "./openai-protocol.js";
export * from "./receipts.js";
export * from "./sampling.js";
export * from "./scheduler.js";
export * from "./server.js";
export * from "./service.js";
export * from "./serving-bench.js";
export * from "./sgmv.js";
export * from "./slots.js";
export * from "./store.js";
export * from "./strategies.js";
