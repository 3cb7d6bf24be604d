// The disperser (EigenDA "write workflow"): encodes and commits the blob, builds the blob header
// and certificate, sends every operator its assigned chunks with their proofs, collects BLS
// signatures over the batch header, aggregates them per quorum and lists the non-signers; the
// result is an EigenDACertV3 that the certificate verifier on L1 can check.
import type { Wallet } from "ethers";
import { assignmentsForBlob } from "./assignment.js";
import type { SecurityThresholds, VersionedBlobParams } from "./blob-params.js";
import { verifyAggregate } from "./bls.js";
import { g1ToAffine, g2ToAffine, mcl } from "./bn254.js";
import { type BatchHeaderV2, type BlobCertificate, type BlobHeaderV2, blobKey, type EigenDACertV3, hashBatchHeaderV2, merkleLeaf, merkleProof, merkleTree } from "./certificate.js";
import { type BlobEncodingTimings, type EncodedBlob, encodeBlob } from "./dispersal-blob.js";
import { DAThresholdError } from "./errors.js";
import { type Operator, quorumApk, totalStake } from "./operators.js";
import { paymentMetadataHash } from "./payment.js";
import type { PolynomialForm } from "./polynomial-form.js";
import type { Srs } from "./srs.js";

export interface DisperserConfig {
  srs: Srs;
  operators: Operator[];
  /** Blob parameters by blob version. */
  blobParams: ReadonlyMap<number, VersionedBlobParams>;
  thresholds: SecurityThresholds;
  /** The client key that signs blob keys (the payment account). */
  client: Wallet;
  /** How payloads become blobs; evaluation form (EigenDA's client default) unless told. */
  payloadForm?: PolynomialForm;
}

export interface QuorumAttestation {
  quorum: number;
  signedStake: bigint;
  totalStake: bigint;
  /** signedStake / totalStake in percent. */
  signedPercent: number;
  confirmed: boolean;
}

export interface Dispersal {
  cert: EigenDACertV3;
  encoded: EncodedBlob;
  blobKey: string;
  batchHeaderHash: string;
  signers: number[];
  nonSigners: number[];
  /** Operators that refused their chunks, with the code they refused with. */
  refusals: { operator: number; code: string }[];
  quorums: QuorumAttestation[];
  timings: BlobEncodingTimings & { distributeMs: number; aggregateMs: number };
}

export interface DisperseOptions {
  version?: number;
  quorums?: number[];
  /** The L1 block whose operator state the batch refers to (must be below the block that verifies). */
  referenceBlockNumber: number;
  /** Rejects an attestation below the confirmation threshold in any quorum (the client's own check). */
  requireConfirmation?: boolean;
  /** Corrupts the chunks sent to these operators (to show they refuse to sign). */
  tamperFor?: ReadonlySet<number>;
}

export class Disperser {
  constructor(readonly cfg: DisperserConfig) {}

  async disperse(payload: Uint8Array, o: DisperseOptions): Promise<Dispersal> {
    const version = o.version ?? 0;
    const quorums = (o.quorums ?? [0, 1]).slice().sort((a, b) => a - b);
    const params = this.cfg.blobParams.get(version)!;
    const timings = { codecMs: 0, nttMs: 0, commitmentMs: 0, proofsMs: 0, distributeMs: 0, aggregateMs: 0 };
    const encoded = encodeBlob(this.cfg.srs, payload, params, timings, this.cfg.payloadForm);
    const header: BlobHeaderV2 = {
      version,
      quorumNumbers: Uint8Array.from(quorums),
      commitment: encoded.commitment,
      // The payment metadata (account, timestamp, cumulative payment) hashed as the blob header carries it.
      paymentHeaderHash: paymentMetadataHash({ accountId: this.cfg.client.address, timestamp: BigInt(o.referenceBlockNumber), cumulativePayment: 0n }),
    };
    const key = blobKey(header);
    const blobCertificate: BlobCertificate = { blobHeader: header, signature: this.cfg.client.signingKey.sign(key).serialized, relayKeys: [0] };

    // One blob per batch here; the tree is still built, so the inclusion proof is a real one.
    const levels = merkleTree([merkleLeaf(blobCertificate)]);
    const batchHeader: BatchHeaderV2 = { batchRoot: levels[levels.length - 1]![0]!, referenceBlockNumber: o.referenceBlockNumber };
    const batchHeaderHash = hashBatchHeaderV2(batchHeader);

    let t = performance.now();
    const assignment = assignmentsForBlob(this.cfg.operators, params, quorums);
    const signatures = new Map<number, mcl.G1>();
    const refusals: Dispersal["refusals"] = [];
    for (const op of this.cfg.operators) {
      const indices = assignment.get(op.id) ?? [];
      let chunks = indices.map((i) => ({ chunk: encoded.chunks[i]!, proof: encoded.proofs[i]! }));
      if (o.tamperFor?.has(op.index)) chunks = chunks.map((c, k) => (k === 0 ? { ...c, chunk: { ...c.chunk, evaluations: c.chunk.evaluations.map((e, j) => (j === 0 ? e + 1n : e)) } } : c));
      if (op.behaviour === "offline") continue;
      try {
        op.storeChunks(this.cfg.srs, header, params, assignment, chunks);
      } catch (e) {
        refusals.push({ operator: op.index, code: (e as { code?: string }).code ?? "unknown" });
        continue;
      }
      const sig = op.sign(batchHeaderHash);
      if (sig) signatures.set(op.index, sig);
    }
    timings.distributeMs = performance.now() - t;

    t = performance.now();
    const cert = this.aggregate(batchHeader, batchHeaderHash, blobCertificate, merkleProof(levels, 0), quorums, signatures);
    timings.aggregateMs = performance.now() - t;
    const attestation = quorums.map((q) => this.quorumAttestation(q, signatures));
    if (o.requireConfirmation && attestation.some((a) => !a.confirmed)) {
      const low = attestation.find((a) => !a.confirmed)!;
      throw new DAThresholdError({
        code: "da/insufficient-stake",
        message: `quorum ${low.quorum}: ${low.signedPercent.toFixed(1)}% of stake signed, below the ${this.cfg.thresholds.confirmationThreshold}% confirmation threshold`,
        hint: "bring more operators online, or retry the dispersal later",
        fields: { quorum: low.quorum, signedPercent: low.signedPercent, confirmationThreshold: this.cfg.thresholds.confirmationThreshold },
      });
    }
    const members = this.cfg.operators.map((op) => op.index);
    return {
      cert,
      encoded,
      blobKey: key,
      batchHeaderHash,
      signers: [...signatures.keys()],
      nonSigners: members.filter((i) => !signatures.has(i)),
      refusals,
      quorums: attestation,
      timings,
    };
  }

  private quorumAttestation(quorum: number, signatures: ReadonlyMap<number, mcl.G1>): QuorumAttestation {
    const total = totalStake(this.cfg.operators, quorum);
    const signed = this.cfg.operators.filter((o) => signatures.has(o.index)).reduce((a, o) => a + (o.stakes.get(quorum) ?? 0n), 0n);
    const signedPercent = Number((signed * 1_000_000n) / total) / 10_000;
    return { quorum, signedStake: signed, totalStake: total, signedPercent, confirmed: signed * 100n >= total * BigInt(this.cfg.thresholds.confirmationThreshold) };
  }

  /**
   * Sums signatures and G2 keys over signed quorums (an operator in k signed quorums counts k
   * times, as the registry's quorum aggregate keys do) and lists non-signers by ascending id.
   */
  private aggregate(
    batchHeader: BatchHeaderV2,
    batchHeaderHash: string,
    blobCertificate: BlobCertificate,
    inclusionProof: string,
    quorums: number[],
    signatures: ReadonlyMap<number, mcl.G1>,
  ): EigenDACertV3 {
    let sigma = new mcl.G1();
    let apkG2 = new mcl.G2();
    let apk = new mcl.G1();
    for (const q of quorums) {
      for (const op of this.cfg.operators) {
        if ((op.stakes.get(q) ?? 0n) === 0n) continue;
        const sig = signatures.get(op.index);
        if (!sig) continue;
        sigma = mcl.add(sigma, sig);
        apkG2 = mcl.add(apkG2, op.key.pubkeyG2);
        apk = mcl.add(apk, op.key.pubkeyG1);
      }
    }
    if (signatures.size > 0 && !verifyAggregate(batchHeaderHash, apk, apkG2, sigma)) {
      throw new DAThresholdError({
        code: "da/bad-aggregate",
        message: "the aggregate signature does not verify",
        hint: "an operator signed another message; drop its signature",
        fields: { signers: signatures.size },
      });
    }
    const nonSigners = this.cfg.operators.filter((o) => !signatures.has(o.index) && quorums.some((q) => (o.stakes.get(q) ?? 0n) > 0n)).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    return {
      batchHeader,
      blobInclusionInfo: { blobCertificate, blobIndex: 0, inclusionProof },
      // The registry keeps one entry of history, so every index into it is 0; the lists still
      // have the lengths EigenLayer's BLSSignatureChecker requires, and the verifier checks them.
      nonSignerStakesAndSignature: {
        nonSignerQuorumBitmapIndices: nonSigners.map(() => 0),
        nonSignerPubkeys: nonSigners.map((o) => g1ToAffine(o.key.pubkeyG1)),
        quorumApks: quorums.map((q) => g1ToAffine(quorumApk(this.cfg.operators, q))),
        apkG2: g2ToAffine(apkG2),
        sigma: g1ToAffine(sigma),
        quorumApkIndices: quorums.map(() => 0),
        totalStakeIndices: quorums.map(() => 0),
        nonSignerStakeIndices: quorums.map((q) => nonSigners.filter((o) => (o.stakes.get(q) ?? 0n) > 0n).map(() => 0)),
      },
      signedQuorumNumbers: Uint8Array.from(quorums),
    };
  }
}
