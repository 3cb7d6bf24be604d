// The batcher (specs/protocol/batcher.md): turns sequenced L2 blocks into batches (singular or
// one span batch per channel), compresses them into channels, cuts the channels into frames and
// packs the frames into batcher transactions: one frame per calldata transaction, or one frame
// per blob with up to `blobsPerTx` blobs per type-3 transaction.
import type { Rng } from "../random.js";
import { type Batch, encodeChannelPayload } from "./batch.js";
import { encodeBlob, MAX_BLOB_DATA_SIZE } from "./blob-eip4844.js";
import { type CompressionAlgo, channelToFrames, compressChannel } from "./channel.js";
import { ConfigError } from "./errors.js";
import { encodeBatcherTxData, type Frame } from "./frame.js";
import type { SequencedBlock } from "./sequencer.js";
import { type SpanBatchCodecConfig, spanBatchFromBlocks } from "./span-batch.js";

export type DataAvailability = "calldata" | "blobs";

export interface BatcherOptions {
  batchType: 0 | 1;
  compression: CompressionAlgo;
  da: DataAvailability;
  /** Largest calldata frame (op-batcher's default max L1 tx size is 120,000 bytes). */
  maxCalldataFrameSize?: number;
  /** Blobs per type-3 transaction (6 under Cancun's limits). */
  blobsPerTx?: number;
  /** Close a channel once its uncompressed batches reach this many bytes. */
  maxChannelInputBytes?: number;
}

export interface ChannelInfo {
  id: Uint8Array;
  blocks: number;
  txs: number;
  rlpBytes: number;
  compressedBytes: number;
  frames: Frame[];
  firstBlock: number;
  lastBlock: number;
}

export type BatcherTx = { da: "calldata"; data: Uint8Array; channel: ChannelInfo } | { da: "blobs"; blobs: Uint8Array[]; datas: Uint8Array[]; channel: ChannelInfo };

export class Batcher {
  readonly channels: ChannelInfo[] = [];
  private buffer: SequencedBlock[] = [];
  private bufferBytes = 0;
  private readonly opts: Required<BatcherOptions>;

  constructor(
    private readonly codec: SpanBatchCodecConfig,
    opts: BatcherOptions,
    private readonly rng: Rng,
  ) {
    this.opts = {
      maxCalldataFrameSize: 120_000,
      blobsPerTx: 6,
      maxChannelInputBytes: opts.da === "blobs" ? 2_000_000 : 300_000,
      ...opts,
    };
    if (this.opts.blobsPerTx < 1 || this.opts.blobsPerTx > 6) throw new ConfigError("batcher/blobs-per-tx", { value: this.opts.blobsPerTx });
  }

  /** Buffers a block; returns the batcher transactions of a channel it filled, if any. */
  addBlock(b: SequencedBlock): BatcherTx[] {
    this.buffer.push(b);
    this.bufferBytes += b.batch.transactions.reduce((a, t) => a + t.length, 0) + 80;
    return this.bufferBytes >= this.opts.maxChannelInputBytes ? this.flush() : [];
  }

  get pendingBlocks(): number {
    return this.buffer.length;
  }

  /** Closes the current channel (if any blocks are buffered) and returns its transactions. */
  flush(): BatcherTx[] {
    if (this.buffer.length === 0) return [];
    const blocks = this.buffer;
    this.buffer = [];
    this.bufferBytes = 0;
    const batches: Batch[] =
      this.opts.batchType === 0
        ? blocks.map((b) => ({ type: 0, batch: b.batch }))
        : [
            {
              type: 1,
              batch: spanBatchFromBlocks(
                blocks.map((b) => b.batch),
                parentEpoch(blocks[0]!),
              ),
            },
          ];
    const rlp = encodeChannelPayload(batches, this.codec);
    const compressed = compressChannel(rlp, this.opts.compression);
    const id = new Uint8Array(16);
    for (let i = 0; i < 16; i++) id[i] = this.rng.int(256);
    // A blob carries 130,044 bytes of which the version byte takes one.
    const maxFrame = this.opts.da === "blobs" ? MAX_BLOB_DATA_SIZE - 1 : this.opts.maxCalldataFrameSize - 1;
    const frames = channelToFrames(id, compressed, maxFrame);
    const info: ChannelInfo = {
      id,
      blocks: blocks.length,
      txs: blocks.reduce((a, b) => a + b.batch.transactions.length, 0),
      rlpBytes: rlp.length,
      compressedBytes: compressed.length,
      frames,
      firstBlock: blocks[0]!.ref.number,
      lastBlock: blocks[blocks.length - 1]!.ref.number,
    };
    this.channels.push(info);
    if (this.opts.da === "calldata") return frames.map((f) => ({ da: "calldata", data: encodeBatcherTxData([f]), channel: info }));
    const out: BatcherTx[] = [];
    for (let i = 0; i < frames.length; i += this.opts.blobsPerTx) {
      const datas = frames.slice(i, i + this.opts.blobsPerTx).map((f) => encodeBatcherTxData([f]));
      out.push({ da: "blobs", datas, blobs: datas.map(encodeBlob), channel: info });
    }
    return out;
  }
}

/** The L1 origin number of a block's parent: the block's own origin unless it started an epoch. */
export function parentEpoch(b: SequencedBlock): number {
  return b.ref.sequenceNumber === 0 ? b.batch.epochNum - 1 : b.batch.epochNum;
}
