import { expect } from "chai";
import { chunkLength, LAB_BLOB_PARAMS, MAINNET_BLOB_PARAMS, reconstructionThreshold, safetyCheck } from "../../../lib/da/blob-params.js";
import { DAEncodingError, DAThresholdError } from "../../../lib/da/errors.js";
import { Fr } from "../../../lib/da/field.js";
import { evaluatePolynomial, extendedNtt, intt, ntt } from "../../../lib/da/ntt.js";
import { chunkPoints, chunksNeeded, encodeChunks, reconstructBlob } from "../../../lib/da/reed-solomon.js";
import { LabError } from "../../../lib/errors.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";

function randomCoefficients(n: number, seed: number): bigint[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Fr.create(BigInt(r.int(2 ** 30)) * BigInt(r.int(2 ** 30)) * 7919n));
}

describe("polynomials and Reed–Solomon over BN254's Fr", () => {
  it("NTT evaluates at the roots of unity and INTT inverts it", () => {
    const c = randomCoefficients(16, 1);
    const e = ntt(c);
    const w = Fr.pow(5n, (Fr.ORDER - 1n) / 16n);
    expect(e[3]).to.equal(evaluatePolynomial(c, Fr.pow(w, 3n)));
    expect(intt(e)).to.deep.equal(c);
  });

  it("extends coefficients to a larger domain as the NTT of the zero-padded coefficients does, and refuses a smaller domain", () => {
    for (const [m, domainSize] of [
      [1, 8],
      [16, 16],
      [16, 128],
      [64, 512],
    ] as const) {
      const c = randomCoefficients(m, m + domainSize);
      const padded = c.concat(new Array<bigint>(domainSize - m).fill(0n));
      expect(extendedNtt(c, domainSize), `${m} -> ${domainSize}`).to.deep.equal(ntt(padded));
      const w = Fr.pow(5n, (Fr.ORDER - 1n) / BigInt(domainSize));
      expect(extendedNtt(c, domainSize)[domainSize - 1]).to.equal(evaluatePolynomial(c, Fr.pow(w, BigInt(domainSize - 1))));
    }
    expectCode(() => extendedNtt(randomCoefficients(16, 3), 8), DAEncodingError, "da/bad-domain", { n: 8 });
    expectCode(() => extendedNtt(randomCoefficients(12, 3), 64), DAEncodingError, "da/bad-domain", { n: 12 });
  });

  it("computes chunk lengths as EigenDA's GetChunkLength", () => {
    expect(chunkLength(4096, MAINNET_BLOB_PARAMS)).to.equal(4);
    expect(chunkLength(32, MAINNET_BLOB_PARAMS)).to.equal(1);
    expect(chunkLength(4096, LAB_BLOB_PARAMS)).to.equal(512);
    expectCode(() => chunkLength(48, LAB_BLOB_PARAMS), LabError, "da/blob-length-not-power-of-two");
  });

  it("holds the safety inequality for mainnet and lab parameters at 55/33, and names the 22% reconstruction threshold", () => {
    expect(safetyCheck(MAINNET_BLOB_PARAMS, { confirmationThreshold: 55, adversaryThreshold: 33 }).holds).to.equal(true);
    expect(Math.round(reconstructionThreshold(MAINNET_BLOB_PARAMS) * 100)).to.equal(22);
    expect(safetyCheck(LAB_BLOB_PARAMS, { confirmationThreshold: 55, adversaryThreshold: 33 }).holds).to.equal(true);
    expect(safetyCheck(LAB_BLOB_PARAMS, { confirmationThreshold: 45, adversaryThreshold: 33 }).holds).to.equal(false);
  });

  it("stores chunk j's evaluations at its coset's points", () => {
    const c = randomCoefficients(64, 2);
    const { layout, chunks } = encodeChunks(c, LAB_BLOB_PARAMS);
    expect(layout.domainSize).to.equal(512);
    const pts = chunkPoints(layout, 5);
    expect(chunks[5]!.evaluations[3]).to.equal(evaluatePolynomial(c, pts[3]!));
  });

  for (const blobLength of [8, 64, 256]) {
    it(`rebuilds a ${blobLength}-element blob from exactly the threshold number of chunks, and refuses one fewer`, () => {
      const c = randomCoefficients(blobLength, blobLength);
      const { layout, chunks } = encodeChunks(c, LAB_BLOB_PARAMS);
      const need = chunksNeeded(layout);
      expect(need).to.equal(Math.ceil(blobLength / layout.chunkLength));
      const r = rng(blobLength);
      const order = r.shuffle(chunks.map((_, i) => i));
      const pick = order.slice(0, need).map((i) => chunks[i]!);
      expect(reconstructBlob(layout, pick)).to.deep.equal(c);
      expectCode(() => reconstructBlob(layout, pick.slice(1)), DAThresholdError, "da/too-few-chunks", { have: need - 1, needed: need });
    });
  }

  it("detects an altered chunk when there are more chunks than needed", () => {
    const c = randomCoefficients(64, 9);
    const { layout, chunks } = encodeChunks(c, LAB_BLOB_PARAMS);
    const some = chunks.slice(0, chunksNeeded(layout) + 1).map((ch) => ({ ...ch, evaluations: ch.evaluations.slice() }));
    some[0]!.evaluations[0] = Fr.add(some[0]!.evaluations[0]!, 1n);
    expectCode(() => reconstructBlob(layout, some), LabError, "da/chunks-inconsistent");
  });
});
