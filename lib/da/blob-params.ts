// Blob parameters and security thresholds (EigenDA "Security Parameters"): a blob version fixes
// (MaxNumOperators n, NumChunks c, CodingRate 1/gamma); a certificate verifier fixes the
// confirmation and adversary (safety) thresholds in percent. The safety inequality
//
//   ConfirmationThreshold - SafetyThreshold >= ReconstructionThreshold = c / (c - n) * gamma
//
// is checked in integers exactly as EigenDACertVerificationLib.checkSecurityParams does.

import { isPowerOfTwo } from "./codec.js";
import { DAConfigError } from "./errors.js";

export interface VersionedBlobParams {
  maxNumOperators: number;
  numChunks: number;
  codingRate: number;
}

export interface SecurityThresholds {
  /** Percent of a quorum's stake that must sign for the quorum to confirm a blob. */
  confirmationThreshold: number;
  /** Percent of stake an adversary may hold that signs but never serves its chunks. */
  adversaryThreshold: number;
}

/** Mainnet blob version 0: 3537 operators at most, 8192 chunks, coding rate 8. */
export const MAINNET_BLOB_PARAMS: VersionedBlobParams = { maxNumOperators: 3537, numChunks: 8192, codingRate: 8 };
/** The lab's blob version 0: few enough chunks that every chunk proof is computed in a notebook. */
export const LAB_BLOB_PARAMS: VersionedBlobParams = { maxNumOperators: 16, numChunks: 64, codingRate: 8 };
/** The default certificate verifier's thresholds. */
export const DEFAULT_SECURITY_THRESHOLDS: SecurityThresholds = { confirmationThreshold: 55, adversaryThreshold: 33 };

/**
 * Chunk length in field elements: blobLength * codingRate / numChunks, at least 1 (GetChunkLength
 * in EigenDA's core/v2). The blob length must be a power of two.
 */
export function chunkLength(blobLength: number, params: VersionedBlobParams): number {
  if (!isPowerOfTwo(blobLength)) {
    throw new DAConfigError({
      code: "da/blob-length-not-power-of-two",
      message: `blob length ${blobLength} is not a power of two`,
      hint: "encode the payload with encodePayload",
      fields: { blobLength },
    });
  }
  checkBlobParams(params);
  return Math.max(1, (blobLength * params.codingRate) / params.numChunks);
}

export function checkBlobParams(params: VersionedBlobParams): void {
  const { numChunks, codingRate, maxNumOperators } = params;
  if (!isPowerOfTwo(numChunks) || !isPowerOfTwo(codingRate) || maxNumOperators < 1) {
    throw new DAConfigError({
      code: "da/bad-blob-params",
      message: `blob params (operators ${maxNumOperators}, chunks ${numChunks}, coding rate ${codingRate}) are invalid`,
      hint: "numChunks and codingRate are powers of two, maxNumOperators at least 1",
      fields: { ...params },
    });
  }
}

/** The fraction of stake whose chunks always suffice to rebuild a blob: c / (c - n) / codingRate. */
export function reconstructionThreshold(params: VersionedBlobParams): number {
  if (params.maxNumOperators >= params.numChunks) return Infinity;
  return params.numChunks / (params.numChunks - params.maxNumOperators) / params.codingRate;
}

export interface SafetyCheck {
  holds: boolean;
  /** codingRate * (c - n) * (confirmation - adversary) */
  lhs: number;
  /** 100 * c */
  rhs: number;
  reconstructionThreshold: number;
  /** Largest stake share (in percent) an adversary may hold that does not sign: 100 - confirmation. */
  livenessThreshold: number;
}

/** The safety inequality in the integer form the verifier contract uses. */
export function safetyCheck(params: VersionedBlobParams, t: SecurityThresholds): SafetyCheck {
  const base = { rhs: 100 * params.numChunks, reconstructionThreshold: reconstructionThreshold(params), livenessThreshold: 100 - t.confirmationThreshold };
  if (params.maxNumOperators > params.numChunks || t.confirmationThreshold < t.adversaryThreshold) return { holds: false, lhs: 0, ...base };
  const lhs = params.codingRate * (params.numChunks - params.maxNumOperators) * (t.confirmationThreshold - t.adversaryThreshold);
  return { holds: lhs >= base.rhs, lhs, ...base };
}

/** Refuses parameters under which a confirmed blob could be unavailable. */
export function assertSecurityAssumptions(params: VersionedBlobParams, t: SecurityThresholds): SafetyCheck {
  const check = safetyCheck(params, t);
  if (!check.holds) {
    throw new DAConfigError({
      code: "da/security-assumptions-not-met",
      message: `codingRate*(c-n)*(confirmation-adversary) = ${check.lhs} < 100*c = ${check.rhs}: a blob confirmed at ${t.confirmationThreshold}% could be unavailable with ${t.adversaryThreshold}% adversarial stake`,
      hint: "raise numChunks or the confirmation threshold, or lower maxNumOperators or the adversary threshold",
      fields: { ...params, ...t, lhs: check.lhs, rhs: check.rhs },
    });
  }
  return check;
}
