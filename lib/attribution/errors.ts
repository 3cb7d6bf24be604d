import { LabError } from "../errors.js";

/** Every refusal of the attribution layer: a stable code, its fields, what is wrong and the fix. */
export class AttributionError extends LabError {}

/** A checkpoint, gradient file or parameter vector does not match the hash it was recorded with. */
export class HashMismatchError extends AttributionError {}

/**
 * Nothing can be paid: no positive influence, or only flagged data. `reason` says which; the
 * code "rewards/no-positive-influence" or "rewards/empty-payout".
 */
export class NothingToPayError extends AttributionError {
  readonly reason: string;
  constructor(code: "rewards/no-positive-influence" | "rewards/empty-payout", fields: { reason: string; contributors?: number; flagged?: number }, hint: string) {
    super({ code, message: `nothing to pay: ${fields.reason}`, hint, fields });
    this.reason = fields.reason;
  }
}
