// EigenDACertV3 in both encodings (EigenDA coretypes eigenda_cert_test.go: TestEigenDACertV3_RLPEncodeDecode,
// TestEigenDACertV3_ABIEncodeDecode), with all eight NonSignerStakesAndSignature fields, and the
// strictness of both decoders: trailing bytes and non-canonical encodings are refused.
import { expect } from "chai";
import { Wallet } from "ethers";
import { devPrivateKey } from "../../../lib/chain/keys.js";
import { DEFAULT_SECURITY_THRESHOLDS, LAB_BLOB_PARAMS } from "../../../lib/da/blob-params.js";
import { g1ToAffine, g2ToAffine, initBn254 } from "../../../lib/da/bn254.js";
import { CERT_V3_ABI, decodeCert, decodeCertAbi, decodeCertRlp, type EigenDACertV3, encodeCert, encodeCertAbi, encodeCertRlp } from "../../../lib/da/certificate.js";
import { Disperser } from "../../../lib/da/disperser.js";
import { DAEncodingError } from "../../../lib/da/errors.js";
import { makeOperators } from "../../../lib/da/operators.js";
import { insecureSrs } from "../../../lib/da/srs.js";
import { type RlpItem, rlpDecode, rlpEncode } from "../../../lib/ledger/rlp.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";

/** A certificate with two non-signers, so every index list is non-empty. */
async function certWithNonSigners(): Promise<EigenDACertV3> {
  await initBn254();
  const srs = await insecureSrs(5, 256);
  const operators = makeOperators({ count: 8, quorums: [0, 1], rng: rng(21) });
  const disperser = new Disperser({ srs, operators, blobParams: new Map([[0, LAB_BLOB_PARAMS]]), thresholds: DEFAULT_SECURITY_THRESHOLDS, client: new Wallet(devPrivateKey(3)) });
  operators[2]!.behaviour = "offline";
  operators[5]!.behaviour = "offline";
  return (await disperser.disperse(new TextEncoder().encode("cert ".repeat(100)), { referenceBlockNumber: 17 })).cert;
}

/** The certificate as plain values, for deep comparison (curve points as affine coordinates). */
function plain(c: EigenDACertV3) {
  const h = c.blobInclusionInfo.blobCertificate.blobHeader;
  return {
    ...c,
    blobInclusionInfo: {
      ...c.blobInclusionInfo,
      blobCertificate: {
        ...c.blobInclusionInfo.blobCertificate,
        blobHeader: {
          ...h,
          quorumNumbers: [...h.quorumNumbers],
          commitment: {
            commitment: g1ToAffine(h.commitment.commitment),
            lengthCommitment: g2ToAffine(h.commitment.lengthCommitment),
            lengthProof: g2ToAffine(h.commitment.lengthProof),
            length: h.commitment.length,
          },
        },
      },
    },
    signedQuorumNumbers: [...c.signedQuorumNumbers],
  };
}

describe("EigenDACertV3 in ABI and RLP (eigenda_cert_test.go)", function () {
  this.timeout(120_000);
  let cert: EigenDACertV3;
  before(async () => {
    cert = await certWithNonSigners();
  });

  it("carries all eight NonSignerStakesAndSignature fields, in EigenDATypesV1's order", () => {
    expect(CERT_V3_ABI).to.contain(
      "tuple(uint32[] nonSignerQuorumBitmapIndices, tuple(uint256 X, uint256 Y)[] nonSignerPubkeys, tuple(uint256 X, uint256 Y)[] quorumApks, tuple(uint256[2] X, uint256[2] Y) apkG2, tuple(uint256 X, uint256 Y) sigma, uint32[] quorumApkIndices, uint32[] totalStakeIndices, uint32[][] nonSignerStakeIndices)",
    );
    const n = cert.nonSignerStakesAndSignature;
    expect(n.nonSignerPubkeys.length).to.equal(2);
    expect(n.nonSignerQuorumBitmapIndices).to.deep.equal([0, 0]);
    expect(n.quorumApkIndices).to.deep.equal([0, 0]);
    expect(n.totalStakeIndices).to.deep.equal([0, 0]);
    expect(n.nonSignerStakeIndices.map((l) => l.length)).to.deep.equal([2, 2]);
  });

  it("TestEigenDACertV3_ABIEncodeDecode and TestEigenDACertV3_RLPEncodeDecode: a round trip RLP -> cert -> ABI -> cert -> RLP", () => {
    const rlp = encodeCertRlp(cert);
    const fromRlp = decodeCertRlp(rlp);
    expect(plain(fromRlp)).to.deep.equal(plain(cert));
    const abiBytes = encodeCertAbi(fromRlp);
    expect(abiBytes).to.deep.equal(encodeCert(cert));
    const fromAbi = decodeCertAbi(abiBytes);
    expect(plain(fromAbi)).to.deep.equal(plain(cert));
    expect(encodeCertRlp(fromAbi)).to.deep.equal(rlp);
    expect(decodeCert).to.equal(decodeCertAbi);
    // RLP is the compact one: no 32-byte words for small integers.
    expect(rlp.length).to.be.lessThan(abiBytes.length);
  });

  it("writes RLP as go-ethereum does for the binding's structs: [batchHeader, blobInclusionInfo, nonSignerStakesAndSignature, signedQuorumNumbers]", () => {
    const top = rlpDecode(encodeCertRlp(cert)) as RlpItem[];
    expect(top.length).to.equal(4);
    const [batchRoot, rbn] = top[0] as Uint8Array[];
    expect(Buffer.from(batchRoot!).toString("hex")).to.equal(cert.batchHeader.batchRoot.slice(2));
    expect([...rbn!]).to.deep.equal([17]); // uint32 17: one byte, no padding
    const ns = top[2] as RlpItem[];
    expect(ns.length).to.equal(8);
    expect((ns[0] as Uint8Array[]).map((b) => b.length)).to.deep.equal([0, 0]); // index 0 is the empty string
    expect((ns[7] as RlpItem[]).length).to.equal(2);
    expect([...(top[3] as Uint8Array)]).to.deep.equal([0, 1]);
  });

  it("refuses trailing bytes in either encoding, and the wrong encoding", () => {
    const rlp = encodeCertRlp(cert);
    const abiBytes = encodeCert(cert);
    const plus = (b: Uint8Array, extra: number[]) => Uint8Array.from([...b, ...extra]);
    expectCode(() => decodeCertRlp(plus(rlp, [0])), DAEncodingError, "da/cert-undecodable", { encoding: "RLP" });
    expectCode(() => decodeCertAbi(plus(abiBytes, [0xde, 0xad])), DAEncodingError, "da/cert-undecodable", { encoding: "ABI" });
    expectCode(() => decodeCertAbi(plus(abiBytes, new Array(32).fill(0))), DAEncodingError, "da/cert-undecodable", { encoding: "ABI" });
    expectCode(() => decodeCertRlp(abiBytes), DAEncodingError, "da/cert-undecodable", { encoding: "RLP" });
    expectCode(() => decodeCertAbi(rlp), DAEncodingError, "da/cert-undecodable", { encoding: "ABI" });
  });

  it("refuses non-canonical RLP (a padded integer) and a wrong field count, as rlp.DecodeBytes does", () => {
    const top = rlpDecode(encodeCertRlp(cert)) as RlpItem[];
    const bh = top[0] as Uint8Array[];
    const padded = rlpEncode([[bh[0]!, Uint8Array.from([0, 17])], top[1]!, top[2]!, top[3]!]);
    expectCode(() => decodeCertRlp(padded), DAEncodingError, "da/cert-undecodable", { encoding: "RLP" });
    const short = rlpEncode([top[0]!, top[1]!, (top[2] as RlpItem[]).slice(1, 5), top[3]!]); // the four-field struct of old
    expectCode(() => decodeCertRlp(short), DAEncodingError, "da/cert-undecodable", { encoding: "RLP" });
    const wideRbn = rlpEncode([[bh[0]!, Uint8Array.from([1, 2, 3, 4, 5])], top[1]!, top[2]!, top[3]!]);
    expectCode(() => decodeCertRlp(wideRbn), DAEncodingError, "da/cert-undecodable", { encoding: "RLP" });
  });
});
