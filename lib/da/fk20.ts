// Amortised chunk proofs (Feist–Khovratovich, "Fast amortized KZG proofs", the multi-reveal form
// EigenDA's encoder uses in encoding/v2/kzg/prover). With L the chunk length, T = m / L rows of
// the blob's m coefficients and z_j = h_j^L = w_c^j (w_c a primitive numChunks-th root of unity):
//
//   pi_j = sum_{t=1}^{T-1} z_j^(t-1) H_t        H_t = sum_i p[i + tL] [tau^i]_1
//
// H_0 = sum_i p[i] [tau^i]_1 is the blob's G1 commitment: the same product yields it, so encoding
// takes the commitment from here instead of a separate blob-sized MSM.
//
// so all numChunks proofs are one G1 FFT of (H_1, ..., H_{T-1}). The H_t are a Toeplitz product:
// for each offset s < L, H_t gathers a_s[k + t] * [tau^(kL + s)]_1 with a_s[u] = p[uL + s], a
// correlation computed with FFTs of size 2T. The G1 FFTs of the SRS side (one per s) depend on the
// SRS and the shape only, and are cached, as EigenDA precomputes its "SRS tables".
import { frFromBigint, mcl } from "./bn254.js";
import { DAConfigError } from "./errors.js";
import { Fr, rootOfUnity } from "./field.js";
import { type FixedBase, fixedBaseG1, prepareFixedBase } from "./fixed-base.js";
import { bitReverse, extendedNtt } from "./ntt.js";
import type { EncodingLayout } from "./reed-solomon.js";
import type { Srs } from "./srs.js";

/** A radix-2 FFT over G1 with scalar root `root` (natural order in and out). */
export function g1Fft(points: readonly mcl.G1[], root: bigint): mcl.G1[] {
  return extendedG1Fft(points, points.length, root);
}

/**
 * g1Fft of `points` zero-extended to `domainSize` points (both powers of two). As in extendedNtt,
 * the first log2(domainSize / points.length) stages only copy each point over its block and are
 * done as that copy (the blocks share the point: the stages build new points, never change one).
 */
export function extendedG1Fft(points: readonly mcl.G1[], domainSize: number, root: bigint): mcl.G1[] {
  const spread = domainSize / points.length;
  const reversed = points.slice();
  bitReverse(reversed);
  const a = new Array<mcl.G1>(domainSize);
  for (let k = 0; k < reversed.length; k++) a.fill(reversed[k]!, k * spread, (k + 1) * spread);
  for (let len = 2 * spread; len <= domainSize; len <<= 1) {
    const half = len >> 1;
    const step = Fr.pow(root, BigInt(domainSize / len));
    const twiddles: mcl.Fr[] = [];
    for (let k = 0, w = 1n; k < half; k++, w = Fr.mul(w, step)) twiddles.push(frFromBigint(w));
    for (let start = 0; start < domainSize; start += len) {
      for (let k = 0; k < half; k++) {
        const u = a[start + k]!;
        const v = k === 0 ? a[start + half]! : mcl.mul(a[start + k + half]!, twiddles[k]!);
        a[start + k] = mcl.add(u, v);
        a[start + k + half] = mcl.sub(u, v);
      }
    }
  }
  return a;
}

interface SrsTable {
  /** G1 FFT (size 2T) of [tau^(kL + s)]_1, k < T, zero-padded; one per s < L. */
  bySOffset: mcl.G1[][];
  /**
   * Per position of the size-2T FFT, its L points across s prepared as a fixed basis (from
   * FIXED_BASE_FROM points per MSM; below that mcl's mulVec is as fast).
   */
  byPosition?: FixedBase[];
}

/** Points per position MSM (the chunk length) from which FK20 keeps fixed-base tables. */
const FIXED_BASE_FROM = 64;

const tables = new WeakMap<Srs, Map<string, SrsTable>>();

/** The SRS side of the Toeplitz products for blobs of m coefficients in chunks of L: computed once per SRS and shape. */
export function fk20SrsTable(srs: Srs, m: number, chunkLength: number): SrsTable {
  const key = `${m}:${chunkLength}`;
  const perSrs = tables.get(srs) ?? new Map<string, SrsTable>();
  tables.set(srs, perSrs);
  const hit = perSrs.get(key);
  if (hit) return hit;
  const rows = m / chunkLength;
  const root = rootOfUnity(2 * rows);
  const bySOffset: mcl.G1[][] = [];
  for (let s = 0; s < chunkLength; s++) {
    const b = Array.from({ length: rows }, (_, k) => srs.g1[k * chunkLength + s]!);
    bySOffset.push(extendedG1Fft(b, 2 * rows, root));
  }
  const byPosition = chunkLength >= FIXED_BASE_FROM ? Array.from({ length: 2 * rows }, (_, pos) => prepareFixedBase(bySOffset.map((b) => b[pos]!))) : undefined;
  const table = { bySOffset, byPosition };
  perSrs.set(key, table);
  return table;
}

/** Every chunk's opening proof at once; equal, point for point, to chunkProofs. */
export function fk20ChunkProofs(srs: Srs, coefficients: readonly bigint[], layout: EncodingLayout): mcl.G1[] {
  return fk20CommitmentAndProofs(srs, coefficients, layout).proofs;
}

export interface Fk20Output {
  /** The blob's G1 commitment, equal to commitG1 (H_0 of the same Toeplitz product). */
  commitment: mcl.G1;
  /** One opening proof per chunk, equal to chunkProofs. */
  proofs: mcl.G1[];
}

/** The G1 commitment and every chunk's proof from one Toeplitz product. */
export function fk20CommitmentAndProofs(srs: Srs, coefficients: readonly bigint[], layout: EncodingLayout): Fk20Output {
  const m = coefficients.length;
  const L = layout.chunkLength;
  if (m > srs.order || m % L !== 0) {
    throw new DAConfigError({
      code: "da/fk20-bad-shape",
      message: `a blob of ${m} coefficients in chunks of ${L} with an SRS of ${srs.order}`,
      hint: "blob length and chunk length are powers of two, the blob within the SRS",
      fields: { m, chunkLength: L, order: srs.order },
    });
  }
  const rows = m / L;
  const table = fk20SrsTable(srs, m, L);
  // Scalar side: FFT (size 2T) of each a_s reversed, zero-padded.
  const scalarFfts: bigint[][] = [];
  for (let s = 0; s < L; s++) {
    const reversed = Array.from({ length: rows }, (_, u) => coefficients[(rows - 1 - u) * L + s]!);
    scalarFfts.push(extendedNtt(reversed, 2 * rows));
  }
  // Pointwise products summed over s, then one inverse G1 FFT: the correlations c[T-1-t] = H_t.
  const products: mcl.G1[] = [];
  for (let pos = 0; pos < 2 * rows; pos++) {
    const prepared = table.byPosition?.[pos];
    if (prepared) {
      products.push(
        fixedBaseG1(
          prepared,
          scalarFfts.map((a) => a[pos]!),
        ),
      );
    } else {
      const points = table.bySOffset.map((b) => b[pos]!);
      products.push(
        mcl.mulVec(
          points,
          scalarFfts.map((a) => frFromBigint(a[pos]!)),
        ),
      );
    }
  }
  const inverse = g1Fft(products, Fr.inv(rootOfUnity(2 * rows)));
  const scale = frFromBigint(Fr.inv(BigInt(2 * rows)));
  // (H_1, ..., H_{T-1}, 0), zero-extended to the numChunks proofs.
  const h: mcl.G1[] = new Array(rows);
  for (let t = 1; t < rows; t++) h[t - 1] = mcl.mul(inverse[rows - 1 - t]!, scale);
  h[rows - 1] = new mcl.G1();
  return { commitment: mcl.mul(inverse[rows - 1]!, scale), proofs: extendedG1Fft(h, layout.numChunks, rootOfUnity(layout.numChunks)) };
}
