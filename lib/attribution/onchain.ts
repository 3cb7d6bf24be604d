/**
 * Settling one attributed inference on chain: the AttributionRegistry record (model, adapter,
 * input/output hashes, method, rewards root, evidence hash) and a RewardDistributor epoch funded
 * with the data share, from which contributors claim with their Merkle proofs.
 */
import { encodeBytes32String, type Signer } from "ethers";
import type { LabChain, LabContract } from "../chain/index.js";
import { connectContract, deployOrReuse, revertedWith } from "../chain/index.js";
import { AttributionError } from "./errors.js";
import type { RewardTree } from "./payouts.js";

export interface InferenceRecord {
  inferenceId: string;
  modelId: string;
  adapterId: string;
  inputHash: string;
  outputHash: string;
  method: string;
  evidenceHash: string;
}

export interface Settled {
  registry: LabContract<"AttributionRegistry">;
  distributor: LabContract<"RewardDistributor">;
  epochId: bigint;
  txHashes: { record: string; epoch: string };
}

export async function settleAttribution(chain: LabChain, rec: InferenceRecord, tree: RewardTree, dataShare: bigint): Promise<Settled> {
  if (tree.total > dataShare) {
    throw new AttributionError({
      code: "rewards/tree-total-mismatch",
      message: `reward tree pays ${tree.total} wei but the data share is ${dataShare}`,
      hint: "build the tree from computePayouts() on the same data share",
      fields: { treeTotal: tree.total, dataShare },
    });
  }
  const owner = await chain.signer.getAddress();
  const registry = await deployOrReuse(chain, "AttributionRegistry", [owner]);
  const distributor = await deployOrReuse(chain, "RewardDistributor", [owner]);
  const r = await registry.record(rec.inferenceId, rec.modelId, rec.adapterId, rec.inputHash, rec.outputHash, encodeBytes32String(rec.method.slice(0, 31)), tree.root, rec.evidenceHash, tree.total);
  await r.wait();
  const epochId = await distributor.epochCount();
  const e = await distributor.createEpoch(tree.root, "0x0000000000000000000000000000000000000000", tree.total, rec.inferenceId, { value: tree.total });
  await e.wait();
  return { registry, distributor, epochId, txHashes: { record: r.hash, epoch: e.hash } };
}

/** A contributor claims its leaf; returns the transaction receipt. */
export async function claimReward(distributor: LabContract<"RewardDistributor">, claimer: Signer, epochId: bigint, tree: RewardTree) {
  const account = await claimer.getAddress();
  const { amount, proof } = tree.proofOf(account);
  const tx = await connectContract("RewardDistributor", distributor, claimer).claim(epochId, account, amount, proof);
  return { amount, receipt: await tx.wait() };
}

/** A claim as the distributor takes it: epoch, account, amount and Merkle proof. */
export interface RewardClaim {
  epochId: bigint;
  account: string;
  amount: bigint;
  proof: string[];
}

/** What the distributor answers to a claim: accepted, or its custom error with arguments ("InvalidProof(1, 0x…, 5)"). */
export interface ClaimAnswer {
  accepted: boolean;
  /** The custom error's name, when refused ("reverted" when the revert carries none the contract declares). */
  error?: string;
  /** "accepted", or "reverted: Name(arguments)". */
  outcome: string;
}

/** Asks the distributor, without sending a transaction, whether `claimer` may make this claim. */
export async function tryClaimReward(distributor: LabContract<"RewardDistributor">, claimer: Signer, claim: RewardClaim): Promise<ClaimAnswer> {
  try {
    await (distributor.connect(claimer) as typeof distributor).claim.staticCall(claim.epochId, claim.account, claim.amount, claim.proof);
    return { accepted: true, outcome: "accepted" };
  } catch (e) {
    const parsed = revertedWith(distributor, e);
    if (!parsed) return { accepted: false, error: "reverted", outcome: "reverted" };
    return { accepted: false, error: parsed.name, outcome: `reverted: ${parsed.name}(${parsed.args.join(", ")})` };
  }
}
