// Errors of the ledger layer. Each one carries a stable code from the catalogue below, the
// structured fields its message and fix are built from, and its consequence, classed as op-node
// and kona class derivation errors:
//   drop  - the offending input (transaction data, frame, channel, batch, blob) is discarded and
//           derivation carries on; every decoding error is a drop;
//   reset - the pipeline's view of L1 no longer holds (a reorg) and it must restart from a safe point;
//   fatal - a caller's mistake (an encoder asked to build what the format cannot carry, a wrong
//           configuration): nothing is derived from it, the call is refused.
// Derivation catches a drop where the OP Stack derivation spec says what to discard, records it
// (derivation/drops.ts) and carries on; any other error, a ledger error of another class or an
// exception of no ledger class at all (a defect), propagates.

import { type ErrorFields, LabError } from "../errors.js";

export type Consequence = "drop" | "reset" | "fatal";

interface Entry {
  message: (f: ErrorFields) => string;
  /** The fix, or for decoding errors what derivation does with the input. */
  hint: string;
}

const entry = (message: (f: ErrorFields) => string, hint: string): Entry => ({ message, hint });

/** Every ledger error code, with how its message is built from its fields and its fix. */
const CATALOGUE = {
  // bytes and hex
  "bytes/truncated": entry((f) => `truncated ${f.field}: need ${f.need} bytes, ${f.left} left`, "the input was cut short; re-fetch it or drop it"),
  "hex/malformed": entry((f) => `not an even-length hex string: ${f.input}`, "pass 0x-prefixed hex with two digits per byte"),
  "uvarint/overflow": entry((f) => `${f.field}: uvarint overflows 64 bits`, "the field is corrupt; the batch is dropped"),
  "uvarint/over-limit": entry((f) => `${f.field}: ${f.value} exceeds ${f.max}`, "the field is corrupt or over a protocol limit; the batch is dropped"),
  "uvarint/out-of-range": entry((f) => `${f.field}: ${f.value} is not a uint64`, "pass an integer in 0..2^64-1"),
  "bitlist/padding-set": entry((f) => `${f.field}: bits set beyond the ${f.count} declared`, "the bitlist is corrupt; the batch is dropped"),
  // RLP
  "rlp/non-canonical": entry((f) => `rlp: non-canonical ${f.what}${f.field ? ` in ${f.field}` : ""}`, "only canonical RLP is accepted; the input is dropped"),
  "rlp/truncated": entry((f) => `rlp: item of ${f.length} bytes, only ${f.left} left`, "the input was truncated; it is dropped"),
  "rlp/too-deep": entry((f) => `rlp: nesting deeper than ${f.max}`, "the input is corrupt; it is dropped"),
  "rlp/list-overrun": entry(() => "rlp: list payload overruns its length", "the input is corrupt; it is dropped"),
  "rlp/trailing-bytes": entry((f) => `rlp: ${f.count} trailing bytes`, "the input holds more than one item; it is dropped"),
  "rlp/expected-string": entry((f) => `${f.field}: expected an RLP string`, "the layout is wrong; the input is dropped"),
  "rlp/expected-list": entry((f) => `${f.field}: expected an RLP list`, "the layout is wrong; the input is dropped"),
  "rlp/field-count": entry((f) => `${f.field}: expected ${f.expected} fields, got ${f.got}`, "the layout is wrong; the input is dropped"),
  // frames and batcher transactions
  "frame/bad-channel-id": entry((f) => `channel_id of ${f.length} bytes`, "channel ids are 16 bytes"),
  "frame/number-out-of-range": entry((f) => `frame_number ${f.frameNumber} is not a uint16`, "split the channel into at most 65,536 frames"),
  "frame/too-large": entry((f) => `frame_data_length ${f.length} is over MAX_FRAME_LEN ${f.max}`, "use smaller frames; an oversized frame drops its transaction"),
  "frame/bad-is-last": entry((f) => `is_last byte ${f.value} is neither 0 nor 1`, "malformed frame; its transaction is dropped"),
  "frame/size-too-small": entry((f) => `max frame size ${f.maxFrameSize} leaves no room for data after the ${f.overhead}-byte frame overhead`, "use a larger max frame size"),
  "batcher-tx/empty": entry(() => "empty batcher transaction data", "the transaction is ignored"),
  "batcher-tx/unknown-version": entry((f) => `derivation version byte ${f.version} is not 0x00`, "the transaction is ignored"),
  "batcher-tx/no-frames": entry(() => "batcher transaction holds no frame", "the transaction is ignored"),
  // channels
  "channel/empty": entry(() => "empty channel", "the channel is dropped"),
  "channel/unknown-compression": entry((f) => `channel compression byte ${f.byte} is neither zlib nor brotli (0x01)`, "the channel is dropped"),
  "channel/too-large": entry((f) => `channel decompresses to more than ${f.max} bytes`, "the excess is ignored; keep channels under MAX_RLP_BYTES_PER_CHANNEL"),
  "channel/corrupt": entry((f) => `channel does not decompress (${f.algorithm}): ${f.reason}`, "the channel is dropped"),
  "channel/too-many-frames": entry((f) => `channel needs ${f.frames} frames, more than 65,536`, "use larger frames or smaller channels"),
  "channel/item-not-string": entry(() => "channel item is an RLP list, not a batch string", "the rest of the channel is dropped"),
  // batches
  "batch/empty": entry(() => "empty batch", "the batch is dropped"),
  "batch/unknown-version": entry((f) => `unknown batch_version ${f.version}`, "only versions 0 (singular) and 1 (span) exist; the batch is dropped"),
  "batch/bad-hash-length": entry((f) => `${f.field} of ${f.length} bytes, not 32`, "the batch is dropped"),
  "batch/number-out-of-range": entry((f) => `${f.field} ${f.value} is beyond what a singular batch can mean here`, "the batch is dropped"),
  // span batches
  "span-batch/empty": entry(() => "span batch with no blocks", "empty span batches are invalid; add at least one block"),
  "span-batch/origin-jump": entry((f) => `L1 origin jumps from ${f.from} to ${f.to}`, "consecutive L2 blocks advance their origin by at most one"),
  "span-batch/too-many-elements": entry((f) => `span batch of ${f.count} blocks and transactions is over MAX_SPAN_BATCH_ELEMENT_COUNT ${f.max}`, "split it into several span batches"),
  "span-batch/too-few-bytes": entry((f) => `${f.txs} transactions declared, ${f.left} bytes left`, "the batch is truncated; it is dropped"),
  "span-batch/unsupported-tx-type": entry((f) => `transaction type ${f.type} cannot be span-batched`, "span batches carry the types of the span-batch transaction table"),
  "span-batch/wrong-chain-id": entry((f) => `transaction signed for chain ${f.chainId}, not ${f.expected}`, "sign for the L2 chain id"),
  "span-batch/empty-tx": entry(() => "empty transaction", "batches carry no empty transactions"),
  "span-batch/bad-tx-field": entry((f) => `transaction field ${f.field} is malformed: ${f.reason}`, "the transaction is corrupt"),
  "span-batch/trailing-bytes": entry((f) => `${f.count} trailing bytes after span batch`, "the batch is dropped"),
  "span-batch/origin-underflow": entry((f) => `origin_bits count ${f.changes} changes, more than l1_origin_num ${f.l1OriginNum} allows`, "the batch is dropped"),
  // blobs
  "blob/too-large": entry((f) => `${f.length} bytes do not fit a blob (max ${f.max})`, "split the data over several blobs"),
  "blob/wrong-size": entry((f) => `blob of ${f.length} bytes, expected ${f.expected}`, "blobs are 131,072 bytes; the blob is ignored"),
  "blob/bad-field-element": entry((f) => `field element ${f.index} has its top two bits set`, "the blob is not in the OP Stack encoding; it is ignored"),
  "blob/unknown-version": entry((f) => `blob encoding version ${f.version} is not 0`, "the blob is ignored"),
  "blob/length-over-max": entry((f) => `blob declares ${f.length} bytes, more than ${f.max}`, "the blob is ignored"),
  "blob/trailing-data": entry((f) => `non-zero byte at ${f.offset} past the declared length`, "trailing data must be 0; the blob is ignored"),
  // L1 retrieval and the pipeline
  "l1-tx/malformed": entry((f) => `L1 transaction does not parse (${f.reason})`, "it is no EIP-2718 transaction; L1 retrieval skips it"),
  "l1-tx/unsigned": entry(() => "L1 transaction carries no signature to recover its sender from", "L1 retrieval skips it; pass the signed transaction (EIP-2718 envelope)"),
  "l1-tx/bad-signature": entry((f) => `the signature of an L1 transaction recovers no sender (${f.reason})`, "L1 retrieval skips it"),
  "l1/reorg": entry((f) => `L1 block ${f.number} has parent ${f.parentHash}, not the known ${f.knownHash}`, "reset derivation to a safe head before the reorg"),
  // configuration and API misuse
  "batcher/blobs-per-tx": entry((f) => `blobsPerTx ${f.value} is outside 1..6`, "Cancun allows at most 6 blobs per block"),
  "workload/too-few-senders": entry((f) => `the workload needs at least 4 senders, got ${f.count}`, "pass 4 or more funded keys"),
  "workload/setup-repeated": entry(() => "workload setup already generated", "call setup() once, before next()"),
  "workload/setup-missing": entry(() => "workload setup not generated", "call setup() first and include its transactions in the first blocks"),
  "workload/unknown-kind": entry((f) => `kind ${f.kind} is not part of the steady-state mix`, "use one of DEFAULT_MIX's kinds"),
  "engine/transaction-refused": entry(
    (f) => `engine refused transaction ${f.index} of the payload (JSON-RPC ${f.rpcCode})`,
    "the payload is invalid on this chain; derivation replaces it by a deposit-only block",
  ),
  "engine/transactions-refused": entry((f) => `engine included ${f.included} of ${f.expected} transactions`, "the payload is invalid on this chain; derivation replaces it by a deposit-only block"),
  "output/unknown-block": entry((f) => `L2 block ${f.blockNumber} does not exist`, "propose only blocks the L2 has produced"),
  "fees/operator-fee-params": entry((f) => `operator fee ${f.field} ${f.value} is outside its range`, "operatorFeeScalar is a uint32 and operatorFeeConstant a uint64 (L1Block predeploy)"),
} satisfies Record<string, Entry>;

export type LedgerErrorCode = keyof typeof CATALOGUE;

/** Whether `code` is one of the ledger's error codes (a drop log's reason may be one, or a rule's name). */
export function isLedgerErrorCode(code: string): code is LedgerErrorCode {
  return Object.hasOwn(CATALOGUE, code);
}

/** Base error of the ledger layer: a LabError that also says what derivation does about it. */
export class LedgerError extends LabError {
  readonly consequence: Consequence;
  constructor(code: LedgerErrorCode, fields: ErrorFields, consequence: Consequence, cause?: unknown) {
    const e = CATALOGUE[code];
    super({ code, fields, message: e.message(fields), hint: e.hint, cause });
    this.consequence = consequence;
  }
}

/** Bytes that do not follow a byte layout or limit of the spec: the input is dropped. */
export class DecodingError extends LedgerError {
  constructor(code: LedgerErrorCode, fields: ErrorFields = {}, cause?: unknown) {
    super(code, fields, "drop", cause);
  }
}

/** The engine refused a payload (an invalid transaction): derivation builds a deposit-only block instead. */
export class PayloadRefusedError extends LedgerError {
  constructor(code: LedgerErrorCode, fields: ErrorFields = {}, cause?: unknown) {
    super(code, fields, "drop", cause);
  }
}

/** An encoder asked to build bytes the format cannot carry: the call is refused. */
export class EncodingError extends LedgerError {
  constructor(code: LedgerErrorCode, fields: ErrorFields = {}, cause?: unknown) {
    super(code, fields, "fatal", cause);
  }
}

/** Misuse of an API (a wrong configuration, a missing chain): the call is refused. */
export class ConfigError extends LedgerError {
  constructor(code: LedgerErrorCode, fields: ErrorFields = {}, cause?: unknown) {
    super(code, fields, "fatal", cause);
  }
}

/** The pipeline's view of L1 no longer holds: derivation must restart from a safe point. */
export class ResetError extends LedgerError {
  constructor(code: LedgerErrorCode, fields: ErrorFields = {}, cause?: unknown) {
    super(code, fields, "reset", cause);
  }
}

/** The consequence of any thrown value: ledger errors say theirs, anything else is fatal. */
export function consequenceOf(error: unknown): Consequence {
  return error instanceof LedgerError ? error.consequence : "fatal";
}
