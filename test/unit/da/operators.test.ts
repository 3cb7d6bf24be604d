import { expect } from "chai";
import { Wallet } from "ethers";
import { devPrivateKey } from "../../../lib/chain/keys.js";
import { assignmentsForBlob, assignmentsForQuorum } from "../../../lib/da/assignment.js";
import { DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS, reconstructionThreshold } from "../../../lib/da/blob-params.js";
import { hashToG1, verifyAggregate } from "../../../lib/da/bls.js";
import { g1FromAffine, g1ToAffine, g2FromAffine, initBn254, mcl } from "../../../lib/da/bn254.js";
import { decodeCert, encodeCert, hashBatchHeaderV2, merkleLeaf, verifyInclusion } from "../../../lib/da/certificate.js";
import { Disperser } from "../../../lib/da/disperser.js";
import { DAThresholdError } from "../../../lib/da/errors.js";
import { makeOperators, totalStake } from "../../../lib/da/operators.js";
import { retrievePayload } from "../../../lib/da/retrieval.js";
import { insecureSrs } from "../../../lib/da/srs.js";
import { hasCode } from "../../../lib/errors.js";
import { rng } from "../../../lib/random.js";
import { expectCodeAsync } from "../expect-code.js";

async function setup(count = 12) {
  await initBn254();
  const srs = await insecureSrs(5, 512);
  const operators = makeOperators({ count, quorums: [0, 1], rng: rng(21) });
  const disperser = new Disperser({ srs, operators, blobParams: new Map([[0, LAB_BLOB_PARAMS]]), thresholds: DEFAULT_SECURITY_THRESHOLDS, client: new Wallet(devPrivateKey(3)) });
  return { srs, operators, disperser };
}

const payload = new TextEncoder().encode("OpenLedger batch ".repeat(200));

describe("operators, assignment, attestation", function () {
  this.timeout(120_000);

  it("assigns chunks by stake share with ceil(eta * (c - n)), and caps each operator at c / codingRate", async () => {
    const { operators } = await setup();
    const q0 = assignmentsForQuorum(operators, LAB_BLOB_PARAMS, 0);
    const total = totalStake(operators, 0);
    for (const o of operators) {
      const want = Number((BigInt(LAB_BLOB_PARAMS.numChunks - LAB_BLOB_PARAMS.maxNumOperators) * o.stakes.get(0)! + total - 1n) / total);
      expect(q0.get(o.id)!.length).to.equal(want);
    }
    const merged = assignmentsForBlob(operators, LAB_BLOB_PARAMS, [0, 1]);
    for (const o of operators) {
      expect(merged.get(o.id)!.length).to.be.at.most(LAB_BLOB_PARAMS.numChunks / LAB_BLOB_PARAMS.codingRate);
      expect(merged.get(o.id)!.length).to.be.at.least(Math.min(8, q0.get(o.id)!.length));
    }
  });

  it("hashes to G1 on the curve as BN254.hashToG1 does", async () => {
    await initBn254();
    const p = hashToG1(`0x${"11".repeat(32)}`);
    expect(p.isValid()).to.equal(true);
  });

  it("disperses: every operator verifies its chunks and signs; the aggregate and inclusion proof verify; the cert round-trips", async () => {
    const { srs, operators, disperser } = await setup();
    const d = await disperser.disperse(payload, { referenceBlockNumber: 1 });
    expect(d.signers.length).to.equal(operators.length);
    expect(d.quorums.every((q) => q.confirmed)).to.equal(true);
    const back = decodeCert(encodeCert(d.cert));
    expect(hashBatchHeaderV2(back.batchHeader)).to.equal(d.batchHeaderHash);
    const inc = back.blobInclusionInfo;
    expect(verifyInclusion(inc.inclusionProof, back.batchHeader.batchRoot, merkleLeaf(inc.blobCertificate), inc.blobIndex)).to.equal(true);
    const ns = back.nonSignerStakesAndSignature;
    const apk = ns.quorumApks.map(g1FromAffine).reduce((a, b) => mcl.add(a, b));
    expect(verifyAggregate(d.batchHeaderHash, apk, g2FromAffine(ns.apkG2), g1FromAffine(ns.sigma))).to.equal(true);
    expect(verifyAggregate(hashBatchHeaderV2({ ...back.batchHeader, referenceBlockNumber: 2 }), apk, g2FromAffine(ns.apkG2), g1FromAffine(ns.sigma))).to.equal(false);
    expect(retrievePayload(srs, back, operators, LAB_BLOB_PARAMS).payload).to.deep.equal(payload);
  });

  it("lists offline operators as non-signers, and operators sent tampered chunks refuse to sign", async () => {
    const { operators, disperser } = await setup();
    operators[2]!.behaviour = "offline";
    const d = await disperser.disperse(payload, { referenceBlockNumber: 1, tamperFor: new Set([4]) });
    expect(d.nonSigners).to.deep.equal([2, 4]);
    expect(d.refusals).to.deep.equal([{ operator: 4, code: "da/bad-chunk-proof" }]);
    expect(d.cert.nonSignerStakesAndSignature.nonSignerPubkeys.map((p) => p.x).sort()).to.deep.equal([operators[2]!, operators[4]!].map((o) => g1ToAffine(o.key.pubkeyG1).x).sort());
  });

  it("refuses confirmation below 55% of stake when asked to", async () => {
    const { operators, disperser } = await setup();
    for (const o of operators.slice(0, 9)) o.behaviour = "offline";
    await expectCodeAsync(disperser.disperse(payload, { referenceBlockNumber: 1, requireConfirmation: true }), DAThresholdError, "da/insufficient-stake");
  });

  it("retrieves from operators holding the reconstruction threshold of stake, and fails clearly with too few", async () => {
    const { srs, operators, disperser } = await setup();
    const d = await disperser.disperse(payload, { referenceBlockNumber: 1 });
    // Keep the largest operators online until their chunks suffice; withhold the rest.
    const sorted = [...operators].sort((a, b) => (a.stakes.get(0)! > b.stakes.get(0)! ? -1 : 1));
    for (const o of sorted) o.behaviour = "withholding";
    let online = 0;
    for (const o of sorted) {
      o.behaviour = "honest";
      online++;
      try {
        expect(retrievePayload(srs, d.cert, operators, LAB_BLOB_PARAMS).payload).to.deep.equal(payload);
        break;
      } catch (e) {
        expect(hasCode(e, "da/too-few-chunks")).to.equal(true);
      }
    }
    expect(online).to.be.lessThan(operators.length);
    expect(reconstructionThreshold(LAB_BLOB_PARAMS)).to.be.closeTo(1 / 6, 1e-9);
  });
});
