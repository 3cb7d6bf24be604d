// L1 Retrieval (specs/protocol/derivation.md "L1 Retrieval", ecotone/derivation.md "Blob
// Retrieval"): picks the batcher transactions out of an L1 block (sent to the batch inbox,
// signed by the batcher) and yields their data: calldata, or for type-3 transactions the
// decoded contents of each blob (their calldata is ignored).
import { decodeBlob, kzgToVersionedHash } from "../blob.js";
import { toHex } from "../bytes.js";
import type { RollupConfig } from "../params.js";
import type { BlobSource, L1BlockData } from "../types.js";

export const BLOB_TX_TYPE = 3;

export interface RetrievalStats {
  batcherTxs: number;
  wrongSender: number;
  blobsMissing: number;
  blobsUnverified: number;
  blobsBadEncoding: number;
}

export interface RetrievedData {
  data: Uint8Array;
  /** "calldata" or "blob" */
  source: "calldata" | "blob";
}

export function newRetrievalStats(): RetrievalStats {
  return { batcherTxs: 0, wrongSender: 0, blobsMissing: 0, blobsUnverified: 0, blobsBadEncoding: 0 };
}

/**
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
  for (const tx of block.transactions) {
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
