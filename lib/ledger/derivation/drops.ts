// What derivation drops, and why. op-node logs each input a stage discards with the L1 origin and
// the error; kona classes every stage error as Temporary, Reset or Critical and lets only the first
// be absorbed. Here each stage catches where the spec says what to discard and hands the error to
// dropOrRethrow: a LedgerError whose consequence is "drop" (lib/ledger/errors.ts) is recorded with
// the stage, the L1 block, the channel where it is known, and the error's code and fields; any
// other error (a reset, a caller's mistake, or an exception of no ledger class, which is a defect)
// propagates. Rules that refuse well-formed input (a frame out of order, a batch past the
// sequencing window) are recorded the same way, with the rule as the reason.
import type { ErrorFields } from "../../errors.js";
import { consequenceOf, LedgerError } from "../errors.js";

/** The derivation stages, by the spec's names. */
export type DerivationStage = "l1-retrieval" | "alt-da" | "frame-queue" | "channel-bank" | "channel-reader" | "batch-queue" | "engine";

/** One input a stage discarded. */
export interface Drop {
  stage: DerivationStage;
  /** The ledger error code for a decoding error; otherwise the rule that refused the input. */
  reason: string;
  /** The L1 block derivation was reading (the inclusion block of the input). */
  l1Block?: number;
  /** The channel the input belongs to, where the stage knows it (hex of the 16-byte id). */
  channel?: string;
  /** The error's structured fields, or what identifies the input (a frame number, a batch's timestamp). */
  fields?: ErrorFields;
}

/** Where a drop happened: the drop without its reason. */
export type DropSite = Omit<Drop, "reason" | "fields">;

/** How many drops the log keeps whole; counts cover every drop. */
export const DROP_LOG_LIMIT = 1_000;

export class DropLog {
  /** Drops by reason, over the pipeline's life. */
  readonly counts: Record<string, number> = {};
  /** The latest drops, oldest first (at most DROP_LOG_LIMIT). */
  readonly recent: Drop[] = [];
  total = 0;

  record(drop: Drop): void {
    this.counts[drop.reason] = (this.counts[drop.reason] ?? 0) + 1;
    this.total++;
    if (this.recent.length === DROP_LOG_LIMIT) this.recent.shift();
    this.recent.push(drop);
  }

  /** Records `error` where the ledger classes it as a drop; rethrows anything else. */
  dropOrRethrow(error: unknown, site: DropSite): void {
    if (!(error instanceof LedgerError) || consequenceOf(error) !== "drop") throw error;
    this.record({ ...site, reason: error.code, fields: error.fields });
  }
}
