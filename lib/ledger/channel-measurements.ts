// Size and cost experiments on batches, channels and DA, shared by notebook 01 and the bench.
// Everything here is pure: it works on sequenced blocks and byte strings, no chain needed.
import { type Batch, encodeBatch, encodeChannelPayload, type SingularBatch } from "./batch.js";
import { parentEpoch } from "./batcher.js";
import { MAX_BLOB_DATA_SIZE } from "./blob-eip4844.js";
import { type CompressionAlgo, channelToFrames, compressChannel } from "./channel.js";
import { batchL1Gas } from "./fees.js";
import { encodeBatcherTxData } from "./frame.js";
import type { SequencedBlock } from "./sequencer.js";
import { type SpanBatchCodecConfig, spanBatchFromBlocks } from "./span-batch.js";

export interface BlockLike {
  batch: SingularBatch;
  /** Origin number of the block's parent (for the span batch's first origin bit). */
  parentEpoch: number;
}

/** Sequenced blocks as channel inputs, each with its parent's origin (the batcher's parent-epoch rule). */
export function blocksForChannels(blocks: readonly SequencedBlock[]): BlockLike[] {
  return blocks.map((b) => ({ batch: b.batch, parentEpoch: parentEpoch(b) }));
}

/** One span batch of `blocks`, encoded: batch_version 1, the prefix, the payload. */
export function encodedSpanBatch(blocks: readonly BlockLike[], codec: SpanBatchCodecConfig): Uint8Array {
  return encodeBatch(
    {
      type: 1,
      batch: spanBatchFromBlocks(
        blocks.map((b) => b.batch),
        blocks[0]!.parentEpoch,
      ),
    },
    codec,
  );
}

/** The uncompressed channel payload for blocks, as singular batches or one span batch. */
export function channelPayload(blocks: readonly BlockLike[], kind: "singular" | "span", codec: SpanBatchCodecConfig): Uint8Array {
  const batches: Batch[] =
    kind === "singular"
      ? blocks.map((b) => ({ type: 0, batch: b.batch }))
      : [
          {
            type: 1,
            batch: spanBatchFromBlocks(
              blocks.map((b) => b.batch),
              blocks[0]!.parentEpoch,
            ),
          },
        ];
  return encodeChannelPayload(batches, codec);
}

export interface ChannelMeasure {
  blocks: number;
  l2Txs: number;
  txBytes: number;
  rlpBytes: number;
  compressedBytes: number;
  /** compressed / rlp */
  ratio: number;
  /** compressed / raw transaction bytes */
  ratioVsTxs: number;
  /** (frames + batch encoding) bytes over the compressed size of the bare transactions */
  encodingOverhead: number;
}

/** Measures one channel built from `blocks`. */
export function measureChannel(blocks: readonly BlockLike[], kind: "singular" | "span", algo: CompressionAlgo, codec: SpanBatchCodecConfig): ChannelMeasure {
  const payload = channelPayload(blocks, kind, codec);
  const compressed = compressChannel(payload, algo);
  const txs = blocks.flatMap((b) => b.batch.transactions);
  const txBytes = txs.reduce((a, t) => a + t.length, 0);
  // The baseline: the same transactions, simply concatenated and compressed the same way.
  const bare = compressChannel(Buffer.concat(txs), algo).length;
  const frames = channelToFrames(new Uint8Array(16), compressed, MAX_BLOB_DATA_SIZE - 1);
  const posted = frames.reduce((a, f) => a + encodeBatcherTxData([f]).length, 0);
  return {
    blocks: blocks.length,
    l2Txs: txs.length,
    txBytes,
    rlpBytes: payload.length,
    compressedBytes: compressed.length,
    ratio: compressed.length / payload.length,
    ratioVsTxs: compressed.length / txBytes,
    encodingOverhead: posted / bare,
  };
}

/** Takes consecutive blocks until their transactions reach `txBytes`. */
export function takeBlocks(blocks: readonly BlockLike[], txBytes: number): BlockLike[] {
  const out: BlockLike[] = [];
  let n = 0;
  for (const b of blocks) {
    if (n >= txBytes && out.length > 0) break;
    out.push(b);
    n += b.batch.transactions.reduce((a, t) => a + t.length, 0);
  }
  return out;
}

export interface DaCost {
  l2Txs: number;
  l1Txs: number;
  blobs: number;
  executionGasPerL2Tx: number;
  blobGasPerL2Tx: number;
}

/** L1 gas per L2 transaction of posting one channel as calldata (120 kB frames) or as blobs. */
export function daCost(blocks: readonly BlockLike[], kind: "singular" | "span", algo: CompressionAlgo, da: "calldata" | "blobs", codec: SpanBatchCodecConfig): DaCost {
  const compressed = compressChannel(channelPayload(blocks, kind, codec), algo);
  const maxFrame = da === "blobs" ? MAX_BLOB_DATA_SIZE - 1 : 120_000 - 1;
  const datas = channelToFrames(new Uint8Array(16), compressed, maxFrame).map((f) => encodeBatcherTxData([f]));
  const g = batchL1Gas(datas, da);
  const l2Txs = blocks.reduce((a, b) => a + b.batch.transactions.length, 0);
  return { l2Txs, l1Txs: g.l1Txs, blobs: g.blobs, executionGasPerL2Tx: g.executionGas / l2Txs, blobGasPerL2Tx: g.blobGas / l2Txs };
}

/** Seconds from each L2 block's timestamp to the L1 block that included the rest of its channel. */
export function inclusionLatencies(l2: readonly { number: number; timestamp: number }[], inclusions: readonly { channel: { firstBlock: number; lastBlock: number }; l1Timestamp: number }[]): number[] {
  const byNumber = new Map(l2.map((b) => [b.number, b.timestamp]));
  const out: number[] = [];
  for (const inc of inclusions) {
    for (let n = inc.channel.firstBlock; n <= inc.channel.lastBlock; n++) {
      const t = byNumber.get(n);
      if (t !== undefined) out.push(inc.l1Timestamp - t);
    }
  }
  return out;
}

/** The channel sizes (transaction bytes) the measurements sweep, from a few transactions to a full six-blob channel. */
export const CHANNEL_SIZES = [2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 200_000, 400_000, 800_000, 1_400_000, 2_000_000] as const;

/** The sizes of CHANNEL_SIZES that `blocks` can fill. */
export function channelSizesFor(blocks: readonly BlockLike[]): number[] {
  const txBytes = blocks.reduce((a, b) => a + b.batch.transactions.reduce((x, t) => x + t.length, 0), 0);
  return CHANNEL_SIZES.filter((s) => s <= txBytes);
}

export type BatchKind = "singular" | "span";
export type ChannelGridKey = `${BatchKind} ${CompressionAlgo}`;
/** One channel measured four ways. */
export type ChannelGrid = Record<ChannelGridKey, ChannelMeasure>;
export const CHANNEL_GRID_KEYS: readonly ChannelGridKey[] = ["singular zlib", "singular brotli", "span zlib", "span brotli"];

/** One channel of `blocks` as singular batches or one span batch, compressed with zlib or brotli. */
export function measureChannelGrid(blocks: readonly BlockLike[], codec: SpanBatchCodecConfig): ChannelGrid {
  const grid = {} as ChannelGrid;
  for (const key of CHANNEL_GRID_KEYS) {
    const [kind, algo] = key.split(" ") as [BatchKind, CompressionAlgo];
    grid[key] = measureChannel(blocks, kind, algo, codec);
  }
  return grid;
}

export interface CompressionPoint {
  /** The size asked for, and the blocks that reach it. */
  txBytes: number;
  blocks: number;
  grid: ChannelGrid;
}

/** The channel grid at each size: the first blocks whose transactions reach it. */
export function compressionCurve(blocks: readonly BlockLike[], sizes: readonly number[], codec: SpanBatchCodecConfig): CompressionPoint[] {
  return sizes.map((size) => {
    const taken = takeBlocks(blocks, size);
    return { txBytes: size, blocks: taken.length, grid: measureChannelGrid(taken, codec) };
  });
}

/** What a full channel's grid says: the targets notebook 01 checks. */
export interface ChannelComparison {
  /** Span brotli: compressed over transaction bytes. */
  brotliRatio: number;
  /** How much smaller brotli makes the span channel than zlib. */
  brotliVsZlibSaving: number;
  /** Span over singular batches, both brotli. */
  spanVsSingular: number;
  /** Span brotli's encoding overhead. */
  encodingOverhead: number;
}

export function compareChannels(grid: ChannelGrid): ChannelComparison {
  return {
    brotliRatio: grid["span brotli"].ratioVsTxs,
    brotliVsZlibSaving: 1 - grid["span brotli"].compressedBytes / grid["span zlib"].compressedBytes,
    spanVsSingular: grid["span brotli"].compressedBytes / grid["singular brotli"].compressedBytes,
    encodingOverhead: grid["span brotli"].encodingOverhead,
  };
}

export interface DaCostPoint {
  txBytes: number;
  calldata: DaCost;
  blobs: DaCost;
}

/** L1 gas per L2 transaction of a span brotli channel at each size, as calldata and as blobs. */
export function daCostCurve(blocks: readonly BlockLike[], sizes: readonly number[], codec: SpanBatchCodecConfig): DaCostPoint[] {
  return sizes.map((size) => {
    const taken = takeBlocks(blocks, size);
    return { txBytes: size, calldata: daCost(taken, "span", "brotli", "calldata", codec), blobs: daCost(taken, "span", "brotli", "blobs", codec) };
  });
}

/** The median (the upper one of an even count) and the largest of some latencies. */
export function latencySummary(latencies: readonly number[]): { median: number; max: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, max: Math.max(...sorted) };
}
