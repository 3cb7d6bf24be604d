import { LabError } from "../errors.js";

/** Every refusal of the attribution layer: what is wrong, and how to fix it. */
export class AttributionError extends LabError {}

/** A checkpoint, gradient file or parameter vector does not match the hash it was recorded with. */
export class HashMismatchError extends AttributionError {}

/** Nothing can be paid: no positive influence, or only flagged data. `reason` says which. */
export class NothingToPayError extends AttributionError {
  constructor(readonly reason: string, hint: string) {
    super(`nothing to pay: ${reason}`, hint);
  }
}
