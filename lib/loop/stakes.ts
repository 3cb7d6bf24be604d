// Stakes behind data, and their slashing, on L2: each contributor of the image datanet stakes on
// its samples (proving one of them under the datanet's root); the attester files evidence against
// the contributors whose examples the adapter itself flags (mean self-influence, the signal that
// finds flipped labels); an accused contributor may challenge inside the window. Unchallenged, the
// stake is slashed once the window has passed (a share to the reporter, the rest to the reward
// pool); challenged, the adjudicator decides on an audit of the contributor's labels, and the
// decision is recorded with the hash of its reasons.
import type { Wallet } from "ethers";
import type { GradientStore } from "../attribution/gradients.js";
import { DataInf } from "../attribution/methods/datainf.js";
import type { TraceableModel } from "../attribution/model.js";
import { sha256Hex } from "../files.js";
import type { Datanet } from "../intelligence/datanets.js";
import type { TrainingSet } from "./classifier.js";
import { LoopError } from "./errors.js";
import type { L2Ledger, LoopBlock } from "./l2.js";
import { type LoopContracts, sampleProof } from "./steps.js";

/** DataStakes.Status, by its index. */
export const CASE_STATUS = ["None", "Open", "Challenged", "Slashed", "Dismissed"] as const;

/** Each contributor of `datanet` stakes `amount`, proving its first sample under the datanet's root; one L2 block. */
export async function stakeContributors(l2: L2Ledger, c: LoopContracts, datanet: Datanet, walletOf: (address: string) => Wallet, amount: bigint): Promise<LoopBlock> {
  return l2.send(
    "contributors stake",
    datanet.contributors.map((k) => {
      const p = sampleProof(
        datanet,
        datanet.manifest.samples.findIndex((s) => datanet.manifest.contributors[s.contributor]!.address === k.address),
      );
      return l2.call(`${k.name} stakes`, walletOf(k.address), c.stakes, "stake", [datanet.id, p.index, p.sampleHash, p.proof], amount);
    }),
  );
}

/** One contributor's examples as the adapter sees them: mean self-influence, and how many. */
export interface ContributorSelfInfluence {
  contributor: string;
  examples: number;
  meanSelfInfluence: number;
}

/** What the attester files: per-contributor self-influence and the hash of the per-example scores it comes from. */
export interface SelfInfluenceEvidence {
  scores: Float64Array;
  byContributor: ContributorSelfInfluence[];
  /** sha256 of the scores (float64, little-endian): the evidence hash filed on chain. */
  evidenceHash: string;
}

/**
 * DataInf self-influence of every training example of the run (g_i^T H^-1 g_i: how much an example
 * is needed to fit itself, high for a label the rest of the data contradicts), averaged per
 * contributor, highest first.
 */
export async function selfInfluenceEvidence(adapter: { model: TraceableModel; params: Float64Array }, train: TrainingSet, store?: GradientStore): Promise<SelfInfluenceEvidence> {
  const scores = await new DataInf().selfInfluence({ model: adapter.model, params: adapter.params, train: train.batch, test: train.batch, l2: 0, gradients: store });
  const sums = new Map<string, { sum: number; n: number }>();
  train.contributorOf.forEach((a, i) => {
    const s = sums.get(a) ?? { sum: 0, n: 0 };
    s.sum += scores[i]!;
    s.n += 1;
    sums.set(a, s);
  });
  const byContributor = [...sums.entries()].map(([contributor, s]) => ({ contributor, examples: s.n, meanSelfInfluence: s.sum / s.n })).sort((a, b) => b.meanSelfInfluence - a.meanSelfInfluence);
  return { scores, byContributor, evidenceHash: `0x${sha256Hex(new Uint8Array(scores.buffer, scores.byteOffset, scores.byteLength))}` };
}

/** The adjudicator's audit of a contributor's samples: the fraction whose label differs from the reference label. */
export function labelAudit(datanet: Datanet, contributor: string): { samples: number; mislabeled: number; fraction: number } {
  const k = datanet.contributors.findIndex((x) => x.address.toLowerCase() === contributor.toLowerCase());
  if (k < 0) throw new LoopError("loop/not-a-contributor", `${contributor} gave no samples to ${datanet.name}`, "audit one of the datanet's contributors", { contributor, datanet: datanet.name });
  let samples = 0;
  let mislabeled = 0;
  for (let i = 0; i < datanet.n; i++) {
    if (datanet.contributorOf[i] !== k) continue;
    samples += 1;
    if (datanet.y[i] !== datanet.yTrue[i]) mislabeled += 1;
  }
  return { samples, mislabeled, fraction: samples ? mislabeled / samples : 0 };
}

/** A case as DataStakes holds it. */
export interface StakeCase {
  caseId: bigint;
  contributor: string;
  reporter: string;
  evidenceHash: string;
  deadline: bigint;
  status: (typeof CASE_STATUS)[number];
  challengeHash: string;
  decisionHash: string;
  slashed: bigint;
}

/** The case `caseId` read from L2. */
export async function stakeCase(c: LoopContracts, caseId: bigint): Promise<StakeCase> {
  const k = await c.stakes.caseOf(caseId);
  return {
    caseId,
    contributor: k.contributor,
    reporter: k.reporter,
    evidenceHash: k.evidenceHash,
    deadline: k.deadline,
    status: CASE_STATUS[Number(k.status)]!,
    challengeHash: k.challengeHash,
    decisionHash: k.decisionHash,
    slashed: k.slashed,
  };
}

/** The attester files the same evidence against each contributor in `accused`; one L2 block; returns the case ids in order. */
export async function fileEvidence(
  l2: L2Ledger,
  c: LoopContracts,
  attester: Wallet,
  datanetId: string,
  accused: readonly string[],
  evidenceHash: string,
): Promise<{ caseIds: bigint[]; block: LoopBlock }> {
  const block = await l2.send(
    "file evidence",
    accused.map((a) => l2.call(`evidence against ${a.slice(0, 10)}…`, attester, c.stakes, "fileEvidence", [datanetId, a, evidenceHash])),
  );
  const caseIds = block.calls.map((call) => {
    for (const log of call.receipt.logs) {
      const parsed = c.stakes.interface.parseLog(log);
      if (parsed?.name === "EvidenceFiled") return parsed.args[0] as bigint;
    }
    throw new LoopError("loop/evidence-not-filed", `the evidence transaction ${call.receipt.hash} left no EvidenceFiled event`, "file evidence on a DataStakes contract", {
      txHash: call.receipt.hash,
    });
  });
  return { caseIds, block };
}

/** The accused contributor challenges its case with the hash of its answer; one L2 block. */
export async function challengeCase(l2: L2Ledger, c: LoopContracts, contributor: Wallet, caseId: bigint, answerHash: string): Promise<LoopBlock> {
  return l2.send("challenge", [l2.call(`challenge case ${caseId}`, contributor, c.stakes, "challenge", [caseId, answerHash])]);
}

/** The adjudicator decides a challenged case (upheld: slashed); one L2 block. */
export async function decideCase(l2: L2Ledger, c: LoopContracts, adjudicator: Wallet, caseId: bigint, upheld: boolean, decisionHash: string): Promise<LoopBlock> {
  return l2.send("decide", [l2.call(`decide case ${caseId}`, adjudicator, c.stakes, "decide", [caseId, upheld, decisionHash])]);
}

/** Anyone slashes unchallenged cases whose window has passed; one L2 block. */
export async function slashExpired(l2: L2Ledger, c: LoopContracts, caller: Wallet, caseIds: readonly bigint[]): Promise<LoopBlock> {
  return l2.send(
    "slash",
    caseIds.map((id) => l2.call(`slash case ${id}`, caller, c.stakes, "slash", [id])),
  );
}
