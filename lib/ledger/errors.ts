// Typed errors of the ledger layer. Every error says what is wrong and how to fix it.
// Derivation never lets these escape: it catches them and drops the offending
// transaction, frame, channel or batch as the OP Stack derivation spec says.

import { LabError } from "../errors.js";

/** Base error of the ledger layer: `message` says what is wrong, `hint` says the fix. */
export class LedgerError extends LabError {}

/** Bytes that do not follow a byte layout of the spec (frame, batch, span batch, blob). */
export class DecodeError extends LedgerError {}
/** Input that is well-formed but breaks a protocol limit (sizes, counts). */
export class LimitError extends LedgerError {}
/** A blob that cannot hold the data, or holds an invalid encoding. */
export class BlobEncodingError extends LedgerError {}
/** Misuse of an API (wrong configuration, missing chain). */
export class ConfigError extends LedgerError {}
