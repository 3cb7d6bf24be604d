// FK20 amortised multi-proofs against the per-chunk proofs, point for point (EigenDA's prover
// tests compare its FK20 proofs with directly computed ones the same way).
import { expect } from "chai";
import { LAB_BLOB_PARAMS, type VersionedBlobParams } from "../../../lib/da/blob-params.js";
import { g1ToAffine, initBn254, mcl } from "../../../lib/da/bn254.js";
import { rootOfUnity } from "../../../lib/da/field.js";
import { extendedG1Fft, fk20ChunkProofs, fk20CommitmentAndProofs, g1Fft } from "../../../lib/da/fk20.js";
import { chunkProofs, commitG1, verifyChunk } from "../../../lib/da/kzg-bn254.js";
import { payloadToBlob } from "../../../lib/da/polynomial-form.js";
import { encodeChunks } from "../../../lib/da/reed-solomon.js";
import { insecureSrs } from "../../../lib/da/srs.js";
import { rng } from "../../../lib/random.js";

const payload = (n: number) => {
  const r = rng(n);
  return Uint8Array.from({ length: n }, () => r.int(256));
};

describe("FK20 amortised chunk proofs", function () {
  this.timeout(300_000);
  before(() => initBn254());

  it("a zero-extended G1 FFT equals the FFT of the zero-padded points", async () => {
    const srs = await insecureSrs(9, 256);
    for (const [n, domainSize] of [
      [1, 4],
      [4, 4],
      [4, 32],
      [8, 64],
    ] as const) {
      const points = srs.g1.slice(1, 1 + n);
      const padded = points.concat(Array.from({ length: domainSize - n }, () => new mcl.G1()));
      const root = rootOfUnity(domainSize);
      expect(extendedG1Fft(points, domainSize, root).map(g1ToAffine), `${n} -> ${domainSize}`).to.deep.equal(g1Fft(padded, root).map(g1ToAffine));
    }
  });

  const cases: [string, number, VersionedBlobParams][] = [
    ["lab params, chunk length 8", 1500, LAB_BLOB_PARAMS],
    ["lab params, chunk length 1", 100, LAB_BLOB_PARAMS],
    ["256 chunks at coding rate 8 (mainnet's shape, smaller)", 3000, { maxNumOperators: 16, numChunks: 256, codingRate: 8 }],
    ["lab params, chunk length 128 (each position's MSM on a fixed-base table)", 20_000, LAB_BLOB_PARAMS],
  ];
  for (const [name, bytes, params] of cases) {
    it(`equals the per-chunk proofs: ${name}`, async () => {
      const coefficients = payloadToBlob(payload(bytes));
      const srs = await insecureSrs(9, Math.max(256, coefficients.length));
      const { layout, chunks } = encodeChunks(coefficients, params);
      const direct = chunkProofs(srs, coefficients, layout);
      const amortised = fk20ChunkProofs(srs, coefficients, layout);
      expect(amortised.length).to.equal(layout.numChunks);
      for (let j = 0; j < layout.numChunks; j++) expect(amortised[j]!.isEqual(direct[j]!), `chunk ${j}`).to.equal(true);
      const commitment = commitG1(srs, coefficients);
      // The same Toeplitz product's H_0 is the G1 commitment (what encodeBlob takes).
      const both = fk20CommitmentAndProofs(srs, coefficients, layout);
      expect(g1ToAffine(both.commitment)).to.deep.equal(g1ToAffine(commitment));
      for (let j = 0; j < layout.numChunks; j++) expect(both.proofs[j]!.isEqual(amortised[j]!), `chunk ${j}`).to.equal(true);
      for (const j of [0, 1, layout.numChunks - 1]) expect(verifyChunk(srs, commitment, layout, chunks[j]!, amortised[j]!)).to.equal(true);
      // A changed coefficient changes the proofs.
      const other = fk20ChunkProofs(
        srs,
        coefficients.map((c, i) => (i === coefficients.length - 1 ? c + 1n : c)),
        layout,
      );
      expect(g1ToAffine(other[0]!)).to.not.deep.equal(g1ToAffine(amortised[0]!));
    });
  }
});
