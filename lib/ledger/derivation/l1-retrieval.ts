// L1 Retrieval (specs/protocol/derivation.md "L1 Retrieval", ecotone/derivation.md "Blob
// Retrieval"): picks the batcher transactions out of an L1 block and yields their data: calldata,
// or for type-3 transactions the decoded contents of each blob (their calldata is ignored). A
// batcher transaction is one sent to the batch inbox whose sender, recovered from its signature,
// is the batcher address of the system config.
import { createHash } from "node:crypto";
import { Transaction } from "ethers";
import { decodeBlob, kzgToVersionedHash } from "../blob-eip4844.js";
import type { BlobSource, L1BlockData, L1BlockRef, L1Tx } from "../block-refs.js";
import { fromHex, toHex } from "../bytes.js";
import type { RollupConfig } from "../rollup-config.js";
import type { DataProvider } from "./frame-queue.js";
import { EOF } from "./stage.js";

export const BLOB_TX_TYPE = 3;

export interface RetrievalStats {
  batcherTxs: number;
  /** Inbox transactions whose recovered sender is not the batcher. */
  wrongSender: number;
  /** Transactions that do not parse or whose signature does not recover. */
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
// derivation re-run, a fuzzed copy of a chain), so recoveries are remembered by the envelope's hash.
const RECOVERED_LIMIT = 16_384;
const recovered = new Map<string, ParsedL1Tx | null>();

/** Parses a signed L1 transaction and recovers its sender; undefined when either fails. */
export function parseL1Tx(tx: L1Tx): ParsedL1Tx | undefined {
  const key = createHash("sha256").update(tx.raw).digest("base64");
  let hit = recovered.get(key);
  if (hit === undefined) {
    hit = recoverSender(tx.raw);
    if (recovered.size >= RECOVERED_LIMIT) recovered.clear();
    recovered.set(key, hit);
  }
  return hit ?? undefined;
}

function recoverSender(raw: Uint8Array): ParsedL1Tx | null {
  try {
    const t = Transaction.from(toHex(raw));
    const from = t.from;
    if (!from) return null;
    return { type: t.type ?? 0, from, to: t.to, data: fromHex(t.data), blobVersionedHashes: t.blobVersionedHashes ?? [] };
  } catch {
    return null;
  }
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
  commit?: (blob: Uint8Array) => Uint8Array,
): RetrievedData[] {
  const inbox = cfg.batchInboxAddress.toLowerCase();
  const batcher = cfg.batcherAddress.toLowerCase();
  const out: RetrievedData[] = [];
  for (const raw of block.transactions) {
    const tx = parseL1Tx(raw);
    if (!tx) {
      stats.unrecoverable++;
      continue;
    }
    if (tx.to === null || tx.to.toLowerCase() !== inbox) continue;
    if (tx.from.toLowerCase() !== batcher) {
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
        stats.blobsMissing++;
        continue;
      }
      if (commit && toHex(kzgToVersionedHash(commit(blob))).toLowerCase() !== vh.toLowerCase()) {
        stats.blobsUnverified++;
        continue;
      }
      try {
        out.push({ data: decodeBlob(blob), source: "blob" });
      } catch {
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
    private readonly commit?: (blob: Uint8Array) => Uint8Array,
  ) {}

  /** Moves to the next L1 block (L1 traversal): its batcher data is what nextData hands out. */
  advance(block: L1BlockData, ref: L1BlockRef): void {
    this.origin = ref;
    this.datas = retrieveBatcherData(block, this.cfg, this.blobs, this.stats, this.commit);
  }

  nextData(): Uint8Array | typeof EOF {
    return this.datas.shift()?.data ?? EOF;
  }
}
