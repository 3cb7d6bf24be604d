// Batch Queue (specs/protocol/derivation.md "Batch Queue", delta/span-batches.md "Batch Queue",
// Holocene's batch stage): decides for each batch, against the L2 safe head and the L1 blocks
// seen so far, whether to accept it, drop it, keep it for later (future) or wait for more L1
// data (undecided). Holocene adds `past` for batches behind the safe head and drops future
// batches instead of buffering them.
import { hasInvalidTransactions, type SingularBatch } from "../batch.js";
import { bytesEqual, fromHex, toHex } from "../bytes.js";
import type { RollupConfig } from "../params.js";
import type { SpanBatch } from "../span-batch.js";
import type { L1BlockRef, L2BlockRef } from "../types.js";

export type BatchValidity = "accept" | "drop" | "undecided" | "future" | "past";

export interface Verdict {
  validity: BatchValidity;
  reason: string;
}

const v = (validity: BatchValidity, reason: string): Verdict => ({ validity, reason });

/** L1 blocks by number, as far as derivation has traversed L1. */
export type L1Lookup = (n: number) => L1BlockRef | undefined;

export function checkSingularBatch(
  cfg: RollupConfig,
  l1: L1Lookup,
  safeHead: L2BlockRef,
  batch: SingularBatch,
  inclusion: L1BlockRef,
): Verdict {
  const nextTimestamp = safeHead.timestamp + cfg.blockTime;
  if (batch.timestamp > nextTimestamp) return v("future", "timestamp ahead of the next L2 block");
  if (batch.timestamp < nextTimestamp) return v(cfg.holocene ? "past" : "drop", "timestamp behind the next L2 block");
  if (toHex(batch.parentHash).toLowerCase() !== safeHead.hash.toLowerCase()) return v("drop", "parent_hash is not the safe head");
  if (batch.epochNum + cfg.seqWindowSize < inclusion.number) return v("drop", "included after the sequencing window");
  const epoch = safeHead.l1origin;
  let origin: L1BlockRef | undefined;
  if (batch.epochNum < epoch.number) return v("drop", "epoch older than the safe head's");
  if (batch.epochNum === epoch.number) origin = l1(epoch.number);
  else if (batch.epochNum === epoch.number + 1) {
    origin = l1(epoch.number + 1);
    if (!origin) return v("undecided", "next L1 origin not yet known");
  } else return v("drop", "epoch skips an L1 block");
  if (!origin) return v("drop", "L1 origin unknown");
  if (toHex(batch.epochHash).toLowerCase() !== origin.hash.toLowerCase()) return v("drop", "epoch_hash does not match L1");
  if (batch.timestamp < origin.timestamp) return v("drop", "timestamp before its L1 origin");
  if (batch.timestamp > origin.timestamp + cfg.maxSequencerDrift) {
    if (batch.transactions.length > 0) return v("drop", "transactions beyond the max sequencer drift");
    if (batch.epochNum === epoch.number) {
      const next = l1(batch.epochNum + 1);
      if (!next) return v("undecided", "drift exceeded; next L1 origin not yet known");
      if (batch.timestamp >= next.timestamp) return v("drop", "drift exceeded while the next origin was available");
    }
  }
  if (hasInvalidTransactions(batch.transactions)) return v("drop", "empty or deposit transaction in batch");
  return v("accept", "valid");
}

/**
 * The span batch rules that apply to the batch as a whole (prefix, sequencing window, origin
 * checks, overlap with the safe chain). The per-block time rules are then checked block by
 * block with checkSingularBatch as the span is expanded.
 */
export function checkSpanBatchPrefix(
  cfg: RollupConfig,
  l1: L1Lookup,
  safeChain: (timestamp: number) => L2BlockRef | undefined,
  safeTransactions: (blockNumber: number) => readonly Uint8Array[] | undefined,
  safeHead: L2BlockRef,
  batch: SpanBatch,
  inclusion: L1BlockRef,
): Verdict {
  const first = batch.blocks[0]!;
  const last = batch.blocks[batch.blocks.length - 1]!;
  const nextTimestamp = safeHead.timestamp + cfg.blockTime;
  const epoch = safeHead.l1origin;
  if (first.epochNum === epoch.number + 1 && !l1(epoch.number + 1)) return v("undecided", "next L1 origin not yet known");
  if (first.timestamp > nextTimestamp) return v("future", "span starts ahead of the next L2 block");
  if (last.timestamp < nextTimestamp) return v(cfg.holocene ? "past" : "drop", "span ends behind the next L2 block");
  const prev = safeChain(first.timestamp - cfg.blockTime);
  if (!prev) return v("drop", "no safe block before the span start");
  if (!bytesEqual(batch.parentCheck, fromHex(prev.hash).subarray(0, 20))) return v("drop", "parent_check mismatch");
  const startEpoch = first.epochNum;
  if (startEpoch + cfg.seqWindowSize < inclusion.number) return v("drop", "included after the sequencing window");
  if (startEpoch > prev.l1origin.number + 1) return v("drop", "origin advances by more than one block");
  const endOrigin = l1(last.epochNum);
  if (!endOrigin || !bytesEqual(batch.l1OriginCheck, fromHex(endOrigin.hash).subarray(0, 20))) return v("drop", "l1_origin_check does not match L1");
  if (startEpoch < prev.l1origin.number) return v("drop", "span starts before its parent's origin");
  for (const [i, b] of batch.blocks.entries()) {
    if (b.timestamp >= nextTimestamp) break;
    const safe = safeChain(b.timestamp);
    if (!safe) return v("drop", "overlapped block not in the safe chain");
    if (safe.l1origin.number !== b.epochNum) return v("drop", `overlapped block ${i} has another origin`);
    const txs = safeTransactions(safe.number);
    if (!txs || txs.length !== b.transactions.length || txs.some((t, k) => !bytesEqual(t, b.transactions[k]!))) {
      return v("drop", `overlapped block ${i} has other transactions`);
    }
  }
  if (batch.blocks.some((b) => hasInvalidTransactions(b.transactions))) return v("drop", "empty or deposit transaction in batch");
  return v("accept", "prefix valid");
}
