// Batches (specs/protocol/derivation.md "Batch Format"): batch = batch_version ++ content.
//   version 0 (singular): rlp_encode([parent_hash, epoch_number, epoch_hash, timestamp, transaction_list])
//   version 1 (span): see span-batch.ts
// A channel's uncompressed data is a concatenation of rlp_encode(batch), one RLP string per batch.
import { concatBytes, Reader } from "./bytes.js";
import { DecodingError } from "./errors.js";
import { asBytes, asList, bytesToUint, type RlpItem, rlpDecode, rlpEncode, rlpReadNext, uintBytes } from "./rlp.js";
import { DEPOSIT_TX_TYPE, MAX_RLP_BYTES_PER_CHANNEL, SINGULAR_BATCH_TYPE, SPAN_BATCH_TYPE } from "./rollup-config.js";
import { decodeSpanBatch, encodeSpanBatch, type SpanBatch, type SpanBatchCodecConfig } from "./span-batch.js";

export interface SingularBatch {
  parentHash: Uint8Array; // 32 bytes
  epochNum: number; // L1 origin number
  epochHash: Uint8Array; // 32 bytes
  timestamp: number;
  /** Opaque EIP-2718 encoded signed transactions (no deposits). */
  transactions: Uint8Array[];
}

export type Batch = { type: 0; batch: SingularBatch } | { type: 1; batch: SpanBatch };

export function encodeSingularBatchContent(b: SingularBatch): Uint8Array {
  return rlpEncode([b.parentHash, uintBytes(b.epochNum), b.epochHash, uintBytes(b.timestamp), b.transactions]);
}

export function decodeSingularBatchContent(content: Uint8Array): SingularBatch {
  const f = asList(rlpDecode(content), "singular batch", 5);
  const parentHash = asBytes(f[0], "parent_hash");
  const epochHash = asBytes(f[2], "epoch_hash");
  if (parentHash.length !== 32) throw new DecodingError("batch/bad-hash-length", { field: "parent_hash", length: parentHash.length });
  if (epochHash.length !== 32) throw new DecodingError("batch/bad-hash-length", { field: "epoch_hash", length: epochHash.length });
  const epochNum = bytesToUint(asBytes(f[1], "epoch_number"), "epoch_number");
  const timestamp = bytesToUint(asBytes(f[3], "timestamp"), "timestamp");
  // An L1 origin or timestamp past 2^53 can never match a block the lab's chains hold: op-node
  // would drop such a batch in the batch queue, the lab drops it here.
  if (epochNum > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodingError("batch/number-out-of-range", { field: "epoch_number", value: epochNum });
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodingError("batch/number-out-of-range", { field: "timestamp", value: timestamp });
  const transactions = asList(f[4], "transaction_list").map((t, i) => asBytes(t, `transaction ${i}`));
  return { parentHash, epochNum: Number(epochNum), epochHash, timestamp: Number(timestamp), transactions };
}

/** batch_version ++ content. */
export function encodeBatch(b: Batch, cfg: SpanBatchCodecConfig): Uint8Array {
  if (b.type === SINGULAR_BATCH_TYPE) return concatBytes([Uint8Array.of(0), encodeSingularBatchContent(b.batch)]);
  return concatBytes([Uint8Array.of(1), encodeSpanBatch(b.batch, cfg)]);
}

export function decodeBatch(data: Uint8Array, cfg: SpanBatchCodecConfig): Batch {
  if (data.length === 0) throw new DecodingError("batch/empty");
  const v = data[0]!;
  if (v === SINGULAR_BATCH_TYPE) return { type: 0, batch: decodeSingularBatchContent(data.subarray(1)) };
  if (v === SPAN_BATCH_TYPE) return { type: 1, batch: decodeSpanBatch(data.subarray(1), cfg) };
  throw new DecodingError("batch/unknown-version", { version: v });
}

/** The uncompressed channel payload: rlp_encode(batch) for each batch, concatenated. */
export function encodeChannelPayload(batches: readonly Batch[], cfg: SpanBatchCodecConfig): Uint8Array {
  return concatBytes(batches.map((b) => rlpEncode(encodeBatch(b, cfg))));
}

/**
 * Reads batches from decompressed channel data until the data ends or a batch fails to
 * decode; the batches before the failure are kept and the rest of the channel is dropped.
 */
export function* readChannelBatches(payload: Uint8Array, cfg: SpanBatchCodecConfig): Generator<Batch | DecodingError> {
  const r = new Reader(payload.subarray(0, MAX_RLP_BYTES_PER_CHANNEL));
  while (r.remaining > 0) {
    let item: RlpItem;
    try {
      item = rlpReadNext(r);
    } catch (e) {
      yield asDecodingError(e);
      return;
    }
    if (!(item instanceof Uint8Array)) {
      yield new DecodingError("channel/item-not-string");
      return;
    }
    let batch: Batch;
    try {
      batch = decodeBatch(item, cfg);
    } catch (e) {
      // A batch that does not decode ends the channel: the reader cannot trust what follows.
      yield asDecodingError(e);
      return;
    }
    yield batch;
  }
}

/** Decoders throw only DecodingErrors; anything else is a defect and is rethrown. */
function asDecodingError(e: unknown): DecodingError {
  if (e instanceof DecodingError) return e;
  throw e;
}

/** Batches must not carry empty or deposit transactions (derivation.md batch queue rules). */
export function hasInvalidTransactions(txs: readonly Uint8Array[]): boolean {
  return txs.some((t) => t.length === 0 || t[0] === DEPOSIT_TX_TYPE);
}
