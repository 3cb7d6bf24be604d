// The ledger layer's public API: the OP Stack's batch formats, blob encoding, derivation
// pipeline, sequencer, batcher, output roots and fees, and the rollup on two Hardhat chains.

export * from "./annotate.js";
export * from "./batch.js";
export * from "./batcher.js";
export * from "./blob-eip4844.js";
export * from "./block-refs.js";
export { bytesEqual, concatBytes, encodeBitlist, encodeUvarint, fromHex, toHex } from "./bytes.js";
export * from "./chains.js";
export * from "./channel.js";
export * from "./channel-measurements.js";
export * from "./derivation/alt-da.js";
export * from "./derivation/attributes.js";
export * from "./derivation/batch-queue.js";
export * from "./derivation/channel-bank.js";
export * from "./derivation/channel-reader.js";
export * from "./derivation/frame-queue.js";
export * from "./derivation/l1-retrieval.js";
export * from "./derivation/pipeline.js";
export * from "./driver.js";
export * from "./engine.js";
export * from "./errors.js";
export * from "./fees.js";
export * from "./frame.js";
export * from "./hardhat-l1.js";
export * from "./kzg-eip4844.js";
export * from "./output-root.js";
export * from "./rlp.js";
export * from "./rollup.js";
export * from "./rollup-config.js";
export * from "./sequencer.js";
export * from "./sim.js";
export * from "./span-batch.js";
export * from "./workload.js";
