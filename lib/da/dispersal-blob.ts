// From payload to dispersable blob and back: the encoded payload's 32-byte words are the blob's
// field elements, taken as polynomial coefficients (EigenDA's convention; EIP-4844 takes them as
// evaluations), Reed–Solomon extended and cut into chunks, each with its opening proof.

import type { VersionedBlobParams } from "./blob-params.js";
import type { mcl } from "./bn254.js";
import { decodePayload, encodePayload } from "./codec.js";
import { bytesToFieldElements, fieldElementsToBytes } from "./field.js";
import { type BlobCommitment, chunkProofs, commitBlob } from "./kzg-bn254.js";
import { type Chunk, type EncodingLayout, encodeChunks, reconstructBlob } from "./reed-solomon.js";
import type { Srs } from "./srs.js";

export interface EncodedBlob {
  /** The encoded payload: the blob's bytes, 32 per field element. */
  blob: Uint8Array;
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
export function encodeBlob(srs: Srs, payload: Uint8Array, params: VersionedBlobParams, timings?: BlobEncodingTimings): EncodedBlob {
  let t = performance.now();
  const lap = (key: keyof BlobEncodingTimings) => {
    const now = performance.now();
    if (timings) timings[key] += now - t;
    t = now;
  };
  const blob = encodePayload(payload);
  const coefficients = bytesToFieldElements(blob);
  lap("codecMs");
  const { layout, chunks } = encodeChunks(coefficients, params);
  lap("nttMs");
  const commitment = commitBlob(srs, coefficients);
  lap("commitmentMs");
  const proofs = chunkProofs(srs, coefficients, layout);
  lap("proofsMs");
  return { blob, coefficients, commitment, layout, chunks, proofs };
}

/** Rebuilds the payload from chunks (at or above the threshold). */
export function decodeBlobFromChunks(layout: EncodingLayout, chunks: readonly Chunk[]): Uint8Array {
  return decodePayload(fieldElementsToBytes(reconstructBlob(layout, chunks)));
}
