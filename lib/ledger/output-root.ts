// Output roots and their settlement on L1 (specs/protocol/proposals.md):
//   output_root = keccak256(version_byte ++ payload), version 0 payload =
//     state_root ++ withdrawal_storage_root ++ latest_block_hash
// with version_byte a 32-byte zero and withdrawal_storage_root the storage root of the
// L2ToL1MessagePasser predeploy. The proposer posts one every submissionInterval L2 blocks to the
// L2OutputOracle; a challenger who recomputes a different root deletes the proposal while the
// finalization period runs; after it the output is final.
import { keccak256, type Wallet } from "ethers";
import type { LabContract } from "../chain/contract-types.js";
import { connectContract, deployContract } from "../chain/contracts.js";
import { concatBytes, fromHex } from "./bytes.js";
import type { ChainHandle } from "./chains.js";
import { ConfigError } from "./errors.js";
import type { RollupConfig } from "./rollup-config.js";

export const L2_TO_L1_MESSAGE_PASSER = "0x4200000000000000000000000000000000000016";
export const OUTPUT_VERSION_V0 = `0x${"00".repeat(32)}`;

export interface OutputV0 {
  stateRoot: string;
  messagePasserStorageRoot: string;
  blockHash: string;
}

export function outputRootV0(o: OutputV0): string {
  return keccak256(concatBytes([fromHex(OUTPUT_VERSION_V0), fromHex(o.stateRoot), fromHex(o.messagePasserStorageRoot), fromHex(o.blockHash)]));
}

export interface OutputAtBlock extends OutputV0 {
  blockNumber: number;
  timestamp: number;
  outputRoot: string;
}

/** The output at an L2 block, from the block header and eth_getProof of the message passer. */
export async function outputAtBlock(l2: Pick<ChainHandle, "send">, blockNumber: number): Promise<OutputAtBlock> {
  const tag = `0x${blockNumber.toString(16)}`;
  const [block, proof] = await Promise.all([l2.send("eth_getBlockByNumber", [tag, false]), l2.send("eth_getProof", [L2_TO_L1_MESSAGE_PASSER, [], tag])]);
  if (!block) throw new ConfigError("output/unknown-block", { blockNumber });
  const o = { stateRoot: block.stateRoot, messagePasserStorageRoot: proof.storageHash, blockHash: block.hash };
  return { ...o, blockNumber, timestamp: Number(block.timestamp), outputRoot: outputRootV0(o) };
}

export interface OracleConfig {
  submissionInterval: number;
  l2BlockTime: number;
  startingBlockNumber: number;
  startingTimestamp: number;
  proposer: string;
  challenger: string;
  finalizationPeriodSeconds: number;
}

export async function deployL2OutputOracle(deployer: Wallet, c: OracleConfig): Promise<LabContract<"L2OutputOracle">> {
  return deployContract("L2OutputOracle", deployer, [c.submissionInterval, c.l2BlockTime, c.startingBlockNumber, c.startingTimestamp, c.proposer, c.challenger, c.finalizationPeriodSeconds]);
}

export interface Proposal {
  index: number;
  l2BlockNumber: number;
  outputRoot: string;
  l1Timestamp: number;
}

/** Proposes the output of every due L2 block up to `safeBlock`, in submission-interval steps. */
export async function proposeOutputs(
  oracle: LabContract<"L2OutputOracle">,
  proposer: Wallet,
  l2: Pick<ChainHandle, "send">,
  safeBlock: number,
  l1: Pick<ChainHandle, "send">,
  tamper?: (o: OutputAtBlock) => string,
): Promise<Proposal[]> {
  const o = connectContract("L2OutputOracle", oracle, proposer);
  const out: Proposal[] = [];
  for (;;) {
    const next = Number(await o.nextBlockNumber());
    if (next > safeBlock) return out;
    const output = await outputAtBlock(l2, next);
    const root = tamper ? tamper(output) : output.outputRoot;
    const head = await l1.send("eth_getBlockByNumber", ["latest", false]);
    const tx = await o.proposeL2Output(root, next, head.hash, Number(head.number));
    const receipt = await tx.wait();
    const l1Block = await l1.send("eth_getBlockByNumber", [`0x${receipt!.blockNumber.toString(16)}`, false]);
    out.push({ index: Number(await o.nextOutputIndex()) - 1, l2BlockNumber: next, outputRoot: root, l1Timestamp: Number(l1Block.timestamp) });
  }
}

export interface ChallengeResult {
  checked: number;
  deletedFrom?: number;
}

/** Recomputes each unfinalized proposal from the challenger's own L2 and deletes the first wrong one (and all after it). */
export async function challengeOutputs(oracle: LabContract<"L2OutputOracle">, challenger: Wallet, l2: Pick<ChainHandle, "send">): Promise<ChallengeResult> {
  const o = connectContract("L2OutputOracle", oracle, challenger);
  const n = Number(await o.nextOutputIndex());
  for (let i = 0; i < n; i++) {
    if (await o.isFinalized(i)) continue;
    const p = await o.getL2Output(i);
    const mine = await outputAtBlock(l2, Number(p.l2BlockNumber));
    if (mine.outputRoot !== p.outputRoot) {
      await (await o.deleteL2Outputs(i)).wait();
      return { checked: i + 1, deletedFrom: i };
    }
  }
  return { checked: n };
}

/** The development accounts that propose and challenge outputs on L1. */
export const PROPOSER_ACCOUNT = 17;
export const CHALLENGER_ACCOUNT = 18;
/** The OP Stack's finalization period on mainnet: seven days. */
export const FINALIZATION_PERIOD_SECONDS = 7 * 24 * 3600;

export interface OutputSettlementOptions {
  cfg: Pick<RollupConfig, "blockTime" | "genesisTimestamp">;
  /** L1, where the oracle is deployed (automine is switched on for the settlement). */
  l1: Pick<ChainHandle, "send" | "wallet">;
  /** The sequencer's L2, which the proposer reads, and the derived L2, which the challenger reads. */
  sequenced: Pick<ChainHandle, "send">;
  derived: Pick<ChainHandle, "send">;
  /** The derived safe head: outputs are proposed up to it. */
  safeBlock: number;
  /** L2 blocks between outputs (the oracle's submissionInterval). */
  interval: number;
  finalizationPeriodSeconds?: number;
  /**
   * The challenge drill: the output of the last interval is first proposed wrong (the state root in
   * place of the output root); the challenger deletes it, and the proposer proposes the right one.
   */
  wrongLastOutput?: boolean;
}

export interface OutputSettlement {
  oracle: LabContract<"L2OutputOracle">;
  /** The proposals that stand, in index order. */
  proposals: Proposal[];
  /** The wrong proposals the challenger deleted. */
  deleted: Proposal[];
  /** Each challenger pass, in order. */
  challenges: ChallengeResult[];
  /** The first index a challenger pass deleted from; undefined when every output was right. */
  challengedIndex?: number;
  /** For each standing proposal: final before the finalization period had passed, and after it. */
  finalizedBefore: boolean[];
  finalized: boolean[];
  finalizationPeriodSeconds: number;
}

/**
 * Output proposals (specs/protocol/proposals.md) from proposal to finality: the oracle is deployed
 * on L1, the proposer posts the sequencer's output every `interval` blocks up to the safe head, the
 * challenger recomputes each from the derived chain and deletes a wrong one, and L1 time passes
 * the finalization period.
 */
export async function settleOutputRoots(o: OutputSettlementOptions): Promise<OutputSettlement> {
  const finalizationPeriodSeconds = o.finalizationPeriodSeconds ?? FINALIZATION_PERIOD_SECONDS;
  await o.l1.send("evm_setAutomine", [true]);
  const proposer = o.l1.wallet(PROPOSER_ACCOUNT);
  const challenger = o.l1.wallet(CHALLENGER_ACCOUNT);
  const oracle = await deployL2OutputOracle(o.l1.wallet(0), {
    submissionInterval: o.interval,
    l2BlockTime: o.cfg.blockTime,
    startingBlockNumber: 0,
    startingTimestamp: o.cfg.genesisTimestamp,
    proposer: proposer.address,
    challenger: challenger.address,
    finalizationPeriodSeconds,
  });
  const proposals: Proposal[] = [];
  const deleted: Proposal[] = [];
  const challenges: ChallengeResult[] = [];
  if (o.wrongLastOutput) {
    proposals.push(...(await proposeOutputs(oracle, proposer, o.sequenced, o.safeBlock - o.interval, o.l1)));
    challenges.push(await challengeOutputs(oracle, challenger, o.derived));
    deleted.push(...(await proposeOutputs(oracle, proposer, o.sequenced, o.safeBlock, o.l1, (out) => out.stateRoot)));
    challenges.push(await challengeOutputs(oracle, challenger, o.derived));
  }
  proposals.push(...(await proposeOutputs(oracle, proposer, o.sequenced, o.safeBlock, o.l1)));
  challenges.push(await challengeOutputs(oracle, challenger, o.derived));
  const finalizedBefore = await finalizedFlags(oracle, proposals);
  await o.l1.send("evm_increaseTime", [finalizationPeriodSeconds]);
  await o.l1.send("evm_mine", []);
  const finalized = await finalizedFlags(oracle, proposals);
  const challengedIndex = challenges.find((c) => c.deletedFrom !== undefined)?.deletedFrom;
  return { oracle, proposals, deleted, challenges, challengedIndex, finalizedBefore, finalized, finalizationPeriodSeconds };
}

async function finalizedFlags(oracle: LabContract<"L2OutputOracle">, proposals: readonly Proposal[]): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const p of proposals) out.push(await oracle.isFinalized(p.index));
  return out;
}
