// EigenDA's published SRS files in their layout: the real g2.point.powerOf2 (28 points) checked
// against the published sha256 list, the real first four G1 points of the ceremony (from EigenDA's
// srs-utils test file) loaded as a g1.point prefix, the published [tau^(2^28 - 2^i)]_1 points, and
// pairing checks that tie all three to one tau.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { g1FromAffine, g1Generator, g2Generator, initBn254, mcl, msmG1, msmG2, pairingProductIsOne } from "../../../lib/da/bn254.js";
import { DAConfigError, DAEncodingError, DAVerificationError } from "../../../lib/da/errors.js";
import { Fr } from "../../../lib/da/field.js";
import { payloadToBlob } from "../../../lib/da/polynomial-form.js";
import { compressG1 } from "../../../lib/da/srs.js";
import { checkSrsFileSha256, g1ReversePowerOf2, readG1PointFile, readG2PowerOf2File, verifyLengthProofAgainst2To28 } from "../../../lib/da/srs-eigenda.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const FIXTURES = join(import.meta.dirname, "../../fixtures/eigenda-srs");
const POWER_OF_2 = join(FIXTURES, "g2.point.powerOf2");

/** The ptau challenge file's G1 section: a 64-byte header, then x || y big-endian, 64 bytes per point. */
function challengeG1Points(path: string, count: number): mcl.G1[] {
  const bytes = readFileSync(path);
  return Array.from({ length: count }, (_, i) => {
    const at = 64 + 64 * i;
    return g1FromAffine({ x: BigInt(`0x${bytes.subarray(at, at + 32).toString("hex")}`), y: BigInt(`0x${bytes.subarray(at + 32, at + 64).toString("hex")}`) });
  });
}

const sameTau = (a1: mcl.G1, b1: mcl.G2, a2: mcl.G1, b2: mcl.G2) => pairingProductIsOne(a1, b1, mcl.neg(a2), b2);

describe("EigenDA's published SRS layout", function () {
  this.timeout(120_000);
  before(() => initBn254());

  it("g2.point.powerOf2 matches the published sha256 and holds 28 points; a changed byte is refused", async () => {
    expect(checkSrsFileSha256(POWER_OF_2)).to.equal("4d5ed827f742e1270f22b4a39129bf1d25445821b15824e2eb3a709a16f64518");
    expect((await readG2PowerOf2File(POWER_OF_2)).length).to.equal(28);
    const dir = mkdtempSync(join(tmpdir(), "srs-"));
    const altered = readFileSync(POWER_OF_2);
    altered[100] ^= 1;
    writeFileSync(join(dir, "g2.point.powerOf2"), altered);
    expectCode(() => checkSrsFileSha256(join(dir, "g2.point.powerOf2")), DAVerificationError, "da/srs-sha256-mismatch", { file: "g2.point.powerOf2" });
    writeFileSync(join(dir, "other.point"), altered);
    expectCode(() => checkSrsFileSha256(join(dir, "other.point")), DAConfigError, "da/srs-unlisted-file", { file: "other.point" });
  });

  it("e([tau^(2^28 - 2^i)]_1, [tau^(2^i)]_2) is the same for all 28 i: the published G1 and G2 points share one tau", async () => {
    const g1Rev = await g1ReversePowerOf2();
    const g2Pow = await readG2PowerOf2File(POWER_OF_2);
    for (let i = 0; i + 1 < 28; i++) expect(sameTau(g1Rev[i]!, g2Pow[i]!, g1Rev[i + 1]!, g2Pow[i + 1]!), `i = ${i}`).to.equal(true);
    expect(sameTau(g1Rev[0]!, g2Pow[0]!, g1Rev[0]!, g2Pow[1]!)).to.equal(false);
  });

  it("loads a g1.point prefix of any length written in the published layout (the ceremony's first points), consistent with g2.point.powerOf2", async () => {
    const real = challengeG1Points(join(FIXTURES, "challenge_0085_with_4_g1_points"), 4);
    expect(real[0]!.isEqual(g1Generator())).to.equal(true);
    const dir = mkdtempSync(join(tmpdir(), "srs-"));
    const g1File = join(dir, "g1.point");
    writeFileSync(g1File, Buffer.concat(real.map((p) => Buffer.from(compressG1(p)))));
    const g2Pow = await readG2PowerOf2File(POWER_OF_2);
    for (const n of [1, 3, 4]) expect((await readG1PointFile(g1File, n)).length).to.equal(n);
    const g1 = await readG1PointFile(g1File);
    // [tau]_1 against [tau]_2, [tau^2]_1 against [tau^2]_2: the prefix is the ceremony's tau.
    expect(sameTau(g1[1]!, g2Generator(), g1Generator(), g2Pow[0]!)).to.equal(true);
    expect(sameTau(g1[2]!, g2Generator(), g1Generator(), g2Pow[1]!)).to.equal(true);
    expect(sameTau(g1[3]!, g2Generator(), g1Generator(), g2Pow[1]!)).to.equal(false);
    // A two-element blob (payload 0x01, evaluation form) committed with the real points in G1 and G2 agrees.
    const blob = payloadToBlob(Uint8Array.of(1));
    expect(blob.length).to.equal(2);
    const c = msmG1(g1.slice(0, 2), blob);
    const c2 = msmG2([g2Generator(), g2Pow[0]!], blob);
    expect(sameTau(c, g2Generator(), g1Generator(), c2)).to.equal(true);
    await expectCodeAsync(readG1PointFile(g1File, 5), DAConfigError, "da/srs-too-short", { order: 5, g1Points: 4 });
    writeFileSync(join(dir, "short.point"), Buffer.alloc(33));
    await expectCodeAsync(readG1PointFile(join(dir, "short.point")), DAEncodingError, "da/srs-bad-file-size", { length: 33 });
  });

  it("verifies a length proof against the 2^28 setup (VerifyLengthProof): the proof holds for its own length only", async () => {
    // A toy tau, so the trailing points can be computed: the check is the same with the ceremony's.
    const tau = 0x1234567n;
    const fr = (v: bigint) => {
      const f = new mcl.Fr();
      f.setStr(v.toString(16), 16);
      return f;
    };
    const g1Rev = Array.from({ length: 28 }, (_, i) => mcl.mul(g1Generator(), fr(Fr.pow(tau, 2n ** 28n - 2n ** BigInt(i)))));
    const coefficients = [3n, 1n, 4n, 1n, 5n]; // degree 4: fits length 8, not 4
    const p = coefficients.reduceRight((acc, c) => Fr.add(Fr.mul(acc, tau), c), 0n);
    const c2 = mcl.mul(g2Generator(), fr(p));
    const proofFor = (length: number) => mcl.mul(g2Generator(), fr(Fr.mul(Fr.pow(tau, 2n ** 28n - BigInt(length)), p)));
    expect(verifyLengthProofAgainst2To28(g1Rev, c2, proofFor(8), 8)).to.equal(true);
    expect(verifyLengthProofAgainst2To28(g1Rev, c2, proofFor(8), 16)).to.equal(false);
    expect(verifyLengthProofAgainst2To28(g1Rev, c2, proofFor(8), 6)).to.equal(false);
    expect(verifyLengthProofAgainst2To28(g1Rev, c2, proofFor(8), 2 ** 28)).to.equal(false);
  });
});
