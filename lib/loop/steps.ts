// The loop's steps on L2, one L2 block each: contracts deployed, datanets registered by their
// contributors, the models registered by their owner, the served inferences' receipts recorded,
// fees paid by customers, the fees split, each inference's attribution recorded with its reward
// epoch, and the contributors' claims.
import { encodeBytes32String, getAddress, type Wallet } from "ethers";
import type { InferenceRecord } from "../attribution/onchain.js";
import { DEFAULT_FEE_SPLIT_PATH, type FeeSplit, loadFeeSplit } from "../attribution/payouts.js";
import type { LabContract } from "../chain/contract-types.js";
import { contractAddress, encodeCall, revertedWith } from "../chain/contracts.js";
import { fromRoot } from "../files.js";
import { type Datanet, merkleTreeOf } from "../intelligence/datanets.js";
import { datanetRegistration, type ModelRecordInput, modelIdArgs, modelRegistration } from "../intelligence/factory/chain.js";
import { type ReceiptBatch, signReceiptBatch } from "../serving/receipts.js";
import { LoopError } from "./errors.js";
import type { L2Ledger, LoopBlock } from "./l2.js";
import type { Claim, RewardBook } from "./reward-book.js";

/** DataStakes' terms: the least stake, the challenge window and the reporter's share of a slash. */
export interface StakeTerms {
  minStake: bigint;
  challengeWindowS: number;
  reporterShareBps: number;
}

/** 0.05 ETH at stake, 10 s to challenge (five L2 blocks), a tenth of a slash to the reporter. */
export const DEFAULT_STAKE_TERMS: StakeTerms = { minStake: 5n * 10n ** 16n, challengeWindowS: 10, reporterShareBps: 1000 };

export interface LoopContracts {
  datanets: LabContract<"DatanetRegistry">;
  models: LabContract<"ModelRegistry">;
  attribution: LabContract<"AttributionRegistry">;
  distributor: LabContract<"RewardDistributor">;
  /** OpenLoRA's receipt batches: the served inferences the attributions are of. */
  receipts: LabContract<"InferenceReceipts">;
  /** Contributors' stakes on their samples, and the cases filed against them. */
  stakes: LabContract<"DataStakes">;
}

/**
 * The registries, the receipts contract, the distributor and the stakes contract, deployed by the
 * operator (owner, attester, adjudicator and the one inference server whose receipt batches are
 * accepted). InferenceReceipts and DataStakes send the data share of fees and slashed stakes to
 * the distributor's reward pool.
 */
export async function deployLoopContracts(
  l2: L2Ledger,
  operator: Wallet,
  split: FeeSplit = loadFeeSplit(fromRoot(DEFAULT_FEE_SPLIT_PATH)),
  terms: StakeTerms = DEFAULT_STAKE_TERMS,
): Promise<{ contracts: LoopContracts; block: LoopBlock }> {
  const block = await l2.send("deploy contracts", [
    await l2.deployCall("DatanetRegistry", operator, "DatanetRegistry"),
    await l2.deployCall("AttributionRegistry", operator, "AttributionRegistry", [operator.address]),
    await l2.deployCall("RewardDistributor", operator, "RewardDistributor", [operator.address]),
  ]);
  const at = (i: number) => block.calls[i]!.receipt.contractAddress!;
  const dependentsBlock = await l2.send("deploy ModelRegistry and InferenceReceipts", [
    await l2.deployCall("ModelRegistry", operator, "ModelRegistry", [at(0)]),
    await l2.deployCall("InferenceReceipts", operator, "InferenceReceipts", [operator.address, at(2), split.dataBps, [operator.address]]),
    await l2.deployCall("DataStakes", operator, "DataStakes", [operator.address, at(0), at(2), terms.minStake, terms.challengeWindowS, terms.reporterShareBps, [operator.address]]),
  ]);
  const contracts = {
    datanets: l2.contract("DatanetRegistry", at(0)),
    attribution: l2.contract("AttributionRegistry", at(1)),
    distributor: l2.contract("RewardDistributor", at(2)),
    receipts: l2.contract("InferenceReceipts", dependentsBlock.calls[1]!.receipt.contractAddress!),
    models: l2.contract("ModelRegistry", dependentsBlock.calls[0]!.receipt.contractAddress!),
    stakes: l2.contract("DataStakes", dependentsBlock.calls[2]!.receipt.contractAddress!),
  };
  return { contracts, block };
}

/** Each datanet registered by its first contributor, with every contributor and sample count. */
export async function registerDatanets(l2: L2Ledger, c: LoopContracts, datanets: readonly Datanet[], walletOf: (address: string) => Wallet): Promise<LoopBlock> {
  return l2.send(
    "register datanets",
    datanets.map((d) => l2.call(`register ${d.name}`, walletOf(d.contributors[0]!.address), c.datanets, "registerDatanet", datanetRegistration(d))),
  );
}

/** A sample's leaf in its datanet's manifest tree and the proof a contributor shows for it. */
export interface SampleProof {
  index: number;
  contributor: string;
  sampleHash: string;
  proof: string[];
}

/** The proof that sample `index` of the datanet is `contributor`'s. */
export function sampleProof(d: Pick<Datanet, "manifest">, index: number): SampleProof {
  if (!Number.isInteger(index) || index < 0 || index >= d.manifest.samples.length) {
    throw new LoopError("loop/no-sample", `the datanet has no sample ${index}`, `pick an index in 0..${d.manifest.samples.length - 1}`, { index, samples: d.manifest.samples.length });
  }
  const s = d.manifest.samples[index]!;
  return { index, contributor: d.manifest.contributors[s.contributor]!.address, sampleHash: s.hash, proof: merkleTreeOf(d.manifest).getProof(index) };
}

/** What DatanetRegistry.verifySample answers on L2 for a sample proof (true: the leaf is under the registered root). */
export async function verifySampleOnChain(c: LoopContracts, datanetId: string, p: SampleProof): Promise<boolean> {
  return c.datanets.verifySample(datanetId, p.index, p.contributor, p.sampleHash, p.proof);
}

/** The Factory's adapter registered by the model owner; returns its model id. */
export async function registerModels(l2: L2Ledger, c: LoopContracts, owner: Wallet, models: readonly ModelRecordInput[]): Promise<{ modelIds: string[]; block: LoopBlock }> {
  const modelIds: string[] = [];
  for (const m of models) modelIds.push(await c.models.modelIdOf(...modelIdArgs(m)));
  const block = await l2.send(
    "register models",
    models.map((m) => l2.call(`register ${m.name}`, owner, c.models, "registerModel", modelRegistration(m))),
  );
  return { modelIds, block };
}

/**
 * A sealed batch of OpenLoRA receipts recorded by its Merkle root on L2, signed by the operator as
 * the batch's server; returns the batch id the contract gave it (from its ReceiptBatchRecorded event).
 */
export async function recordReceipts(
  l2: L2Ledger,
  c: LoopContracts,
  operator: Wallet,
  batch: Pick<ReceiptBatch, "root" | "baseModelHash" | "receipts">,
): Promise<{ batchId: bigint; block: LoopBlock }> {
  const signature = await signReceiptBatch(c.receipts, operator, batch);
  const block = await l2.send("record served inferences", [
    l2.call("record receipt batch", operator, c.receipts, "recordReceiptBatch", [batch.root, batch.baseModelHash, batch.receipts.length, signature]),
  ]);
  for (const log of block.calls[0]!.receipt.logs) {
    const parsed = c.receipts.interface.parseLog(log);
    if (parsed?.name === "ReceiptBatchRecorded") return { batchId: parsed.args[0] as bigint, block };
  }
  throw new LoopError("loop/receipts-not-recorded", `the receipt batch ${batch.root} left no ReceiptBatchRecorded event`, "record receipt batches on an InferenceReceipts contract", {
    root: batch.root,
  });
}

export interface FeePayment {
  customer: Wallet;
  inferenceId: string;
  fee: bigint;
}

/** Customers pay each inference's fee to the operator; the transaction's data is the inference id. */
export async function payFees(l2: L2Ledger, operator: Wallet, payments: readonly FeePayment[]): Promise<LoopBlock> {
  return l2.send(
    "pay inference fees",
    payments.map((p) => ({ label: `fee ${p.inferenceId.slice(0, 10)}…`, from: p.customer, to: operator.address, data: p.inferenceId, value: p.fee })),
  );
}

/** The operator passes the model owner's and the stakers' shares on; the platform share stays. */
export async function splitFees(l2: L2Ledger, operator: Wallet, book: RewardBook, modelOwner: string, stakers: string): Promise<LoopBlock> {
  return l2.send("split fees", [
    { label: "model owner's share", from: operator, to: modelOwner, value: book.totals.modelOwner },
    { label: "stakers' share", from: operator, to: stakers, value: book.totals.stakers },
  ]);
}

/**
 * Per inference: the AttributionRegistry record (rewards root, evidence hash, data share) and a
 * RewardDistributor epoch funded with the data share. Returns the epoch ids in the book's order.
 */
export async function recordAttributions(l2: L2Ledger, c: LoopContracts, operator: Wallet, book: RewardBook, records: readonly InferenceRecord[]): Promise<{ epochIds: bigint[]; block: LoopBlock }> {
  if (records.length !== book.inferences.length) {
    throw new LoopError("loop/records", `${records.length} attribution records for ${book.inferences.length} inferences`, "give one record per paid inference, in the book's order", {
      records: records.length,
      inferences: book.inferences.length,
    });
  }
  const first = await c.distributor.epochCount();
  const calls = book.inferences.flatMap((r, k) => {
    const rec = records[k]!;
    if (rec.inferenceId !== r.inferenceId)
      throw new LoopError("loop/records", `record ${k} is for ${rec.inferenceId}, the book's inference ${k} is ${r.inferenceId}`, "keep records in the book's order", { index: k });
    return [
      l2.call(`record ${rec.method} attribution`, operator, c.attribution, "record", [
        rec.inferenceId,
        rec.modelId,
        rec.adapterId,
        rec.inputHash,
        rec.outputHash,
        encodeBytes32String(rec.method.slice(0, 31)),
        r.tree.root,
        rec.evidenceHash,
        r.parts.data,
      ]),
      l2.call("open reward epoch", operator, c.distributor, "createEpoch", [r.tree.root, "0x0000000000000000000000000000000000000000", r.parts.data, r.inferenceId], r.parts.data),
    ];
  });
  const block = await l2.send("record attributions and open epochs", calls);
  return { epochIds: book.inferences.map((_, k) => first + BigInt(k)), block };
}

/** Every contributor claims every leaf it has, each with its Merkle proof, verified by the distributor. */
export async function claimRewards(l2: L2Ledger, c: LoopContracts, claims: readonly Claim[], walletOf: (address: string) => Wallet): Promise<LoopBlock> {
  return l2.send(
    "claim rewards",
    claims.map((k) => l2.call(`claim epoch ${k.epochId}`, walletOf(k.account), c.distributor, "claim", [k.epochId, k.account, k.amount, k.proof])),
  );
}

/** One contributor's side of the claims: how many, what the book owed it, what it received. */
export interface ContributorPayout {
  account: string;
  claims: number;
  owed: bigint;
  /** Its balance's gain over the claims' block plus the fees it paid for claiming: what the distributor sent it. */
  received: bigint;
}

/**
 * Per contributor (in the order given), what the claims paid: balances read before and after the
 * claims' block, the claiming transactions' fees added back. A contributor was paid in full when
 * `received` equals `owed`, to the wei.
 */
export function payoutsReceived(
  book: Pick<RewardBook, "owed">,
  claims: readonly Pick<Claim, "account">[],
  block: { calls: readonly Pick<LoopBlock["calls"][number], "from" | "feePaid">[] },
  balances: { accounts: readonly string[]; before: readonly bigint[]; after: readonly bigint[] },
): ContributorPayout[] {
  const { accounts, before, after } = balances;
  if (before.length !== accounts.length || after.length !== accounts.length) {
    throw new LoopError(
      "loop/balances",
      `${accounts.length} accounts with ${before.length} balances before and ${after.length} after`,
      "read the balances of the same accounts before and after the claims",
      {
        accounts: accounts.length,
        before: before.length,
        after: after.length,
      },
    );
  }
  return accounts.map((account, i) => {
    const fees = block.calls.filter((c) => c.from === account).reduce((sum, c) => sum + c.feePaid, 0n);
    return { account, claims: claims.filter((k) => k.account === account).length, owed: book.owed.get(account) ?? 0n, received: after[i]! - before[i]! + fees };
  });
}

/** The Claimed events of a block, by (epoch, account). */
export function claimedEvents(c: LoopContracts, block: LoopBlock): { epochId: bigint; account: string; amount: bigint }[] {
  const out: { epochId: bigint; account: string; amount: bigint }[] = [];
  for (const call of block.calls) {
    for (const log of call.receipt.logs) {
      const parsed = c.distributor.interface.parseLog(log);
      if (parsed?.name === "Claimed") out.push({ epochId: parsed.args[0] as bigint, account: getAddress(parsed.args[1] as string), amount: parsed.args[2] as bigint });
    }
  }
  return out;
}

/**
 * What the distributor answers to a claim, without sending it: "accepted", or the custom error's
 * name (InvalidProof for a leaf that is not under the epoch's root, AlreadyClaimed, ...).
 */
export async function tryClaim(l2: L2Ledger, c: LoopContracts, from: Wallet, k: Claim): Promise<string> {
  try {
    await l2.l2.provider.call({ from: from.address, to: contractAddress(c.distributor), data: encodeCall(c.distributor, "claim", [k.epochId, k.account, k.amount, k.proof]) });
    return "accepted";
  } catch (e) {
    return revertedWith(c.distributor, e)?.name ?? "reverted";
  }
}
