// Retrieval (EigenDA "read workflow", secure retrieval): ask operators for their chunks, keep
// only chunks whose opening proof verifies against the certificate's commitment, rebuild the blob
// once enough distinct chunks arrived, and check the rebuilt blob commits to the same point.

import type { VersionedBlobParams } from "./blob-params.js";
import { g1ToAffine } from "./bn254.js";
import { blobKey, type EigenDACertV3 } from "./certificate.js";
import { DAVerificationError } from "./errors.js";
import { commitG1, verifyChunk } from "./kzg-bn254.js";
import type { Operator } from "./operators.js";
import { blobToPayload, DEFAULT_PAYLOAD_FORM, type PolynomialForm } from "./polynomial-form.js";
import { type Chunk, encodingLayout, reconstructBlob } from "./reed-solomon.js";
import type { Srs } from "./srs.js";

export interface RetrievalReport {
  payload: Uint8Array;
  chunksReceived: number;
  chunksRejected: number;
  operatorsAnswered: number;
}

/** Rebuilds the blob from verified chunks and decodes the payload; `form` is how the disperser made the blob. */
export function retrievePayload(srs: Srs, cert: EigenDACertV3, operators: readonly Operator[], params: VersionedBlobParams, form: PolynomialForm = DEFAULT_PAYLOAD_FORM): RetrievalReport {
  const header = cert.blobInclusionInfo.blobCertificate.blobHeader;
  const key = blobKey(header);
  const layout = encodingLayout(header.commitment.length, params);
  const chunks = new Map<number, Chunk>();
  let received = 0;
  let rejected = 0;
  let answered = 0;
  for (const op of operators) {
    const served = op.serve(key);
    if (served.length > 0) answered++;
    for (const s of served) {
      received++;
      if (chunks.has(s.chunk.index)) continue;
      if (!verifyChunk(srs, header.commitment.commitment, layout, s.chunk, s.proof)) {
        rejected++;
        continue;
      }
      chunks.set(s.chunk.index, s.chunk);
    }
  }
  const coefficients = reconstructBlob(layout, [...chunks.values()]);
  const rebuilt = g1ToAffine(commitG1(srs, coefficients));
  const certified = g1ToAffine(header.commitment.commitment);
  if (rebuilt.x !== certified.x || rebuilt.y !== certified.y) {
    throw new DAVerificationError({
      code: "da/commitment-mismatch",
      message: "the rebuilt blob does not commit to the certificate's KZG commitment",
      hint: "the operators served another blob; retrieve again from other operators",
      fields: { blobKey: key },
    });
  }
  return { payload: blobToPayload(coefficients, form), chunksReceived: received, chunksRejected: rejected, operatorsAnswered: answered };
}
