// The operator set: N simulated EigenDA operators with stakes per quorum and BN254 BLS keys. Each
// operator checks what the disperser sends it (length proof, chunk count against its assignment,
// every chunk's opening proof) before it signs the batch header, keeps its chunks and serves them.
import { createHash } from "node:crypto";
import type { Rng } from "../random.js";
import type { Assignment, OperatorStake } from "./assignment.js";
import type { VersionedBlobParams } from "./blob-params.js";
import { type BlsKeyPair, blsKeyPair, operatorId, signMessage } from "./bls.js";
import { mcl } from "./bn254.js";
import { type BlobHeaderV2, blobKey } from "./certificate.js";
import { DAVerificationError } from "./errors.js";
import { verifyBlobCommitment, verifyChunk } from "./kzg-bn254.js";
import { type Chunk, encodingLayout } from "./reed-solomon.js";
import type { Srs } from "./srs.js";

/** How an operator behaves: honest; offline (neither signs nor serves); withholding (signs, never serves). */
export type OperatorBehaviour = "honest" | "offline" | "withholding";

export interface StoredChunk {
  chunk: Chunk;
  proof: mcl.G1;
}

export class Operator implements OperatorStake {
  readonly id: string;
  behaviour: OperatorBehaviour = "honest";
  private readonly store = new Map<string, StoredChunk[]>();

  constructor(
    readonly index: number,
    readonly key: BlsKeyPair,
    readonly stakes: Map<number, bigint>,
  ) {
    this.id = operatorId(key.pubkeyG1);
  }

  /**
   * StoreChunks: verifies the blob's length proof, the chunk count against this operator's
   * assignment, and each chunk's proof; stores them. Refuses (and so will not sign) otherwise.
   */
  storeChunks(srs: Srs, header: BlobHeaderV2, params: VersionedBlobParams, assignment: Assignment, chunks: readonly StoredChunk[]): void {
    const key = blobKey(header);
    const fail = (code: string, message: string, fields: Record<string, number | string>): never => {
      throw new DAVerificationError({
        code,
        message,
        hint: "the disperser sent chunks that do not match the blob header; the operator does not sign",
        fields: { operator: this.index, blobKey: key, ...fields },
      });
    };
    if (!verifyBlobCommitment(srs, header.commitment)) fail("da/bad-length-proof", "the blob commitment's length proof does not verify", { length: header.commitment.length });
    const layout = encodingLayout(header.commitment.length, params);
    const expected = assignment.get(this.id) ?? [];
    if (chunks.length !== expected.length || chunks.some((c, i) => c.chunk.index !== expected[i])) {
      fail("da/wrong-chunk-assignment", `received ${chunks.length} chunks; the assignment gives ${expected.length}`, { received: chunks.length, assigned: expected.length });
    }
    for (const c of chunks) {
      if (!verifyChunk(srs, header.commitment.commitment, layout, c.chunk, c.proof)) fail("da/bad-chunk-proof", `chunk ${c.chunk.index} does not open the commitment`, { chunk: c.chunk.index });
    }
    this.store.set(key, chunks.slice());
  }

  /** Signs a batch header hash, unless offline. */
  sign(batchHeaderHash: string): mcl.G1 | undefined {
    return this.behaviour === "offline" ? undefined : signMessage(this.key, batchHeaderHash);
  }

  /** Serves its chunks of a blob (none when offline or withholding). */
  serve(key: string): StoredChunk[] {
    return this.behaviour === "honest" ? (this.store.get(key) ?? []) : [];
  }

  holds(key: string): number {
    return this.store.get(key)?.length ?? 0;
  }
}

export interface OperatorSetOptions {
  count: number;
  quorums: readonly number[];
  /** Stakes are drawn log-normally from the rng; every operator is in every quorum. */
  rng: Rng;
}

/** N operators with seeded keys and log-normal stakes (in wei-like units) in each quorum. */
export function makeOperators(o: OperatorSetOptions): Operator[] {
  const out: Operator[] = [];
  for (let i = 0; i < o.count; i++) {
    const seed = createHash("sha256").update(`operator ${i} ${o.rng.next()}`).digest();
    const stakes = new Map<number, bigint>();
    for (const q of o.quorums) stakes.set(q, BigInt(Math.round(Math.exp(1.0 * o.rng.normal()) * 1e6)) * 10n ** 12n);
    out.push(new Operator(i, blsKeyPair(seed), stakes));
  }
  return out;
}

export function totalStake(operators: readonly OperatorStake[], quorum: number): bigint {
  return operators.reduce((a, o) => a + (o.stakes.get(quorum) ?? 0n), 0n);
}

/** The registry's aggregate public key of a quorum: the sum of its members' G1 keys. */
export function quorumApk(operators: readonly Operator[], quorum: number): mcl.G1 {
  let apk = new mcl.G1();
  for (const o of operators) if ((o.stakes.get(quorum) ?? 0n) > 0n) apk = mcl.add(apk, o.key.pubkeyG1);
  return apk;
}
