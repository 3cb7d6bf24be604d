// Reed–Solomon over BN254's Fr (EigenDA "Encoding Module"). The blob's field elements are the
// coefficients of a polynomial p of degree < blobLength; p is evaluated on the n-th roots of unity,
// n = numChunks * chunkLength (coding rate 8: n = 8 * blobLength), and chunk j holds p on the coset
// w^j * <w^numChunks>: chunkLength points. Any chunks holding blobLength points or more determine p.

import { chunkLength, type VersionedBlobParams } from "./blob-params.js";
import { DAEncodingError, DAThresholdError } from "./errors.js";
import { FR_MULTIPLICATIVE_GENERATOR, Fr, rootOfUnity } from "./field.js";
import { cosetIntt, cosetNtt, extendedNtt, intt, ntt } from "./ntt.js";

/** The shape of one blob's encoding: which domain, which cosets. */
export interface EncodingLayout {
  blobLength: number;
  chunkLength: number;
  numChunks: number;
  /** Size of the evaluation domain: numChunks * chunkLength. */
  domainSize: number;
}

export interface Chunk {
  index: number;
  /** p at coset(index) * w_L^t, t = 0..chunkLength-1. */
  evaluations: bigint[];
}

export function encodingLayout(blobLength: number, params: VersionedBlobParams): EncodingLayout {
  const len = chunkLength(blobLength, params);
  return { blobLength, chunkLength: len, numChunks: params.numChunks, domainSize: len * params.numChunks };
}

/** The coset shift of chunk j: w_n^j. */
export function chunkCosetShift(layout: EncodingLayout, index: number): bigint {
  return Fr.pow(rootOfUnity(layout.domainSize), BigInt(index));
}

/** The evaluation points of chunk j, in the order its evaluations are stored. */
export function chunkPoints(layout: EncodingLayout, index: number): bigint[] {
  const h = chunkCosetShift(layout, index);
  const wL = rootOfUnity(layout.chunkLength);
  const out: bigint[] = [h];
  for (let t = 1; t < layout.chunkLength; t++) out.push(Fr.mul(out[t - 1]!, wL));
  return out;
}

/** Extends the blob polynomial to the whole domain and cuts it into numChunks chunks. */
export function encodeChunks(coefficients: readonly bigint[], params: VersionedBlobParams): { layout: EncodingLayout; chunks: Chunk[] } {
  const layout = encodingLayout(coefficients.length, params);
  const evaluations = extendedNtt(coefficients, layout.domainSize); // [domainSize]
  const chunks: Chunk[] = [];
  for (let j = 0; j < layout.numChunks; j++) {
    const e = new Array<bigint>(layout.chunkLength);
    for (let t = 0; t < layout.chunkLength; t++) e[t] = evaluations[j + t * layout.numChunks]!;
    chunks.push({ index: j, evaluations: e });
  }
  return { layout, chunks };
}

/** The interpolating polynomial of one chunk (degree < chunkLength), in coefficient form. */
export function chunkInterpolant(layout: EncodingLayout, chunk: Chunk): bigint[] {
  return cosetIntt(chunk.evaluations, chunkCosetShift(layout, chunk.index));
}

/** Fewest chunks that always rebuild a blob of this layout. */
export function chunksNeeded(layout: EncodingLayout): number {
  return Math.ceil(layout.blobLength / layout.chunkLength);
}

/**
 * Rebuilds the blob's coefficients from any chunks holding at least blobLength points, by erasure
 * decoding with the vanishing polynomial of the missing cosets: Z(x) = prod_missing (x^L - h_j^L)
 * is zero where data is missing, so (E*Z) on the domain equals (p*Z); p = (p*Z) / Z on a coset.
 */
export function reconstructBlob(layout: EncodingLayout, chunks: readonly Chunk[]): bigint[] {
  const present = new Map<number, Chunk>();
  for (const c of chunks) {
    if (c.index < 0 || c.index >= layout.numChunks || c.evaluations.length !== layout.chunkLength) {
      throw new DAEncodingError({
        code: "da/bad-chunk",
        message: `chunk ${c.index} with ${c.evaluations.length} evaluations does not fit the layout`,
        hint: `chunks are indexed 0..${layout.numChunks - 1} and hold ${layout.chunkLength} evaluations`,
        fields: { index: c.index, length: c.evaluations.length },
      });
    }
    present.set(c.index, c);
  }
  const needed = chunksNeeded(layout);
  if (present.size < needed) {
    throw new DAThresholdError({
      code: "da/too-few-chunks",
      message: `${present.size} distinct chunks hold ${present.size * layout.chunkLength} points; the blob has ${layout.blobLength} coefficients`,
      hint: `collect at least ${needed} of the ${layout.numChunks} chunks (operators holding the reconstruction threshold of stake)`,
      fields: { have: present.size, needed, numChunks: layout.numChunks },
    });
  }
  const n = layout.domainSize;
  const known = new Array<bigint>(n).fill(0n);
  for (const c of present.values()) for (let t = 0; t < layout.chunkLength; t++) known[c.index + t * layout.numChunks] = c.evaluations[t]!;
  if (present.size === layout.numChunks) return trimTo(layout, intt(known));

  // Z(x) = P(x^L) with P(y) = prod over missing chunks of (y - h_j^L).
  let vanishingInY: bigint[] = [1n];
  for (let j = 0; j < layout.numChunks; j++) {
    if (present.has(j)) continue;
    const root = Fr.pow(chunkCosetShift(layout, j), BigInt(layout.chunkLength));
    const next = new Array<bigint>(vanishingInY.length + 1).fill(0n);
    for (let k = 0; k < vanishingInY.length; k++) {
      next[k + 1] = Fr.add(next[k + 1]!, vanishingInY[k]!);
      next[k] = Fr.sub(next[k]!, Fr.mul(root, vanishingInY[k]!));
    }
    vanishingInY = next;
  }
  const vanishing = new Array<bigint>(n).fill(0n);
  for (let k = 0; k < vanishingInY.length; k++) vanishing[k * layout.chunkLength] = vanishingInY[k]!;

  const zEvals = ntt(vanishing);
  const productCoeffs = intt(known.map((e, i) => Fr.mul(e, zEvals[i]!))); // coefficients of p*Z
  const shift = FR_MULTIPLICATIVE_GENERATOR;
  const productOnCoset = cosetNtt(productCoeffs, shift);
  const zOnCoset = Fr.invertBatch(cosetNtt(vanishing, shift));
  return trimTo(
    layout,
    cosetIntt(
      productOnCoset.map((v, i) => Fr.mul(v, zOnCoset[i]!)),
      shift,
    ),
  );
}

/** Keeps blobLength coefficients; the rest must be zero, or the chunks were not from one blob. */
function trimTo(layout: EncodingLayout, coefficients: bigint[]): bigint[] {
  for (let i = layout.blobLength; i < coefficients.length; i++) {
    if (coefficients[i] !== 0n) {
      throw new DAEncodingError({
        code: "da/chunks-inconsistent",
        message: `the chunks interpolate to a polynomial of degree >= ${i}, above the blob length ${layout.blobLength}`,
        hint: "a chunk was altered; verify each chunk's proof before reconstructing",
        fields: { degree: i, blobLength: layout.blobLength },
      });
    }
  }
  return coefficients.slice(0, layout.blobLength);
}
