// Size and cost experiments on batches, channels and DA, shared by notebook 01 and the bench.
// Everything here is pure: it works on sequenced blocks and byte strings, no chain needed.
import { type Batch, encodeChannelPayload, type SingularBatch } from "./batch.js";
import { MAX_BLOB_DATA_SIZE } from "./blob-eip4844.js";
import { type CompressionAlgo, channelToFrames, compressChannel } from "./channel.js";
import { batchL1Gas } from "./fees.js";
import { encodeBatcherTxData } from "./frame.js";
import { type SpanBatchCodecConfig, spanBatchFromBlocks } from "./span-batch.js";

export interface BlockLike {
  batch: SingularBatch;
  /** Origin number of the block's parent (for the span batch's first origin bit). */
  parentEpoch: number;
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
