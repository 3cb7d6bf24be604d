// Protocol parameters of the OP Stack derivation spec (specs/protocol/derivation.md,
// "Protocol Parameters"), at the values in force after Fjord, Granite and Holocene.

/** Version byte that starts every batcher transaction's data. */
export const DERIVATION_VERSION_0 = 0x00;
/** Largest frame_data_length a frame may declare. */
export const MAX_FRAME_LEN = 1_000_000;
/** Largest decompressed channel (Fjord: 100,000,000; 10,000,000 before). */
export const MAX_RLP_BYTES_PER_CHANNEL = 100_000_000;
/** Largest total size the channel bank holds (Fjord: 1,000,000,000). */
export const MAX_CHANNEL_BANK_SIZE = 1_000_000_000;
/** L1 blocks a channel may stay open after its first frame's inclusion (Granite: 50). */
export const CHANNEL_TIMEOUT_GRANITE = 50;
/** Blocks plus transactions a span batch may carry (Fjord). */
export const MAX_SPAN_BATCH_ELEMENT_COUNT = 10_000_000;
/** Seconds an L2 block timestamp may run ahead of its L1 origin (Fjord: 1800). */
export const MAX_SEQUENCER_DRIFT_FJORD = 1800;
/** Frame overhead: channel_id 16 + frame_number 2 + frame_data_length 4 + is_last 1. */
export const FRAME_OVERHEAD = 23;
/** Batch versions (specs/protocol/derivation.md "Batch Format", delta/span-batches.md). */
export const SINGULAR_BATCH_TYPE = 0;
export const SPAN_BATCH_TYPE = 1;
/** Fjord's channel compression version byte for brotli. */
export const CHANNEL_VERSION_BROTLI = 0x01;
/** Deposit transaction type: never allowed inside a batch. */
export const DEPOSIT_TX_TYPE = 0x7e;

/** The rollup configuration derivation needs (a subset of op-node's rollup.json). */
export interface RollupConfig {
  /** L2 chain id (901 on the lab's `l2` network). */
  l2ChainId: bigint;
  /** L2 genesis block timestamp in seconds. */
  genesisTimestamp: number;
  /** Seconds between L2 blocks. */
  blockTime: number;
  /** L1 blocks within which a batch for an epoch must be included. */
  seqWindowSize: number;
  /** Seconds an L2 block may be ahead of its L1 origin. */
  maxSequencerDrift: number;
  /** L1 blocks a channel may stay open. */
  channelTimeout: number;
  /** Address that receives batcher transactions on L1. */
  batchInboxAddress: string;
  /** Address whose signature batcher transactions must carry. */
  batcherAddress: string;
  /** Holocene's strict ordering rules in frame queue, channel assembly and batch stage. */
  holocene: boolean;
}

/** A rollup configuration with the mainnet-like defaults used throughout the lab. */
export function defaultRollupConfig(overrides: Partial<RollupConfig> = {}): RollupConfig {
  return {
    l2ChainId: 901n,
    genesisTimestamp: 0,
    blockTime: 2,
    seqWindowSize: 3600,
    maxSequencerDrift: MAX_SEQUENCER_DRIFT_FJORD,
    channelTimeout: CHANNEL_TIMEOUT_GRANITE,
    // The standard OP Stack convention: 0xff00…00 followed by the chain id.
    batchInboxAddress: "0xff00000000000000000000000000000000000901",
    batcherAddress: "0x0000000000000000000000000000000000000000",
    holocene: true,
    ...overrides,
  };
}
