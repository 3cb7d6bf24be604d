// Typed errors of the data-availability layer. Codes are "da/what"; fields carry the numbers the
// check compared, so callers and tests branch on code and fields. Each class has the consequence
// the ledger layer's errors have (drop, reset, fatal): bytes or proofs that do not check out are
// dropped by derivation; missing data, too little stake or a wrong configuration stop the caller.
import { LabError, type LabErrorSpec } from "../errors.js";
import type { Consequence } from "../ledger/errors.js";

/** Base error of the EigenDA-style data-availability layer. */
export class DAError extends LabError {
  readonly consequence: Consequence;
  constructor(spec: LabErrorSpec, consequence: Consequence = "fatal") {
    super(spec);
    this.consequence = consequence;
  }
}

/** Bytes that break a byte layout: the encoded payload, a certificate, an alt-DA commitment, an SRS file. */
export class DAEncodingError extends DAError {
  constructor(spec: LabErrorSpec) {
    super(spec, "drop");
  }
}

/** Cryptography that does not check out: a chunk proof, a length proof, a signature, a certificate. */
export class DAVerificationError extends DAError {
  constructor(spec: LabErrorSpec) {
    super(spec, "drop");
  }
}

/** Too little of something to proceed: chunks below the reconstruction threshold, stake below the confirmation threshold. */
export class DAThresholdError extends DAError {}
/** Parameters that cannot be used together (coding rate, chunk count, operator count, thresholds, SRS size). */
export class DAConfigError extends DAError {}
/** The DA service could not serve a request (no blob behind a commitment, HTTP failure). */
export class DAServiceError extends DAError {}
