/**
 * OpenLoRA: many LoRA adapters served on one base model. Adapters live on disk as PEFT files
 * (store.ts, checked whole at load: adapter-config.ts; read from under allowed roots and merged
 * into fresh folders: adapter-paths.ts), move through a tiered cache into backend slots
 * (adapter-cache.ts, slots.ts), and are served by one of three strategies (strategies.ts: batched
 * multi-adapter decoding with the gathered SGMV product of sgmv.ts, merge-per-request, an unmerged
 * loop) over a KV-cached decode (decode.ts). The scheduler batches a request stream continuously
 * (scheduler.ts); the HTTP server speaks the OpenAI-compatible dialect of vLLM and LoRAX
 * (server.ts, request bodies in openai-protocol.ts, Prometheus metrics in metrics.ts); every
 * inference leaves a receipt, batched under a Merkle root recorded on chain (receipts.ts).
 * merge.ts combines adapters; openai-client.ts is the client side the notebooks and the loop use
 * (LAB_OPENAI_BASE_URL); serving-bench.ts and load-run.ts measure.
 */

export * from "./adapter-cache.js";
export * from "./adapter-config.js";
export * from "./adapter-paths.js";
export * from "./decode.js";
export * from "./decode-thread.js";
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
