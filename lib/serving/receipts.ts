import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { encodeBytes32String, type Signer, sha256, type TypedDataDomain } from "ethers";
import { DEFAULT_FEE_SPLIT_PATH, type FeeSplit, loadFeeSplit } from "../attribution/payouts.js";
import type { LabChain } from "../chain/connect.js";
import type { LabContract } from "../chain/contract-types.js";
import { bytes32Hex, deployOrReuse } from "../chain/contracts.js";
import { fromRoot } from "../files.js";
import { OpenLoraError } from "./errors.js";
import type { GenerationResult } from "./scheduler.js";

/**
 * Receipts of served inferences, the raw material the Attribution Network pays on. One receipt
 * per completion: which adapter (sha256 of its safetensors file) on which base (sha256 of the
 * base checkpoint), hashes of prompt and output (sha256 of the token ids as little-endian
 * int32, so the hash does not depend on a tokenizer's text form), token counts, whether the
 * stream was cut, and backend; the measured latency travels beside the leaf, not in it, so the
 * same run gives the same root (a wall-clock figure would make every root unique). Receipts are batched under one Merkle root (OpenZeppelin's StandardMerkleTree:
 * leaf = keccak256(keccak256(abi.encode(fields))), sorted pairs), and the root is recorded by
 * InferenceReceipts.recordReceiptBatch together with the server's EIP-712 signature of it
 * (only a key holding the contract's SERVER_ROLE is accepted); anyone holding a receipt and its
 * proof checks it against the chain with InferenceReceipts.verifyReceipt.
 */
export interface InferenceReceipt {
  /** sha256 of the request id (bytes32 hex). */
  requestId: string;
  adapterHash: string;
  baseModelHash: string;
  promptHash: string;
  outputHash: string;
  tokensIn: number;
  tokensOut: number;
  /** True when the client disconnected before the completion ended: tokensOut and outputHash then cover the tokens written to it, not the ones generated. */
  cut: boolean;
  /** The tfjs backend, as a bytes32 short string. */
  backend: string;
  /** Arrival to last token, as the server measured it: kept beside the leaf in the sealed batch, not committed by the root. */
  latencyMicros: number;
}

/** ABI types of a leaf, in the order of the contract's ServedInference struct. */
export const RECEIPT_LEAF_ENCODING = ["bytes32", "bytes32", "bytes32", "bytes32", "bytes32", "uint32", "uint32", "bool", "bytes32"] as const;

type Leaf = [string, string, string, string, string, number, number, boolean, string];

export function tokenHash(tokens: readonly number[]): string {
  return sha256(new Uint8Array(Int32Array.from(tokens).buffer));
}

/** The receipt of a served completion; `delivered` is what reached the client (all of it unless the stream was cut). */
export function receiptOf(result: GenerationResult, backend: string, delivered: readonly number[] = result.tokens): InferenceReceipt {
  return {
    requestId: requestIdOf(result.id),
    adapterHash: bytes32Hex(result.adapterSha256),
    baseModelHash: bytes32Hex(result.baseSha256),
    promptHash: tokenHash(result.prompt),
    outputHash: tokenHash(delivered),
    tokensIn: result.prompt.length,
    tokensOut: delivered.length,
    latencyMicros: Math.round(result.timings.totalMs * 1000),
    backend: encodeBytes32String(backend),
    cut: result.finishReason === "cancelled",
  };
}

export function receiptLeaf(r: InferenceReceipt): Leaf {
  return [r.requestId, r.adapterHash, r.baseModelHash, r.promptHash, r.outputHash, r.tokensIn, r.tokensOut, r.cut, r.backend];
}

export interface ReceiptBatch {
  root: string;
  baseModelHash: string;
  receipts: InferenceReceipt[];
  /** StandardMerkleTree.dump(): enough to rebuild the tree and prove any receipt. */
  tree: ReturnType<StandardMerkleTree<Leaf>["dump"]>;
}

/**
 * Receipts waiting for a batch, and the most recent sealed batches. Memory stays bounded: a
 * sealed batch is handed to whoever writes it out (the server's recordBatch) and only the last
 * `keepBatches` stay here, for proofs; the counts cover every batch sealed.
 */
export class ReceiptLog {
  private pendingReceipts: InferenceReceipt[] = [];
  readonly batches: ReceiptBatch[] = [];
  readonly keepBatches: number;
  sealedBatches = 0;
  sealedReceipts = 0;
  /** Request ids (receipt form) of the pending receipts and the kept batches, with how many receipts name each. */
  private readonly recorded = new Map<string, number>();

  constructor(opts: { keepBatches?: number } = {}) {
    this.keepBatches = opts.keepBatches ?? 16;
  }

  add(r: InferenceReceipt): void {
    this.pendingReceipts.push(r);
    this.recorded.set(r.requestId, (this.recorded.get(r.requestId) ?? 0) + 1);
  }

  /** Where a receipt of this request id (requestIdOf's form) is kept: pending, in a kept batch, or nowhere. */
  holds(requestId: string): "pending" | "sealed" | undefined {
    if (!this.recorded.has(requestId)) return undefined;
    return this.pendingReceipts.some((r) => r.requestId === requestId) ? "pending" : "sealed";
  }

  pending(): readonly InferenceReceipt[] {
    return this.pendingReceipts;
  }

  /** Puts every pending receipt under one Merkle root; refuses an empty batch. */
  seal(): ReceiptBatch {
    const receipts = this.pendingReceipts;
    if (receipts.length === 0) throw new OpenLoraError({ code: "receipts/empty", status: 409, message: "no receipts are waiting to be sealed", hint: "serve at least one completion first" });
    const bases = new Set(receipts.map((r) => r.baseModelHash));
    if (bases.size !== 1)
      throw new OpenLoraError({ code: "receipts/mixed-bases", fields: { bases: [...bases] }, message: `pending receipts name ${bases.size} base models`, hint: "seal one batch per base model" });
    const tree = StandardMerkleTree.of(receipts.map(receiptLeaf), [...RECEIPT_LEAF_ENCODING]);
    const batch: ReceiptBatch = { root: tree.root, baseModelHash: receipts[0].baseModelHash, receipts, tree: tree.dump() };
    this.pendingReceipts = [];
    this.batches.push(batch);
    if (this.batches.length > this.keepBatches) for (const dropped of this.batches.splice(0, this.batches.length - this.keepBatches)) this.forget(dropped.receipts);
    this.sealedBatches++;
    this.sealedReceipts += receipts.length;
    return batch;
  }

  private forget(receipts: readonly InferenceReceipt[]): void {
    for (const r of receipts) {
      const n = (this.recorded.get(r.requestId) ?? 0) - 1;
      if (n > 0) this.recorded.set(r.requestId, n);
      else this.recorded.delete(r.requestId);
    }
  }
}

/** A receipt's request id: sha256 of the completion id the server answered with ("cmpl-…"). */
export function requestIdOf(completionId: string): string {
  return sha256(new TextEncoder().encode(completionId));
}

/** The index in its batch of the receipt of this completion; refused when the batch holds none. */
export function receiptIndexOf(batch: Pick<ReceiptBatch, "receipts">, completionId: string): number {
  const requestId = requestIdOf(completionId);
  const i = batch.receipts.findIndex((r) => r.requestId === requestId);
  if (i < 0)
    throw new OpenLoraError({
      code: "receipts/not-in-batch",
      status: 404,
      fields: { completionId, requestId },
      message: `no receipt of completion ${completionId} in the batch`,
      hint: "seal the batch after the completion was served, and look in the batch that sealed it",
    });
  return i;
}

/** The Merkle proof of receipt i of a batch. */
export function receiptProof(batch: ReceiptBatch, i: number): string[] {
  return StandardMerkleTree.load(batch.tree).getProof(i);
}

/** Checks a receipt and proof against a root off chain (what verifyReceipt does on chain). */
export function verifyReceiptProof(root: string, receipt: InferenceReceipt, proof: string[]): boolean {
  return StandardMerkleTree.verify(root, [...RECEIPT_LEAF_ENCODING], receiptLeaf(receipt), proof);
}

/** The ServedInference struct as the contract takes it. */
export function receiptStruct(r: InferenceReceipt) {
  return {
    requestId: r.requestId,
    adapterHash: r.adapterHash,
    baseModelHash: r.baseModelHash,
    promptHash: r.promptHash,
    outputHash: r.outputHash,
    tokensIn: r.tokensIn,
    tokensOut: r.tokensOut,
    cut: r.cut,
    backend: r.backend,
  };
}

export interface RecordedBatch {
  batchId: bigint;
  txHash: string;
  root: string;
}

/**
 * The InferenceReceipts contract on this chain and the RewardDistributor its fees' data share
 * funds (deployed on first use); the chain's signer is the admin, the distributor's owner and the
 * one server whose batches are accepted.
 */
export async function deployReceipts(chain: LabChain, split: FeeSplit = loadFeeSplit(fromRoot(DEFAULT_FEE_SPLIT_PATH))): Promise<LabContract<"InferenceReceipts">> {
  const pool = await deployOrReuse(chain, "RewardDistributor", [chain.signer.address]);
  return deployOrReuse(chain, "InferenceReceipts", [chain.signer.address, await pool.getAddress(), split.dataBps, [chain.signer.address]]);
}

/** The EIP-712 type a server signs for each batch (InferenceReceipts.RECEIPT_BATCH_TYPEHASH). */
export const RECEIPT_BATCH_TYPES = {
  ReceiptBatch: [
    { name: "root", type: "bytes32" },
    { name: "baseModelHash", type: "bytes32" },
    { name: "count", type: "uint32" },
  ],
};

/** The server's EIP-712 signature of a batch, in the contract's own domain (ERC-5267 eip712Domain). */
export async function signReceiptBatch(receipts: LabContract<"InferenceReceipts">, server: Signer, batch: Pick<ReceiptBatch, "root" | "baseModelHash" | "receipts">): Promise<string> {
  const [, name, version, chainId, verifyingContract] = await receipts.eip712Domain();
  const domain: TypedDataDomain = { name, version, chainId, verifyingContract };
  return server.signTypedData(domain, RECEIPT_BATCH_TYPES, { root: batch.root, baseModelHash: batch.baseModelHash, count: batch.receipts.length });
}

/**
 * Records a sealed batch's root on an InferenceReceipts contract, signed by `server` (by default
 * the contract's runner, which then both signs and submits); returns the batch id.
 */
export async function recordReceiptBatch(receipts: LabContract<"InferenceReceipts">, batch: ReceiptBatch, server: Signer = receipts.runner as Signer): Promise<RecordedBatch> {
  const signature = await signReceiptBatch(receipts, server, batch);
  const tx = await receipts.recordReceiptBatch(batch.root, batch.baseModelHash, batch.receipts.length, signature);
  const mined = await tx.wait();
  const event = (mined?.logs ?? [])
    .map((l) => {
      try {
        return receipts.interface.parseLog(l);
      } catch {
        return null;
      }
    })
    .find((e) => e?.name === "ReceiptBatchRecorded");
  if (!event)
    throw new OpenLoraError({
      code: "receipts/not-recorded",
      fields: { txHash: tx.hash },
      message: `transaction ${tx.hash} emitted no ReceiptBatchRecorded`,
      hint: "check that the address is an InferenceReceipts contract with receipt batches",
    });
  return { batchId: event.args.batchId as bigint, txHash: tx.hash, root: batch.root };
}

/** What the Attribution Network reads back: the batch as the chain has it. */
export async function readReceiptBatch(
  receipts: LabContract<"InferenceReceipts">,
  batchId: bigint,
): Promise<{ root: string; baseModelHash: string; count: number; server: string; submitter: string }> {
  const b = await receipts.receiptBatch(batchId);
  return { root: b.root, baseModelHash: b.baseModelHash, count: Number(b.count), server: b.server, submitter: b.submitter };
}

/**
 * A receipt as the Attribution Network's inference record (lib/attribution/onchain.ts,
 * InferenceRecord): the inference is the request, the model the base, the adapter its hash, the
 * input and output the prompt and output hashes. Checked against its batch on chain first: a
 * receipt the chain does not prove is refused before anyone is paid for it.
 */
export async function attributionRecordOf(receipts: LabContract<"InferenceReceipts">, batchId: bigint, receipt: InferenceReceipt, proof: string[], method: string, evidenceHash: string) {
  const ok = await receipts.verifyReceipt(batchId, receiptStruct(receipt), proof);
  if (!ok)
    throw new OpenLoraError({
      code: "receipts/unproven",
      status: 422,
      fields: { batchId, requestId: receipt.requestId },
      message: `receipt ${receipt.requestId.slice(0, 18)}… is not under receipt batch ${batchId}'s root`,
      hint: "use the receipt and proof of the sealed batch (receiptProof) and that batch's id",
    });
  return { inferenceId: receipt.requestId, modelId: receipt.baseModelHash, adapterId: receipt.adapterHash, inputHash: receipt.promptHash, outputHash: receipt.outputHash, method, evidenceHash };
}
