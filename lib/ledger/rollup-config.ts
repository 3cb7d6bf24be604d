// Protocol parameters of the OP Stack derivation spec (specs/protocol/derivation.md,
// "Protocol Parameters"), at the values in force after Fjord, Granite and Holocene, and the
// rollup configuration with the activation times of the forks whose rules derivation switches on.

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
/**
 * Bytes a frame adds around its frame_data on the wire: channel_id 16 + frame_number 2 +
 * frame_data_length 4 + is_last 1 (op-node's FrameV0OverHeadSize). What a batcher subtracts from
 * its maximum frame size to know how much channel data a frame carries.
 */
export const FRAME_V0_OVERHEAD_SIZE = 23;
/**
 * What the channel bank counts per buffered frame on top of its frame_data when it sums channel
 * sizes against MAX_CHANNEL_BANK_SIZE (op-node's frameOverhead: "the tagging info counted as 200
 * in terms of buffer size"). Bookkeeping only; nothing on the wire is 200 bytes.
 */
export const CHANNEL_BANK_FRAME_OVERHEAD = 200;
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
  /**
   * Fork activation times (seconds, as op-node's rollup.json `canyon_time`, `holocene_time`,
   * `isthmus_time`, `jovian_time`); null when the fork is not scheduled. Rules of derivation's
   * L1-facing stages (channel bank, frame queue, batch stage) switch on the L1 origin's time,
   * rules about an L2 block's contents on the L2 block's timestamp, as op-node does.
   */
  canyonTime: number | null;
  holoceneTime: number | null;
  isthmusTime: number | null;
  jovianTime: number | null;
}

export type Fork = "canyon" | "holocene" | "isthmus" | "jovian";

/** Whether `fork` is active at `timestamp` (op-node's IsCanyon, IsHolocene, ...). */
export function isForkActive<F extends Fork>(cfg: Pick<RollupConfig, `${F}Time`>, fork: F, timestamp: number | bigint): boolean {
  const at = (cfg as Record<`${F}Time`, number | null>)[`${fork}Time`];
  return at !== null && BigInt(timestamp) >= BigInt(at);
}

/**
 * Whether the L2 block at `l2Timestamp` is the first block of `fork` (op-node's
 * IsJovianActivationBlock and kin): the fork is active at it but not one block earlier.
 */
export function isForkActivationBlock<F extends Fork>(cfg: Pick<RollupConfig, `${F}Time`> & Pick<RollupConfig, "blockTime">, fork: F, l2Timestamp: number | bigint): boolean {
  const t = BigInt(l2Timestamp);
  return isForkActive(cfg, fork, t) && t >= BigInt(cfg.blockTime) && !isForkActive(cfg, fork, t - BigInt(cfg.blockTime));
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
    canyonTime: 0,
    holoceneTime: 0,
    isthmusTime: 0,
    jovianTime: 0,
    ...overrides,
  };
}
