// The money of the loop, without a chain: each paid inference's fee split by the fee
// configuration, its data share paid out by its attribution (exact integer wei), one reward tree
// per inference, and the checks the loop must pass: the payouts of every inference sum to its
// data share, and every leaf's proof verifies against its tree's root.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { Aggregate } from "../attribution/aggregation.js";
import { buildRewardTree, computePayouts, type FeeSplit, type Payouts, type RewardTree, splitFee } from "../attribution/payouts.js";
import { LoopError } from "./errors.js";

export interface PaidInference {
  /** bytes32 id of the inference (the fee transaction carries it). */
  inferenceId: string;
  fee: bigint;
  /** Its attribution, rolled up to contributors and datanets. */
  aggregate: Aggregate;
}

export interface InferenceRewards {
  inferenceId: string;
  fee: bigint;
  parts: ReturnType<typeof splitFee>;
  payouts: Payouts;
  tree: RewardTree;
}

export interface RewardBook {
  inferences: InferenceRewards[];
  /** Σ fees, and Σ of each part over the inferences. */
  totals: { fees: bigint; platform: bigint; modelOwner: bigint; stakers: bigint; data: bigint };
  /** What each contributor is owed over all inferences (checksummed address → wei). */
  owed: Map<string, bigint>;
}

/** Splits every fee and pays its data share by its own attribution; refuses an inference with nothing to pay. */
export function rewardBook(inferences: readonly PaidInference[], split: FeeSplit): RewardBook {
  if (inferences.length === 0) throw new LoopError("loop/no-inferences", "no paid inference to reward", "serve and pay at least one inference first", {});
  const seen = new Set<string>();
  const out: InferenceRewards[] = [];
  const totals = { fees: 0n, platform: 0n, modelOwner: 0n, stakers: 0n, data: 0n };
  const owed = new Map<string, bigint>();
  for (const inf of inferences) {
    if (seen.has(inf.inferenceId)) throw new LoopError("loop/duplicate-inference", `inference ${inf.inferenceId} is paid twice`, "give every inference its own id", { inferenceId: inf.inferenceId });
    seen.add(inf.inferenceId);
    const parts = splitFee(inf.fee, split);
    const payouts = computePayouts(inf.aggregate, parts.data);
    const tree = buildRewardTree(payouts.amounts);
    out.push({ inferenceId: inf.inferenceId, fee: inf.fee, parts, payouts, tree });
    totals.fees += inf.fee;
    totals.platform += parts.platform;
    totals.modelOwner += parts.modelOwner;
    totals.stakers += parts.stakers;
    totals.data += parts.data;
    for (const [a, v] of payouts.amounts) owed.set(a, (owed.get(a) ?? 0n) + v);
  }
  checkRewardBook({ inferences: out, totals, owed });
  return { inferences: out, totals, owed };
}

/**
 * The loop's invariants on the books: the parts of each fee sum to the fee, each inference's tree
 * commits to exactly its data share, every proof verifies against its root, and what is owed
 * sums to the fees' data share.
 */
export function checkRewardBook(book: RewardBook): void {
  let owedTotal = 0n;
  for (const v of book.owed.values()) owedTotal += v;
  for (const r of book.inferences) {
    const p = r.parts;
    if (p.platform + p.modelOwner + p.stakers + p.data !== r.fee) {
      throw new LoopError("loop/fee-split", `the parts of inference ${r.inferenceId}'s fee do not sum to it`, "split fees with splitFee()", { inferenceId: r.inferenceId });
    }
    if (r.tree.total !== p.data) {
      throw new LoopError(
        "loop/tree-total",
        `inference ${r.inferenceId}'s reward tree commits ${r.tree.total} wei, its data share is ${p.data}`,
        "build the tree from computePayouts() on the inference's data share",
        { inferenceId: r.inferenceId, tree: r.tree.total, data: p.data },
      );
    }
    for (const [i, [account, amount]] of r.tree.tree.entries()) {
      if (!StandardMerkleTree.verify(r.tree.root, ["address", "uint256"], [account, amount], r.tree.tree.getProof(i))) {
        throw new LoopError("loop/proof-invalid", `the proof of ${account} in inference ${r.inferenceId}'s tree does not verify`, "rebuild the tree; its leaves changed after the root was taken", {
          inferenceId: r.inferenceId,
          account,
        });
      }
    }
  }
  if (owedTotal !== book.totals.data) {
    throw new LoopError("loop/owed-total", `contributors are owed ${owedTotal} wei, the fees' data share is ${book.totals.data}`, "merge payouts by address without rounding", {
      owed: owedTotal,
      data: book.totals.data,
    });
  }
}

/** One claim a contributor can make: an inference's epoch, its leaf and proof. */
export interface Claim {
  inferenceId: string;
  epochId: bigint;
  account: string;
  amount: bigint;
  proof: string[];
}

/** Every leaf of every inference's tree as a claim against its epoch (epochIds in the book's order). */
export function claimsOf(book: RewardBook, epochIds: readonly bigint[]): Claim[] {
  if (epochIds.length !== book.inferences.length) {
    throw new LoopError("loop/epochs", `${epochIds.length} epochs for ${book.inferences.length} inferences`, "open one epoch per inference, in the book's order", {
      epochs: epochIds.length,
      inferences: book.inferences.length,
    });
  }
  return book.inferences.flatMap((r, k) =>
    [...r.tree.tree.entries()].map(([i, [account, amount]]) => ({ inferenceId: r.inferenceId, epochId: epochIds[k]!, account, amount, proof: r.tree.tree.getProof(i) })),
  );
}
