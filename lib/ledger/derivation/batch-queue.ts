// Batch Queue (specs/protocol/derivation.md "Batch Queue", delta/span-batches.md "Batch Queue",
// Holocene's batch stage): decides for each batch, against the L2 safe head and the L1 blocks
// seen so far, whether to accept it, drop it, keep it for later (future) or wait for more L1
// data (undecided). Holocene (by the inclusion block's time, as op-node) adds `past` for batches
// behind the safe head and drops future batches instead of buffering them. Isthmus gates set-code
// transactions; Jovian's activation block carries no user transactions.
import { hasInvalidTransactions, type SingularBatch } from "../batch.js";
import type { L1BlockRef, L2BlockRef } from "../block-refs.js";
import { bytesEqual, fromHex, toHex } from "../bytes.js";
import { isForkActivationBlock, isForkActive, type RollupConfig } from "../rollup-config.js";
import { forkGatedTransactions, type SpanBatch } from "../span-batch.js";

export type BatchValidity = "accept" | "drop" | "undecided" | "future" | "past";

export interface Verdict {
  validity: BatchValidity;
  reason: string;
}

const v = (validity: BatchValidity, reason: string): Verdict => ({ validity, reason });

/** L1 blocks by number, as far as derivation has traversed L1. */
export type L1Lookup = (n: number) => L1BlockRef | undefined;

export function checkSingularBatch(cfg: RollupConfig, l1: L1Lookup, safeHead: L2BlockRef, batch: SingularBatch, inclusion: L1BlockRef): Verdict {
  const nextTimestamp = safeHead.timestamp + cfg.blockTime;
  const holocene = isForkActive(cfg, "holocene", inclusion.timestamp);
  if (batch.timestamp > nextTimestamp) return v(holocene ? "drop" : "future", "timestamp ahead of the next L2 block");
  if (batch.timestamp < nextTimestamp) return v(holocene ? "past" : "drop", "timestamp behind the next L2 block");
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
  if (batch.transactions.length > 0 && isForkActivationBlock(cfg, "jovian", batch.timestamp)) return v("drop", "transactions in the Jovian activation block");
  if (batch.timestamp > origin.timestamp + cfg.maxSequencerDrift) {
    if (batch.transactions.length > 0) return v("drop", "transactions beyond the max sequencer drift");
    if (batch.epochNum === epoch.number) {
      const next = l1(batch.epochNum + 1);
      if (!next) return v("undecided", "drift exceeded; next L1 origin not yet known");
      if (batch.timestamp >= next.timestamp) return v("drop", "drift exceeded while the next origin was available");
    }
  }
  if (hasInvalidTransactions(batch.transactions)) return v("drop", "empty or deposit transaction in batch");
  if (forkGatedTransactions(batch.transactions).some((t) => !isForkActive(cfg, t.fork, batch.timestamp))) return v("drop", "transaction type before its fork");
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
  const nextTimestamp = BigInt(safeHead.timestamp + cfg.blockTime);
  const epoch = safeHead.l1origin;
  const holocene = isForkActive(cfg, "holocene", inclusion.timestamp);
  if (first.epochNum === BigInt(epoch.number + 1) && !l1(epoch.number + 1)) return v("undecided", "next L1 origin not yet known");
  if (first.timestamp > nextTimestamp) return v(holocene ? "drop" : "future", "span starts ahead of the next L2 block");
  if (last.timestamp < nextTimestamp) return v(holocene ? "past" : "drop", "span ends behind the next L2 block");
  // From here every block timestamp is within a span of the safe head: safe as a number.
  const prev = safeChain(Number(first.timestamp) - cfg.blockTime);
  if (!prev) return v("drop", "no safe block before the span start");
  if (!bytesEqual(batch.parentCheck, fromHex(prev.hash).subarray(0, 20))) return v("drop", "parent_check mismatch");
  const startEpoch = first.epochNum;
  if (startEpoch + BigInt(cfg.seqWindowSize) < BigInt(inclusion.number)) return v("drop", "included after the sequencing window");
  if (startEpoch > BigInt(prev.l1origin.number + 1)) return v("drop", "origin advances by more than one block");
  const endOrigin = last.epochNum <= BigInt(Number.MAX_SAFE_INTEGER) ? l1(Number(last.epochNum)) : undefined;
  if (!endOrigin || !bytesEqual(batch.l1OriginCheck, fromHex(endOrigin.hash).subarray(0, 20))) return v("drop", "l1_origin_check does not match L1");
  if (startEpoch < BigInt(prev.l1origin.number)) return v("drop", "span starts before its parent's origin");
  // Isthmus: span batches carry set-code transactions only once the fork is active.
  for (const b of batch.blocks) {
    if (forkGatedTransactions(b.transactions).some((t) => !isForkActive(cfg, t.fork, b.timestamp))) return v("drop", "transaction type before its fork");
  }
  for (const [i, b] of batch.blocks.entries()) {
    if (b.timestamp >= nextTimestamp) break;
    const safe = safeChain(Number(b.timestamp));
    if (!safe) return v("drop", "overlapped block not in the safe chain");
    if (BigInt(safe.l1origin.number) !== b.epochNum) return v("drop", `overlapped block ${i} has another origin`);
    const txs = safeTransactions(safe.number);
    if (!txs || txs.length !== b.transactions.length || txs.some((t, k) => !bytesEqual(t, b.transactions[k]!))) {
      return v("drop", `overlapped block ${i} has other transactions`);
    }
  }
  if (batch.blocks.some((b) => hasInvalidTransactions(b.transactions))) return v("drop", "empty or deposit transaction in batch");
  return v("accept", "prefix valid");
}
