// From payload to dispersable blob and back: the encoded payload's 32-byte words become the blob's
// coefficients, directly or (EigenDA's default, evaluation form) by an inverse FFT; the blob is
// Reed–Solomon extended and cut into chunks, each with its opening proof.

import type { VersionedBlobParams } from "./blob-params.js";
import type { mcl } from "./bn254.js";
import { encodePayload } from "./codec.js";
import { fieldElementsToBytes } from "./field.js";
import { fk20CommitmentAndProofs } from "./fk20.js";
import { type BlobCommitment, commitLength, requireCommitmentSrs } from "./kzg-bn254.js";
import { blobToPayload, DEFAULT_PAYLOAD_FORM, encodedPayloadToBlob, type PolynomialForm } from "./polynomial-form.js";
import { type Chunk, type EncodingLayout, encodeChunks, reconstructBlob } from "./reed-solomon.js";
import type { Srs } from "./srs.js";

export interface EncodedBlob {
  /** The blob's bytes: its coefficients, 32 bytes each (what is dispersed). */
  blob: Uint8Array;
  /** The encoded payload the blob was made from (equal to `blob` in coefficient form). */
  encodedPayload: Uint8Array;
  /** How the encoded payload became the blob. */
  form: PolynomialForm;
  coefficients: bigint[];
  commitment: BlobCommitment;
  layout: EncodingLayout;
  chunks: Chunk[];
  proofs: mcl.G1[];
}

export interface BlobEncodingTimings {
  codecMs: number;
  nttMs: number;
  commitmentMs: number;
  proofsMs: number;
}

/** Encodes, commits, extends and proves a payload: what a disperser does before sending chunks. */
export function encodeBlob(srs: Srs, payload: Uint8Array, params: VersionedBlobParams, timings?: BlobEncodingTimings, form: PolynomialForm = DEFAULT_PAYLOAD_FORM): EncodedBlob {
  let t = performance.now();
  const lap = (key: keyof BlobEncodingTimings) => {
    const now = performance.now();
    if (timings) timings[key] += now - t;
    t = now;
  };
  const encodedPayload = encodePayload(payload);
  const coefficients = encodedPayloadToBlob(encodedPayload, form);
  const blob = form === "coefficient" ? encodedPayload : fieldElementsToBytes(coefficients);
  lap("codecMs");
  const { layout, chunks } = encodeChunks(coefficients, params);
  lap("nttMs");
  requireCommitmentSrs(srs, coefficients.length); // refused before any MSM, as commitBlob does
  // As EigenDA's encoder: amortised proofs, equal to chunkProofs; the same Toeplitz product gives the G1 commitment.
  const { commitment: g1, proofs } = fk20CommitmentAndProofs(srs, coefficients, layout);
  lap("proofsMs");
  const commitment: BlobCommitment = { commitment: g1, ...commitLength(srs, coefficients) };
  lap("commitmentMs");
  return { blob, encodedPayload, form, coefficients, commitment, layout, chunks, proofs };
}

/**
 * Rebuilds the payload from chunks (at or above the threshold). `form` is how the encoded payload
 * became the blob; coefficient form unless told, for chunks cut from the encoded payload's own
 * words (encodeChunks(bytesToFieldElements(encodePayload(p)))). Pass `encoded.form` for an EncodedBlob.
 */
export function decodeBlobFromChunks(layout: EncodingLayout, chunks: readonly Chunk[], form: PolynomialForm = "coefficient"): Uint8Array {
  return blobToPayload(reconstructBlob(layout, chunks), form);
}
