import { expect } from "chai";
import { type BaseContract, concat, hexlify, Wallet } from "ethers";
import { network } from "hardhat";
import { devPrivateKey } from "../../lib/chain/keys.js";
import { DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS } from "../../lib/da/blob-params.js";
import { signMessage } from "../../lib/da/bls.js";
import { g1ToAffine, initBn254 } from "../../lib/da/bn254.js";
import { type EigenDACertV3, encodeCert } from "../../lib/da/certificate.js";
import { Disperser } from "../../lib/da/disperser.js";
import { CERT_STATUS, checkCert, deployDAContracts } from "../../lib/da/l1.js";
import { makeOperators, type Operator } from "../../lib/da/operators.js";
import { insecureSrs } from "../../lib/da/srs.js";
import { rng } from "../../lib/random.js";

const payload = new TextEncoder().encode("batcher frames ".repeat(100));

describe("EigenDACertVerifier", function () {
  this.timeout(300_000);

  async function setup(opts: { thresholds?: { confirmationThreshold: number; adversaryThreshold: number } } = {}) {
    await initBn254();
    const { ethers } = await network.create();
    const [deployer] = await ethers.getSigners();
    const srs = await insecureSrs(5, 256);
    const operators = makeOperators({ count: 8, quorums: [0, 1], rng: rng(4) });
    const thresholds = opts.thresholds ?? DEFAULT_SECURITY_THRESHOLDS;
    const { registry, verifier } = await deployDAContracts(deployer!, { operators, quorums: [0, 1], blobParams: [LAB_BLOB_PARAMS], thresholds, quorumNumbersRequired: [0, 1] });
    const disperser = new Disperser({ srs, operators, blobParams: new Map([[0, LAB_BLOB_PARAMS]]), thresholds: DEFAULT_SECURITY_THRESHOLDS, client: new Wallet(devPrivateKey(5)) });
    const rbn = (await ethers.provider.getBlockNumber()) - 1;
    return { ethers, registry, verifier, operators, disperser, rbn };
  }

  /** The custom error checkDACertReverts fails with, so each status is failed for its own reason. */
  async function failedCheck(verifier: BaseContract, bytes: Uint8Array): Promise<string | undefined> {
    // checkDACertReverts takes the certificate tuple, whose calldata is the selector and the cert's own ABI bytes.
    const data = concat([verifier.interface.getFunction("checkDACertReverts")!.selector, bytes]);
    try {
      await verifier.runner!.provider!.call({ to: await verifier.getAddress(), data });
      return undefined;
    } catch (e) {
      return verifier.interface.parseError((e as { data: string }).data)?.name;
    }
  }

  const mutate = (cert: EigenDACertV3, f: (c: EigenDACertV3) => void): Uint8Array => {
    const c = structuredClone({ ...cert, blobInclusionInfo: { ...cert.blobInclusionInfo, blobCertificate: { ...cert.blobInclusionInfo.blobCertificate } } }) as EigenDACertV3;
    c.blobInclusionInfo.blobCertificate.blobHeader = cert.blobInclusionInfo.blobCertificate.blobHeader; // mcl points do not clone
    f(c);
    return encodeCert(c);
  };

  it("accepts a certificate with a real aggregate signature from all operators, and reports its gas", async () => {
    const { verifier, disperser, rbn } = await setup();
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn });
    const r = await checkCert(verifier, encodeCert(d.cert), true);
    expect(r.status).to.equal(CERT_STATUS.SUCCESS);
    expect(Number(r.gas)).to.be.within(100_000, 1_000_000);
  });

  it("accepts a certificate with non-signers while the signed stake stays above 55%", async () => {
    const { verifier, disperser, operators, rbn } = await setup();
    const smallest = [...operators].sort((a, b) => (a.stakes.get(0)! < b.stakes.get(0)! ? -1 : 1))[0]!;
    smallest.behaviour = "offline";
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn });
    expect(d.nonSigners).to.deep.equal([smallest.index]);
    expect(d.quorums.every((q) => q.confirmed)).to.equal(true);
    expect((await checkCert(verifier, encodeCert(d.cert))).status).to.equal(CERT_STATUS.SUCCESS);
  });

  it("returns INVALID_CERT when too little stake signed", async () => {
    const { verifier, disperser, operators, rbn } = await setup();
    const byStake = [...operators].sort((a, b) => (a.stakes.get(0)! > b.stakes.get(0)! ? -1 : 1));
    for (const o of byStake.slice(0, 3)) o.behaviour = "offline";
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn });
    expect(d.quorums.some((q) => !q.confirmed)).to.equal(true);
    expect((await checkCert(verifier, encodeCert(d.cert))).status).to.equal(CERT_STATUS.INVALID_CERT);
    expect(await failedCheck(verifier, encodeCert(d.cert))).to.equal("BlobQuorumsNotSubset");
  });

  it("returns INVALID_CERT for a wrong signature, a hidden non-signer, unknown or unordered quorums, a broken inclusion proof, an unknown blob version and undecodable bytes", async () => {
    const { verifier, disperser, operators, rbn } = await setup();
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn });
    const cert = d.cert;
    const status = async (bytes: Uint8Array) => (await checkCert(verifier, bytes)).status;
    const bad: Record<string, Uint8Array> = {
      // sigma signed by one operator over another message
      wrongSignature: mutate(cert, (c) => (c.nonSignerStakesAndSignature.sigma = g1ToAffine(signMessage((operators[0] as Operator).key, `0x${"ab".repeat(32)}`)))),
      // the batch header says another reference block: the signature is over a different message
      wrongMessage: mutate(cert, (c) => (c.batchHeader = { ...c.batchHeader, referenceBlockNumber: c.batchHeader.referenceBlockNumber - 1 })),
      // drop a non-signer list entry that was never there: claim an operator did not sign
      extraNonSigner: mutate(cert, (c) => {
        const n = c.nonSignerStakesAndSignature;
        n.nonSignerPubkeys = [g1ToAffine(operators[1]!.key.pubkeyG1)];
        n.nonSignerQuorumBitmapIndices = [0];
        n.nonSignerStakeIndices = [[0], [0]];
      }),
      unknownQuorum: mutate(cert, (c) => {
        const n = c.nonSignerStakesAndSignature;
        c.signedQuorumNumbers = Uint8Array.from([0, 1, 7]);
        n.quorumApks = [...n.quorumApks, { x: 0n, y: 0n }];
        n.quorumApkIndices = [0, 0, 0];
        n.totalStakeIndices = [0, 0, 0];
        n.nonSignerStakeIndices = [[], [], []];
      }),
      // The four history-index lists of NonSignerStakesAndSignature: a missing entry, and an index
      // past the registry's only history entry.
      missingTotalStakeIndex: mutate(cert, (c) => (c.nonSignerStakesAndSignature.totalStakeIndices = [0])),
      missingNonSignerStakeList: mutate(cert, (c) => (c.nonSignerStakesAndSignature.nonSignerStakeIndices = [[]])),
      staleQuorumApkIndex: mutate(cert, (c) => (c.nonSignerStakesAndSignature.quorumApkIndices = [0, 1])),
      unorderedQuorums: mutate(cert, (c) => {
        c.signedQuorumNumbers = Uint8Array.from([1, 0]);
        c.nonSignerStakesAndSignature.quorumApks = [...c.nonSignerStakesAndSignature.quorumApks].reverse();
      }),
      brokenInclusion: mutate(cert, (c) => (c.blobInclusionInfo = { ...c.blobInclusionInfo, inclusionProof: hexlify(new Uint8Array(32).fill(7)) })),
      alteredCommitmentLength: mutate(
        cert,
        (c) =>
          (c.blobInclusionInfo.blobCertificate = {
            ...c.blobInclusionInfo.blobCertificate,
            blobHeader: { ...c.blobInclusionInfo.blobCertificate.blobHeader, commitment: { ...c.blobInclusionInfo.blobCertificate.blobHeader.commitment, length: 16 } },
          }),
      ),
      alteredRelayKeys: mutate(cert, (c) => (c.blobInclusionInfo.blobCertificate = { ...c.blobInclusionInfo.blobCertificate, relayKeys: [9] })),
      undecodable: Uint8Array.from([1, 2, 3]),
    };
    for (const [name, bytes] of Object.entries(bad)) expect(await status(bytes), name).to.equal(CERT_STATUS.INVALID_CERT);
    const reasons: Record<string, string> = {
      wrongSignature: "InvalidSignature",
      wrongMessage: "InvalidSignature",
      extraNonSigner: "InvalidSignature",
      unknownQuorum: "EmptyQuorum",
      unorderedQuorums: "QuorumNumbersNotOrdered",
      brokenInclusion: "InvalidInclusionProof",
      alteredCommitmentLength: "InvalidInclusionProof",
      alteredRelayKeys: "InvalidInclusionProof",
    };
    for (const [name, reason] of Object.entries(reasons)) expect(await failedCheck(verifier, bad[name]!), name).to.equal(reason);
    expect(await status(encodeCert(cert))).to.equal(CERT_STATUS.SUCCESS);
    // A blob version the verifier has no parameters for, behind a valid inclusion proof and signature.
    const v1 = new Disperser({
      ...disperser.cfg,
      blobParams: new Map([
        [0, LAB_BLOB_PARAMS],
        [1, LAB_BLOB_PARAMS],
      ]),
    });
    const d1 = await v1.disperse(payload, { referenceBlockNumber: rbn, version: 1 });
    expect(await status(encodeCert(d1.cert)), "unknownBlobVersion").to.equal(CERT_STATUS.INVALID_CERT);
    expect(await failedCheck(verifier, encodeCert(d1.cert))).to.equal("InvalidBlobVersion");
  });

  it("returns INVALID_CERT when the required quorums are not all in the blob's quorums", async () => {
    const { verifier, disperser, rbn } = await setup();
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn, quorums: [0] });
    expect((await checkCert(verifier, encodeCert(d.cert))).status).to.equal(CERT_STATUS.INVALID_CERT);
    expect(await failedCheck(verifier, encodeCert(d.cert))).to.equal("RequiredQuorumsNotSubset");
  });

  it("returns INVALID_CERT when the thresholds break the safety inequality for the blob version", async () => {
    const { verifier, disperser, rbn } = await setup({ thresholds: { confirmationThreshold: 45, adversaryThreshold: 33 } });
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn });
    expect((await checkCert(verifier, encodeCert(d.cert))).status).to.equal(CERT_STATUS.INVALID_CERT);
    expect(await failedCheck(verifier, encodeCert(d.cert))).to.equal("SecurityAssumptionsNotMet");
  });

  it("names the failed check for unsorted or unknown non-signers, a future reference block, too many quorums, mismatched or wrong quorum keys and points off the curve", async () => {
    const { verifier, disperser, operators, rbn } = await setup();
    const byStake = [...operators].sort((a, b) => (a.stakes.get(0)! < b.stakes.get(0)! ? -1 : 1));
    for (const o of byStake.slice(0, 2)) o.behaviour = "offline";
    const d = await disperser.disperse(payload, { referenceBlockNumber: rbn });
    const cert = d.cert;
    expect(cert.nonSignerStakesAndSignature.nonSignerPubkeys.length).to.equal(2);
    const stranger = makeOperators({ count: 1, quorums: [0, 1], rng: rng(99) })[0]!;
    const offCurve = { x: 1n, y: 1n };
    const cases: Record<string, Uint8Array> = {
      NonSignersNotSorted: mutate(cert, (c) => (c.nonSignerStakesAndSignature.nonSignerPubkeys = [...c.nonSignerStakesAndSignature.nonSignerPubkeys].reverse())),
      NonSignerNotInSignedQuorum: mutate(cert, (c) => {
        c.nonSignerStakesAndSignature.nonSignerPubkeys = [g1ToAffine(stranger.key.pubkeyG1)];
        c.nonSignerStakesAndSignature.nonSignerQuorumBitmapIndices = [0];
      }),
      // BLSSignatureChecker's index lists: one bitmap index per non-signer, one APK index per quorum, and
      // every index at the registry's only history entry.
      IndexListLengthMismatch: mutate(cert, (c) => (c.nonSignerStakesAndSignature.quorumApkIndices = [0])),
      HistoryIndexOutOfRange: mutate(cert, (c) => (c.nonSignerStakesAndSignature.totalStakeIndices = [0, 1])),
      ReferenceBlockNotInPast: mutate(cert, (c) => (c.batchHeader = { ...c.batchHeader, referenceBlockNumber: rbn + 1000 })),
      QuorumCountExceedsMaximum: mutate(cert, (c) => (c.signedQuorumNumbers = Uint8Array.from([0, 1, 2, 3, 4, 5]))),
      QuorumApkCountMismatch: mutate(cert, (c) => (c.nonSignerStakesAndSignature.quorumApks = c.nonSignerStakesAndSignature.quorumApks.slice(0, 1))),
      QuorumApkMismatch: mutate(cert, (c) => (c.nonSignerStakesAndSignature.quorumApks = [g1ToAffine(stranger.key.pubkeyG1), c.nonSignerStakesAndSignature.quorumApks[1]!])),
      PairingPrecompileFailed: mutate(cert, (c) => (c.nonSignerStakesAndSignature.apkG2 = { x: [1n, 1n], y: [1n, 1n] })),
      PrecompileFailed: mutate(cert, (c) => (c.nonSignerStakesAndSignature.sigma = offCurve)),
    };
    for (const [reason, bytes] of Object.entries(cases)) {
      expect(await failedCheck(verifier, bytes), reason).to.equal(reason);
      expect((await checkCert(verifier, bytes)).status, reason).to.equal(CERT_STATUS.INVALID_CERT);
    }
  });

  it("refuses thresholds with confirmation at or below adversary, and no required quorums, at deployment", async () => {
    const { ethers, registry } = await setup();
    const factory = await ethers.getContractFactory("EigenDACertVerifier");
    const params = [[LAB_BLOB_PARAMS.maxNumOperators, LAB_BLOB_PARAMS.numChunks, LAB_BLOB_PARAMS.codingRate]];
    await expect(ethers.deployContract("EigenDACertVerifier", [await registry.getAddress(), params, [33, 33], Uint8Array.from([0])])).to.be.revertedWithCustomError(
      factory,
      "InvalidSecurityThresholds",
    );
    await expect(ethers.deployContract("EigenDACertVerifier", [await registry.getAddress(), params, [55, 33], new Uint8Array(0)]))
      .to.be.revertedWithCustomError(factory, "InvalidQuorumNumbersRequired")
      .withArgs(0n);
  });
});
