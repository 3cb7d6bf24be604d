// KZG on BN254 as EigenDA uses it ("Encoding Module", "Data Structs: BlobCommitment").
//
//   commitment        C   = [p(tau)]_1                      the blob's G1 commitment
//   lengthCommitment  C2  = [p(tau)]_2                      the same polynomial in G2
//   lengthProof       P   = [tau^(2^28 - length) p(tau)]_2  exists only if deg p < length (EigenDA's 2^28 setup)
//   chunk proof j     pi  = [q(tau)]_1, q = (p - I_j) / (x^L - h_j^L)   I_j interpolates chunk j
//
// checked by e(C, G2) = e(G1, C2), e([tau^(2^28-length)]_1, C2) = e(G1, P), and
// e(C - [I_j(tau)]_1, G2) = e(pi, [tau^L]_2 - h_j^L G2).
import { g1Generator, g2Generator, mcl, msmG1, msmG2, pairingProductIsOne } from "./bn254.js";
import { DAConfigError } from "./errors.js";
import { Fr } from "./field.js";
import { type FixedBase, fixedBaseG2, prepareFixedBase } from "./fixed-base.js";
import { type Chunk, chunkCosetShift, chunkInterpolant, type EncodingLayout } from "./reed-solomon.js";
import type { Srs } from "./srs.js";
import { verifyLengthProofAgainst2To28 } from "./srs-eigenda.js";

export interface BlobCommitment {
  commitment: mcl.G1;
  lengthCommitment: mcl.G2;
  lengthProof: mcl.G2;
  /** Blob length in field elements, a power of two. */
  length: number;
}

function requireOrder(srs: Srs, length: number): void {
  if (length > srs.order) {
    throw new DAConfigError({
      code: "da/blob-exceeds-srs",
      message: `a blob of ${length} field elements needs ${length} SRS points; this SRS has ${srs.order}`,
      hint: "use a larger SRS or a smaller payload",
      fields: { length, order: srs.order },
    });
  }
}

/** The G1 commitment alone. */
export function commitG1(srs: Srs, coefficients: readonly bigint[]): mcl.G1 {
  requireOrder(srs, coefficients.length);
  return msmG1(srs.g1, coefficients);
}

/**
 * The blob commitment a certificate carries: G1 commitment, G2 length commitment, and the length
 * proof against the 2^28 setup, from the trailing G2 points [tau^(2^28 - n + i)]_2.
 */
export function commitBlob(srs: Srs, coefficients: readonly bigint[]): BlobCommitment {
  const lengthParts = commitLength(srs, coefficients); // checks the SRS before any MSM
  return { commitment: msmG1(srs.g1, coefficients), ...lengthParts };
}

/** Refuses an SRS without the points a blob commitment of `length` field elements takes (G1, G2, trailing G2). */
export function requireCommitmentSrs(srs: Srs, length: number): void {
  requireOrder(srs, length);
  const need = (have: number, what: string, code: string) => {
    if (have < length) {
      throw new DAConfigError({
        code,
        message: `a blob of ${length} field elements needs ${length} ${what}; this SRS has ${have}`,
        hint: "load the SRS with enough G2 points and with g2.trailing.point (loadSrsPointFiles' fourth argument)",
        fields: { length, have },
      });
    }
  };
  need(srs.g2.length, "G2 powers", "da/srs-too-few-g2-points");
  need(srs.g2Trailing.length, "trailing G2 points", "da/srs-no-trailing-points");
}

/** The two G2 bases of a blob of `length` coefficients: [tau^i]_2 and the trailing [tau^(2^28 - length + i)]_2. */
function lengthBases(srs: Srs, length: number): { powers: readonly mcl.G2[]; trailing: readonly mcl.G2[] } {
  return { powers: srs.g2.slice(0, length), trailing: srs.g2Trailing.slice(srs.g2Trailing.length - length) };
}

interface LengthTables {
  powers: FixedBase;
  trailing: FixedBase;
}

const lengthTables = new WeakMap<Srs, Map<number, LengthTables>>();

/**
 * Prepares both G2 bases of blobs of `length` coefficients for fixed-base MSMs (FixedBase: about
 * 255 doublings per point, once per SRS and length, kept on mcl's heap for the process's life; each
 * length commitment and proof after it skips Pippenger's doublings and per-window bucket sums).
 * commitLength uses them once prepared; a disperser encoding many blobs of one size prepares them,
 * as EigenDA's encoder loads its SRS tables.
 */
export function prepareLengthTables(srs: Srs, length: number): void {
  requireCommitmentSrs(srs, length);
  const perSrs = lengthTables.get(srs) ?? new Map<number, LengthTables>();
  lengthTables.set(srs, perSrs);
  if (perSrs.has(length)) return;
  const { powers, trailing } = lengthBases(srs, length);
  perSrs.set(length, { powers: prepareFixedBase(powers), trailing: prepareFixedBase(trailing) });
}

/** The G2 half of a blob commitment: the length commitment and the length proof. */
export function commitLength(srs: Srs, coefficients: readonly bigint[]): Omit<BlobCommitment, "commitment"> {
  const length = coefficients.length;
  requireCommitmentSrs(srs, length);
  const tables = lengthTables.get(srs)?.get(length);
  if (tables) return { lengthCommitment: fixedBaseG2(tables.powers, coefficients), lengthProof: fixedBaseG2(tables.trailing, coefficients), length };
  const { powers, trailing } = lengthBases(srs, length);
  return { lengthCommitment: msmG2(powers, coefficients), lengthProof: msmG2(trailing, coefficients), length };
}

/**
 * Checks that C and C2 commit to one polynomial (VerifyCommitEquivalenceBatch) and that its degree
 * is below `length` (VerifyLengthProof, against the 2^28 setup with [tau^(2^28 - length)]_1).
 */
export function verifyBlobCommitment(srs: Srs, c: BlobCommitment): boolean {
  if (c.length < 1 || c.length > srs.order || (c.length & (c.length - 1)) !== 0) return false;
  const negG1 = mcl.neg(g1Generator());
  const sameBlob = pairingProductIsOne(c.commitment, g2Generator(), negG1, c.lengthCommitment);
  return sameBlob && verifyLengthProofAgainst2To28(srs.g1ReversePowerOf2, c.lengthCommitment, c.lengthProof, c.length);
}

/**
 * One multi-point opening proof per chunk (a G1 point each). Dividing p by x^L - c gives quotient
 * coefficients q[i] = sum_{t>=1} c^(t-1) p[i + tL], so every proof is a combination of the same
 * T = m/L - 1 points H_t = sum_i p[i + tL] [tau^i]_1: pi_j = sum_t (h_j^L)^(t-1) H_t. The H_t cost
 * about T/2 blob-sized MSMs once; each proof is then an MSM of T points (the Toeplitz structure
 * that amortized proving, as in Feist–Khovratovich, exploits further).
 */
export function chunkProofs(srs: Srs, coefficients: readonly bigint[], layout: EncodingLayout, onProgress?: (done: number, total: number) => void): mcl.G1[] {
  requireOrder(srs, coefficients.length);
  const L = layout.chunkLength;
  const shifted: mcl.G1[] = [];
  for (let t = 1; t * L < coefficients.length; t++) shifted.push(msmG1(srs.g1, coefficients.slice(t * L)));
  const out: mcl.G1[] = [];
  for (let j = 0; j < layout.numChunks; j++) {
    const c = Fr.pow(chunkCosetShift(layout, j), BigInt(L));
    const powers: bigint[] = [];
    for (let t = 0, v = 1n; t < shifted.length; t++, v = Fr.mul(v, c)) powers.push(v);
    out.push(msmG1(shifted, powers));
    onProgress?.(j + 1, layout.numChunks);
  }
  return out;
}

/** Checks one chunk against the blob's G1 commitment by a pairing equation. */
export function verifyChunk(srs: Srs, commitment: mcl.G1, layout: EncodingLayout, chunk: Chunk, proof: mcl.G1): boolean {
  if (chunk.evaluations.length !== layout.chunkLength || layout.chunkLength >= srs.order || layout.chunkLength >= srs.g2.length) return false;
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
