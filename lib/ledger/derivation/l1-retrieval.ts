// L1 Retrieval (specs/protocol/derivation.md "L1 Retrieval", ecotone/derivation.md "Blob
// Retrieval"): picks the batcher transactions out of an L1 block and yields their data: calldata,
// or for type-3 transactions the decoded contents of each blob (their calldata is ignored). A
// batcher transaction is one sent to the batch inbox whose sender, recovered from its signature,
// is the batcher address of the system config.
import { createHash } from "node:crypto";
import { isError, Transaction } from "ethers";
import { decodeBlob, kzgToVersionedHash } from "../blob-eip4844.js";
import type { BlobSource, L1BlockData, L1BlockRef, L1Tx } from "../block-refs.js";
import { fromHex, toHex } from "../bytes.js";
import { DecodingError } from "../errors.js";
import type { RollupConfig } from "../rollup-config.js";
import type { DropLog } from "./drops.js";
import type { DataProvider } from "./frame-queue.js";
import { EOF } from "./stage.js";

export const BLOB_TX_TYPE = 3;

export interface RetrievalStats {
  batcherTxs: number;
  /** Inbox transactions whose recovered sender is not the batcher. */
  wrongSender: number;
  /** Transactions that do not parse or whose signature recovers no sender. */
  unrecoverable: number;
  blobsMissing: number;
  blobsUnverified: number;
  blobsBadEncoding: number;
}

export interface RetrievedData {
  data: Uint8Array;
  source: "calldata" | "blob";
}

export function newRetrievalStats(): RetrievalStats {
  return { batcherTxs: 0, wrongSender: 0, unrecoverable: 0, blobsMissing: 0, blobsUnverified: 0, blobsBadEncoding: 0 };
}

/** What L1 retrieval reads from a signed transaction. */
export interface ParsedL1Tx {
  type: number;
  /** Sender recovered from the signature (checksummed). */
  from: string;
  to: string | null;
  data: Uint8Array;
  blobVersionedHashes: string[];
}

// Recovering a sender costs a millisecond; the same transaction is often read many times (a
// derivation re-run, a fuzzed copy of a chain), so recoveries, and refusals, are remembered by the
// envelope's hash.
const RECOVERED_LIMIT = 16_384;
const recovered = new Map<string, ParsedL1Tx | DecodingError>();

/**
 * Parses a signed L1 transaction and recovers its sender. Bytes that are no transaction, or whose
 * signature recovers no sender, are refused with a DecodingError (L1 retrieval skips them).
 */
export function parseL1Tx(tx: L1Tx): ParsedL1Tx {
  const key = createHash("sha256").update(tx.raw).digest("base64");
  let hit = recovered.get(key);
  if (hit === undefined) {
    hit = recoverSender(tx.raw);
    if (recovered.size >= RECOVERED_LIMIT) recovered.clear();
    recovered.set(key, hit);
  }
  if (hit instanceof DecodingError) throw hit;
  return hit;
}

// What ethers says about bytes that are no transaction (its error codes), and what the secp256k1
// arithmetic says about a signature that is no point on the curve (a plain Error): the input's
// fault. Anything else (a TypeError of a defect, say) is not caught here.
const PARSE_ERROR_CODES = ["BUFFER_OVERRUN", "INVALID_ARGUMENT", "UNSUPPORTED_OPERATION", "BAD_DATA", "NUMERIC_FAULT", "VALUE_MISMATCH"] as const;
const isParseError = (e: unknown): e is Error & { code: string } => PARSE_ERROR_CODES.some((code) => isError(e, code));
const isCurveError = (e: unknown): e is Error => e instanceof Error && e.constructor === Error;

function recoverSender(raw: Uint8Array): ParsedL1Tx | DecodingError {
  let t: Transaction;
  try {
    t = Transaction.from(toHex(raw));
  } catch (e) {
    if (!isParseError(e)) throw e;
    return new DecodingError("l1-tx/malformed", { reason: e.code }, e);
  }
  if (!t.signature) return new DecodingError("l1-tx/unsigned");
  let from: string | null;
  try {
    from = t.from;
  } catch (e) {
    if (isParseError(e)) return new DecodingError("l1-tx/bad-signature", { reason: e.code }, e);
    if (isCurveError(e)) return new DecodingError("l1-tx/bad-signature", { reason: e.message.slice(0, 60) }, e);
    throw e;
  }
  if (!from) return new DecodingError("l1-tx/unsigned");
  return { type: t.type ?? 0, from, to: t.to, data: fromHex(t.data), blobVersionedHashes: t.blobVersionedHashes ?? [] };
}

/**
 * The batcher data of one L1 block, in transaction order.
 * @param commit computes a blob's KZG commitment, to check it against the versioned hash
 *   (the spec's MUST for untrusted blob sources); omit it only for a trusted local source.
 */
export function retrieveBatcherData(
  block: L1BlockData,
  cfg: Pick<RollupConfig, "batchInboxAddress" | "batcherAddress">,
  blobs: BlobSource | undefined,
  stats: RetrievalStats,
  drops: DropLog,
  commit?: (blob: Uint8Array) => Uint8Array,
): RetrievedData[] {
  const inbox = cfg.batchInboxAddress.toLowerCase();
  const batcher = cfg.batcherAddress.toLowerCase();
  const out: RetrievedData[] = [];
  for (const [index, raw] of block.transactions.entries()) {
    const site = { stage: "l1-retrieval", l1Block: block.number } as const;
    let tx: ParsedL1Tx;
    try {
      tx = parseL1Tx(raw);
    } catch (e) {
      drops.dropOrRethrow(e, site);
      stats.unrecoverable++;
      continue;
    }
    if (tx.to === null || tx.to.toLowerCase() !== inbox) continue;
    if (tx.from.toLowerCase() !== batcher) {
      drops.record({ ...site, reason: "wrong-sender", fields: { index, from: tx.from } });
      stats.wrongSender++;
      continue;
    }
    stats.batcherTxs++;
    if (tx.type !== BLOB_TX_TYPE) {
      out.push({ data: tx.data, source: "calldata" });
      continue;
    }
    for (const vh of tx.blobVersionedHashes) {
      const blob = blobs?.getBlob(vh);
      if (!blob) {
        drops.record({ ...site, reason: "blob-missing", fields: { index, versionedHash: vh } });
        stats.blobsMissing++;
        continue;
      }
      if (commit && toHex(kzgToVersionedHash(commit(blob))).toLowerCase() !== vh.toLowerCase()) {
        drops.record({ ...site, reason: "blob-unverified", fields: { index, versionedHash: vh } });
        stats.blobsUnverified++;
        continue;
      }
      try {
        out.push({ data: decodeBlob(blob), source: "blob" });
      } catch (e) {
        drops.dropOrRethrow(e, site);
        stats.blobsBadEncoding++;
      }
    }
  }
  return out;
}

/** The first stage: hands out the batcher data of the current L1 block, one transaction's at a time. */
export class L1Retrieval implements DataProvider {
  origin: L1BlockRef | undefined;
  private datas: RetrievedData[] = [];
  readonly stats = newRetrievalStats();

  constructor(
    private readonly cfg: Pick<RollupConfig, "batchInboxAddress" | "batcherAddress">,
    private readonly blobs: BlobSource | undefined,
    private readonly drops: DropLog,
    private readonly commit?: (blob: Uint8Array) => Uint8Array,
  ) {}

  /** Moves to the next L1 block (L1 traversal): its batcher data is what nextData hands out. */
  advance(block: L1BlockData, ref: L1BlockRef): void {
    this.origin = ref;
    this.datas = retrieveBatcherData(block, this.cfg, this.blobs, this.stats, this.drops, this.commit);
  }

  nextData(): Uint8Array | typeof EOF {
    return this.datas.shift()?.data ?? EOF;
  }
}
