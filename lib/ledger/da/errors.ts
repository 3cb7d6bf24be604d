// Typed errors of the data-availability layer. Codes are "da/what"; fields carry the numbers the
// check compared, so callers and tests branch on code and fields.
import { LedgerError } from "../errors.js";

/** Base error of the EigenDA-style data-availability layer. */
export class DAError extends LedgerError {}
/** Bytes that break a byte layout: the encoded payload, a certificate, an alt-DA commitment, an SRS file. */
export class DAEncodingError extends DAError {}
/** Cryptography that does not check out: a chunk proof, a length proof, a signature. */
export class DAVerificationError extends DAError {}
/** Too little of something to proceed: chunks below the reconstruction threshold, stake below the confirmation threshold. */
export class DAThresholdError extends DAError {}
/** Parameters that cannot be used together (coding rate, chunk count, operator count, thresholds, SRS size). */
export class DAConfigError extends DAError {}
/** The DA service could not serve a request (no blob behind a commitment, HTTP failure). */
export class DAServiceError extends DAError {}
