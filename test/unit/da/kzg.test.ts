import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LAB_BLOB_PARAMS } from "../../../lib/da/blob-params.js";
import { g1Generator, g1ToAffine, mcl, pairingProductIsOne } from "../../../lib/da/bn254.js";
import { decodeBlobFromChunks, encodeBlob } from "../../../lib/da/dispersal-blob.js";
import { DAConfigError } from "../../../lib/da/errors.js";
import { bytesToFieldElements, Fr, fieldElementsToBytes } from "../../../lib/da/field.js";
import { commitBlob, verifyBlobCommitment, verifyChunk } from "../../../lib/da/kzg-bn254.js";
import { chunksNeeded } from "../../../lib/da/reed-solomon.js";
import { compressG1, decompressG1, insecureSrs, loadSrsPointFiles, writeSrsPointFiles } from "../../../lib/da/srs.js";
import { hasCode } from "../../../lib/errors.js";
import { rng } from "../../../lib/random.js";
import { expectCodeAsync } from "../expect-code.js";

const payload = (n: number) => {
  const r = rng(n);
  return Uint8Array.from({ length: n }, () => r.int(256));
};

describe("KZG on BN254 (EigenDA blob commitments and chunk proofs)", function () {
  this.timeout(120_000);

  it("commits a blob with a G2 length commitment and a length proof that bound its degree", async () => {
    const srs = await insecureSrs(7, 256);
    const enc = encodeBlob(srs, payload(1000), LAB_BLOB_PARAMS);
    expect(enc.commitment.length).to.equal(64);
    expect(verifyBlobCommitment(srs, enc.commitment)).to.equal(true);
    // Claiming a shorter length than the polynomial's degree: no valid length proof exists.
    expect(verifyBlobCommitment(srs, { ...enc.commitment, length: 32 })).to.equal(false);
    // A length commitment to another polynomial does not match the G1 commitment.
    const other = commitBlob(
      srs,
      enc.coefficients.map((c, i) => (i === 3 ? Fr.add(c, 1n) : c)),
    );
    expect(verifyBlobCommitment(srs, { ...enc.commitment, lengthCommitment: other.lengthCommitment })).to.equal(false);
  });

  it("changes the commitment when any byte of the blob changes", async () => {
    const srs = await insecureSrs(7, 256);
    const enc = encodeBlob(srs, payload(200), LAB_BLOB_PARAMS, undefined, "coefficient");
    const base = g1ToAffine(enc.commitment.commitment);
    for (const at of [1, 5, 33, 100, enc.blob.length - 1]) {
      const b = enc.blob.slice();
      b[at] ^= 0x01;
      const c = commitBlob(srs, bytesToFieldElements(b));
      expect(g1ToAffine(c.commitment), `byte ${at}`).to.not.deep.equal(base);
    }
  });

  it("verifies every chunk's multi-point proof, and fails when any byte of a chunk or proof changes", async () => {
    const srs = await insecureSrs(7, 256);
    const enc = encodeBlob(srs, payload(1500), LAB_BLOB_PARAMS);
    expect(enc.layout.chunkLength).to.equal(8);
    for (const ch of enc.chunks) expect(verifyChunk(srs, enc.commitment.commitment, enc.layout, ch, enc.proofs[ch.index]!), `chunk ${ch.index}`).to.equal(true);
    const chunk = enc.chunks[11]!;
    const bytes = fieldElementsToBytes(chunk.evaluations);
    for (const at of [31, 64, bytes.length - 1]) {
      const b = bytes.slice();
      b[at] ^= 0x01;
      const tampered = { index: chunk.index, evaluations: bytesToFieldElements(b) };
      expect(verifyChunk(srs, enc.commitment.commitment, enc.layout, tampered, enc.proofs[11]!), `evaluation byte ${at}`).to.equal(false);
    }
    // The proof of another chunk, and the right proof for the wrong index, both fail.
    expect(verifyChunk(srs, enc.commitment.commitment, enc.layout, chunk, enc.proofs[12]!)).to.equal(false);
    expect(verifyChunk(srs, enc.commitment.commitment, enc.layout, { ...chunk, index: 12 }, enc.proofs[11]!)).to.equal(false);
    const proofBytes = compressG1(enc.proofs[11]!);
    proofBytes[20] ^= 0x01;
    let altered: mcl.G1 | undefined;
    try {
      altered = decompressG1(proofBytes);
    } catch (e) {
      expect(hasCode(e, "da/srs-bad-point")).to.equal(true); // not on the curve: refused as bytes
    }
    if (altered) expect(verifyChunk(srs, enc.commitment.commitment, enc.layout, chunk, altered)).to.equal(false);
  });

  it("rebuilds the payload from verified chunks at the threshold", async () => {
    const srs = await insecureSrs(7, 256);
    const p = payload(3000);
    const enc = encodeBlob(srs, p, LAB_BLOB_PARAMS);
    const need = chunksNeeded(enc.layout);
    expect(enc.form).to.equal("evaluation");
    expect(decodeBlobFromChunks(enc.layout, enc.chunks.slice(-need), enc.form)).to.deep.equal(p);
    const coefficientForm = encodeBlob(srs, p, LAB_BLOB_PARAMS, undefined, "coefficient");
    expect(coefficientForm.blob).to.deep.equal(coefficientForm.encodedPayload);
    expect(decodeBlobFromChunks(coefficientForm.layout, coefficientForm.chunks.slice(0, need))).to.deep.equal(p);
  });

  it("writes and reads SRS point files in EigenDA's g1.point / g2.point format", async () => {
    const srs = await insecureSrs(3, 64);
    const dir = mkdtempSync(join(tmpdir(), "srs-"));
    writeSrsPointFiles(srs, join(dir, "g1.point"), join(dir, "g2.point"), join(dir, "g2.trailing.point"));
    const loaded = await loadSrsPointFiles(join(dir, "g1.point"), join(dir, "g2.point"), 64, join(dir, "g2.trailing.point"));
    expect(loaded.kind).to.equal("ceremony");
    for (let i = 0; i < 64; i++) {
      expect(loaded.g1[i]!.isEqual(srs.g1[i]!), `g1 ${i}`).to.equal(true);
      expect(loaded.g2[i]!.isEqual(srs.g2[i]!), `g2 ${i}`).to.equal(true);
    }
    await expectCodeAsync(loadSrsPointFiles(join(dir, "g1.point"), join(dir, "g2.point"), 128), DAConfigError, "da/srs-too-short");
    // A shorter prefix of the same files loads; its length proofs (from the trailing points) verify
    // against the setup's own [tau^(2^28 - 2^i)]_1, and not against the ceremony's published ones.
    const prefix = await loadSrsPointFiles(join(dir, "g1.point"), join(dir, "g2.point"), 32, join(dir, "g2.trailing.point"), srs.g1ReversePowerOf2);
    const enc = encodeBlob(prefix, payload(500), LAB_BLOB_PARAMS);
    expect(enc.commitment.length).to.equal(32);
    expect(verifyBlobCommitment(prefix, enc.commitment)).to.equal(true);
    const published = await loadSrsPointFiles(join(dir, "g1.point"), join(dir, "g2.point"), 32, join(dir, "g2.trailing.point"));
    expect(verifyBlobCommitment(published, enc.commitment)).to.equal(false);
    // Without g2.trailing.point there are no length proofs to make.
    const noTrailing = await loadSrsPointFiles(join(dir, "g1.point"), join(dir, "g2.point"), 64);
    expect(() => commitBlob(noTrailing, enc.coefficients))
      .to.throw()
      .that.satisfies((e: unknown) => hasCode(e, "da/srs-no-trailing-points"));
  });

  it("takes length proofs against the 2^28 setup: P = [tau^(2^28 - length) p(tau)]_2, checked with [tau^(2^28 - length)]_1", async () => {
    const srs = await insecureSrs(7, 256);
    expect(srs.g1ReversePowerOf2.length).to.equal(28);
    const enc = encodeBlob(srs, payload(1000), LAB_BLOB_PARAMS);
    // [tau^(2^28 - 64)]_1 = [tau^(2^28 - 256)]_1 * tau^192: the trailing points end at tau^(2^28 - 1).
    const pOfTau = enc.commitment.lengthCommitment;
    expect(pairingProductIsOne(srs.g1ReversePowerOf2[6]!, pOfTau, mcl.neg(g1Generator()), enc.commitment.lengthProof)).to.equal(true);
    expect(pairingProductIsOne(srs.g1ReversePowerOf2[7]!, pOfTau, mcl.neg(g1Generator()), enc.commitment.lengthProof)).to.equal(false);
  });
});
