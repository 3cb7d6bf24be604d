// KZG on BN254 as EigenDA uses it ("Encoding Module", "Data Structs: BlobCommitment").
//
//   commitment        C   = [p(tau)]_1                      the blob's G1 commitment
//   lengthCommitment  C2  = [p(tau)]_2                      the same polynomial in G2
//   lengthProof       P   = [tau^(order - length) p(tau)]_2  exists only if deg p < length
//   chunk proof j     pi  = [q(tau)]_1, q = (p - I_j) / (x^L - h_j^L)   I_j interpolates chunk j
//
// checked by e(C, G2) = e(G1, C2), e([tau^(order-length)]_1, C2) = e(G1, P), and
// e(C - [I_j(tau)]_1, G2) = e(pi, [tau^L]_2 - h_j^L G2).
import { g1Generator, g2Generator, mcl, msmG1, msmG2, pairingProductIsOne } from "./bn254.js";
import { DAConfigError } from "./errors.js";
import { Fr } from "./field.js";
import { chunkCosetShift, chunkInterpolant, type Chunk, type EncodingLayout } from "./reed-solomon.js";
import type { Srs } from "./srs.js";

export interface BlobCommitment {
  commitment: mcl.G1;
  lengthCommitment: mcl.G2;
  lengthProof: mcl.G2;
  /** Blob length in field elements, a power of two. */
  length: number;
}

function requireOrder(srs: Srs, length: number): void {
  if (length > srs.order) {
    throw new DAConfigError({ code: "da/blob-exceeds-srs", message: `a blob of ${length} field elements needs ${length} SRS points; this SRS has ${srs.order}`, hint: "use a larger SRS or a smaller payload", fields: { length, order: srs.order } });
  }
}

/** The G1 commitment alone. */
export function commitG1(srs: Srs, coefficients: readonly bigint[]): mcl.G1 {
  requireOrder(srs, coefficients.length);
  return msmG1(srs.g1, coefficients);
}

/** The blob commitment a certificate carries: G1 commitment, G2 length commitment and length proof. */
export function commitBlob(srs: Srs, coefficients: readonly bigint[]): BlobCommitment {
  const length = coefficients.length;
  requireOrder(srs, length);
  return {
    commitment: msmG1(srs.g1, coefficients),
    lengthCommitment: msmG2(srs.g2, coefficients),
    lengthProof: msmG2(srs.g2.slice(srs.order - length), coefficients),
    length,
  };
}

/** Checks that C and C2 commit to one polynomial and that its degree is below `length`. */
export function verifyBlobCommitment(srs: Srs, c: BlobCommitment): boolean {
  if (c.length < 1 || c.length > srs.order || (c.length & (c.length - 1)) !== 0) return false;
  const negG1 = mcl.neg(g1Generator());
  const sameBlob = pairingProductIsOne(c.commitment, g2Generator(), negG1, c.lengthCommitment);
  const lengthBound = pairingProductIsOne(srs.g1[srs.order - c.length]!, c.lengthCommitment, negG1, c.lengthProof);
  return sameBlob && lengthBound;
}

/** Divides p by x^L - c: returns the quotient; the remainder is p's interpolant on the coset. */
function divideByCosetVanishing(coefficients: readonly bigint[], chunkLength: number, c: bigint): bigint[] {
  const t = coefficients.slice();
  const m = t.length;
  if (m <= chunkLength) return [];
  const q = new Array<bigint>(m - chunkLength).fill(0n);
  for (let k = m - 1; k >= chunkLength; k--) {
    q[k - chunkLength] = t[k]!;
    t[k - chunkLength] = Fr.add(t[k - chunkLength]!, Fr.mul(c, t[k]!));
  }
  return q;
}

/** One multi-point opening proof per chunk (a G1 point each). */
export function chunkProofs(srs: Srs, coefficients: readonly bigint[], layout: EncodingLayout, onProgress?: (done: number, total: number) => void): mcl.G1[] {
  requireOrder(srs, coefficients.length);
  const out: mcl.G1[] = [];
  for (let j = 0; j < layout.numChunks; j++) {
    const c = Fr.pow(chunkCosetShift(layout, j), BigInt(layout.chunkLength));
    out.push(msmG1(srs.g1, divideByCosetVanishing(coefficients, layout.chunkLength, c)));
    onProgress?.(j + 1, layout.numChunks);
  }
  return out;
}

/** Checks one chunk against the blob's G1 commitment by a pairing equation. */
export function verifyChunk(srs: Srs, commitment: mcl.G1, layout: EncodingLayout, chunk: Chunk, proof: mcl.G1): boolean {
  if (chunk.evaluations.length !== layout.chunkLength || layout.chunkLength >= srs.order) return false;
  const interpolant = chunkInterpolant(layout, chunk);
  const hL = Fr.pow(chunkCosetShift(layout, chunk.index), BigInt(layout.chunkLength));
  const lhs = mcl.sub(commitment, msmG1(srs.g1, interpolant));
  const g2 = g2Generator();
  const rhs = mcl.sub(srs.g2[layout.chunkLength]!, mcl.mul(g2, frOf(hL)));
  return pairingProductIsOne(lhs, g2, mcl.neg(proof), rhs);
}

function frOf(v: bigint): mcl.Fr {
  const f = new mcl.Fr();
  f.setStr(v.toString(16), 16);
  return f;
}
