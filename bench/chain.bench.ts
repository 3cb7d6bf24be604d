/**
 * Gas per function of the on-chain economics, from real transactions on the in-process chain
 * (receipts' gasUsed; view functions by eth_estimateGas): fees paid in the call, receipt batches
 * signed by their server, reward epochs and claims beside the common OpenZeppelin-parts Merkle
 * distributor, stakes and slashing, run settlement, and an operator key's registration with and
 * without its proof of possession (the pairing check's cost).
 */
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, type BaseContract, dataSlice, getAddress, id, keccak256, type Signer, type TransactionResponse } from "ethers";
import { buildRewardTree } from "../lib/attribution/payouts.js";
import { printTable } from "../lib/bench/bench-tables.js";
import type { ContractName, LabContract } from "../lib/chain/contract-types.js";
import { type DeployArguments, deployContract } from "../lib/chain/contracts.js";
import { connect } from "../lib/chain/index.js";
import { blsKeyPair, operatorId } from "../lib/da/bls.js";
import { initBn254 } from "../lib/da/bn254.js";
import { operatorAccount, pubkeyRegistration } from "../lib/da/l1.js";
import { ReceiptLog, receiptOf, receiptProof, receiptStruct, recordReceiptBatch } from "../lib/serving/receipts.js";

const chain = await connect();
const admin = chain.signer;
const [customer, owner, c0, c1, stranger] = [1, 2, 3, 4, 5].map((i) => chain.wallet(i));
const rows: { contract: string; function: string; case: string; gas: number }[] = [];

/** Deploys from the admin account, typed by the contract's ABI. */
function deploy<N extends ContractName>(name: N, ...args: DeployArguments<N>): Promise<LabContract<N>> {
  return deployContract(name, admin, ...args);
}
async function gasOf(contract: string, fn: string, what: string, sent: Promise<TransactionResponse>): Promise<void> {
  const receipt = await (await sent).wait();
  rows.push({ contract, function: fn, case: what, gas: Number(receipt!.gasUsed) });
}
/** The same typed contract, sending from `s`. */
const as = <C extends BaseContract>(c: C, s: Signer): C => c.connect(s) as C;

// Fees paid in the call, and receipt batches signed by their server
const distributor = await deploy("RewardDistributor", [admin.address]);
const receipts = await deploy("InferenceReceipts", [admin.address, await distributor.getAddress(), 5000, [admin.address]]);
await gasOf("InferenceReceipts", "registerModel", "first model of an owner", as(receipts, owner).registerModel(id("model"), 1000n));
const key = await receipts.modelKeyOf(owner.address, id("model"));
await gasOf("InferenceReceipts", "recordInference", "paid; data share to the pool (first)", as(receipts, customer).recordInference(key, id("p"), id("o"), 300, 100, { value: 400_000n }));
await gasOf("InferenceReceipts", "recordInference", "paid; data share to the pool (later)", as(receipts, customer).recordInference(key, id("p2"), id("o2"), 300, 100, { value: 400_000n }));
await gasOf("InferenceReceipts", "withdraw", "owner's shares", as(receipts, owner).withdraw());
const log = new ReceiptLog();
for (let i = 0; i < 64; i++) {
  log.add(
    receiptOf(
      {
        id: `r${i}`,
        adapter: "a",
        adapterSha256: "11".repeat(32),
        baseSha256: "22".repeat(32),
        prompt: [1, i],
        tokens: [i, 2],
        finishReason: "length",
        timings: { queuedMs: 0, firstTokenMs: 1, totalMs: 2, coldStart: { from: "slot", ms: 0 } },
      },
      "wasm",
    ),
  );
}
const batch = log.seal();
const recorded = await recordReceiptBatch(receipts, batch, admin);
rows.push({
  contract: "InferenceReceipts",
  function: "recordReceiptBatch",
  case: "64 receipts, server-signed (EIP-712 + ecrecover)",
  gas: Number((await chain.provider.getTransactionReceipt(recorded.txHash))!.gasUsed),
});
rows.push({
  contract: "InferenceReceipts",
  function: "verifyReceipt (view)",
  case: "64-leaf batch",
  gas: Number(await receipts.verifyReceipt.estimateGas(recorded.batchId, receiptStruct(batch.receipts[5]!), receiptProof(batch, 5))),
});

// Reward epochs and claims, beside the reference pattern (ERC-20 both)
const token = await deploy("RewardTestToken");
await (await token.mint(admin.address, 10n ** 24n)).wait();
const accounts = Array.from({ length: 64 }, (_, i) => getAddress(dataSlice(id(`account ${i}`), 12)));
const amounts = new Map(accounts.map((a, i) => [a, BigInt(1000 + i)]));
const tree = buildRewardTree(amounts);
await (await token.approve(await distributor.getAddress(), tree.total)).wait();
await gasOf("RewardDistributor", "createEpoch", "ERC-20, pulled from the funder", distributor.createEpoch(tree.root, await token.getAddress(), tree.total, id("a")));
await gasOf(
  "RewardDistributor",
  "createEpoch",
  "native, funded in the call",
  distributor.createEpoch(tree.root, "0x0000000000000000000000000000000000000000", tree.total, id("b"), { value: tree.total }),
);
await gasOf("RewardDistributor", "fundRewardPool", "anyone adds value", as(distributor, stranger).fundRewardPool({ value: tree.total }));
await gasOf("RewardDistributor", "createEpochFromPool", "native, from the pool", distributor.createEpochFromPool(tree.root, tree.total, id("c")));
const claimant = accounts[7]!;
const p = tree.proofOf(claimant);
await gasOf("RewardDistributor", "claim", `ERC-20, ${amounts.size}-leaf tree (proof of ${p.proof.length})`, as(distributor, stranger).claim(0, claimant, p.amount, p.proof));
await gasOf("RewardDistributor", "claim", `native, ${amounts.size}-leaf tree (proof of ${p.proof.length})`, as(distributor, stranger).claim(1, claimant, p.amount, p.proof));
const refLeaves = accounts.map((a, i) => [i, a, BigInt(1000 + i)] as [number, string, bigint]);
const refTree = StandardMerkleTree.of(refLeaves, ["uint256", "address", "uint256"]);
const reference = await deploy("ReferenceMerkleDistributor", [await token.getAddress(), refTree.root]);
await (await token.transfer(await reference.getAddress(), tree.total)).wait();
await gasOf(
  "ReferenceMerkleDistributor",
  "claim",
  `ERC-20, ${refLeaves.length}-leaf tree (proof of ${refTree.getProof(8).length})`,
  as(reference, stranger).claim(8, refLeaves[8]![1], refLeaves[8]![2], refTree.getProof(8)),
);

// Stakes and slashing
const datanets = await deploy("DatanetRegistry");
const stakes = await deploy("DataStakes", [admin.address, await datanets.getAddress(), await distributor.getAddress(), 10n ** 16n, 60n, 1000, [admin.address]]);
const leaves = [c0, c1].map((c, i) => [i, c.address, id(`s${i}`)] as [number, string, string]);
const dtree = StandardMerkleTree.of(leaves, ["uint256", "address", "bytes32"]);
const datanetId = keccak256(AbiCoder.defaultAbiCoder().encode(["string", "bytes32"], ["net", dtree.root]));
await gasOf("DatanetRegistry", "registerDatanet", "2 contributors", datanets.registerDatanet(datanetId, "net", dtree.root, id("m"), [c0.address, c1.address], [1n, 1n]));
await gasOf("DataStakes", "stake", "with a sample proof", as(stakes, c0).stake(datanetId, 0, id("s0"), dtree.getProof(0), { value: 10n ** 16n }));
await (await as(stakes, c1).stake(datanetId, 1, id("s1"), dtree.getProof(1), { value: 10n ** 16n })).wait();
await gasOf("DataStakes", "fileEvidence", "opens the window", stakes.fileEvidence(datanetId, c0.address, id("evidence")));
await (await stakes.fileEvidence(datanetId, c1.address, id("evidence"))).wait();
await gasOf("DataStakes", "challenge", "by the accused", as(stakes, c1).challenge(1, id("answer")));
await gasOf("DataStakes", "decide", "dismissed, decision recorded", stakes.decide(1, false, id("audit")));
await chain.increaseTime(61);
await gasOf("DataStakes", "slash", "after the window; to reporter and pool", as(stakes, stranger).slash(0));
await gasOf("DataStakes", "withdrawReward", "reporter's share", stakes.withdrawReward());
await gasOf("DataStakes", "startUnbonding", "", as(stakes, c1).startUnbonding(datanetId));
await chain.increaseTime(61);
await gasOf("DataStakes", "withdrawStake", "after unbonding", as(stakes, c1).withdrawStake(datanetId));

// Run settlement, and operator keys with and without their proof of possession
const results = await deploy("ResultsRegistry");
await gasOf("ResultsRegistry", "settle", "3 figures, under the settling account", results.settle(id("run"), id("nb"), id("sha"), ["a", "b", "c"], [1n, 2n, 3n]));
await initBn254();
const registry = await deploy("OperatorRegistry", [admin.address]);
const unchecked = await deploy("UncheckedOperatorRegistry", [admin.address]);
const key1 = blsKeyPair(new Uint8Array(32).fill(3));
const reg = await pubkeyRegistration(registry, key1, operatorAccount(operatorId(key1.pubkeyG1)));
await gasOf(
  "OperatorRegistry",
  "registerOperator",
  "2 quorums, proof of possession (pairing)",
  registry.registerOperator(operatorAccount(operatorId(key1.pubkeyG1)), reg.pubkey, reg.pubkeyG2, reg.possessionSignature, [0, 1], [5n, 5n]),
);
await gasOf("UncheckedOperatorRegistry", "registerOperatorUnchecked", "2 quorums, no proof (the hole)", unchecked.registerOperatorUnchecked(reg.pubkey, [0, 1], [5n, 5n]));

printTable(
  "Gas per function of the on-chain economics (in-process chain)",
  rows.map((r) => ({ contract: r.contract, function: r.function, case: r.case, gas: r.gas })),
  0,
);
const ours = rows.find((r) => r.contract === "RewardDistributor" && r.function === "claim" && r.case.startsWith("ERC-20"))!.gas;
const ref = rows.find((r) => r.contract === "ReferenceMerkleDistributor")!.gas;
const pop = rows.find((r) => r.function === "registerOperator")!.gas;
const nopop = rows.find((r) => r.function === "registerOperatorUnchecked")!.gas;
printTable("Ratios measured in this run", [
  { comparison: "RewardDistributor.claim / reference Merkle distributor claim (ERC-20)", ratio: ours / ref },
  { comparison: "registration with / without proof of possession", ratio: pop / nopop },
]);
await chain.close();
