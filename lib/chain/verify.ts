import { existsSync } from "node:fs";
import { join } from "node:path";
import { Contract, Transaction } from "ethers";
import { sha256File } from "../files.js";
import { RESULTS_FILE } from "../results.js";
import { connect, type LabChain } from "./connect.js";
import { artifact } from "./contracts.js";
import { ResultsTamperedError, SettlementError } from "./errors.js";
import { readSettlement, SETTLEMENT_FILE, type Settlement } from "./settle.js";

export interface Verification {
  settlement: Settlement;
  /** The signed transaction in settlement.json carries this results.json's hash. */
  transactionMatches: true;
  /** What the chain itself said: "matches", or why it was not asked. */
  onChain: "matches" | "skipped: the in-process chain ended with the process that settled it";
}

/**
 * Checks a run folder against its settlement: results.json hashes to the recorded sha256; the
 * signed transaction is the one recorded and calls ResultsRegistry.settle with that hash; and,
 * where the chain still runs (an RPC chain, or the caller's own in-process chain), the registry
 * holds the same hash for the run.
 */
export async function verifySettlement(runDir: string, options: { chain?: LabChain } = {}): Promise<Verification> {
  const settlement = readSettlement(runDir);
  const resultsPath = join(runDir, RESULTS_FILE);
  if (!settlement || !existsSync(resultsPath)) {
    const missing = settlement ? RESULTS_FILE : SETTLEMENT_FILE;
    throw new SettlementError({
      code: "settle/not-a-run-folder",
      message: `${runDir} has no ${missing}`,
      hint: "verify a run folder written by ./lab run whose notebook ends with settle()",
      fields: { runDir, missing },
    });
  }
  const actual = sha256File(resultsPath);
  if (actual !== settlement.resultsSha256) {
    throw new ResultsTamperedError({
      code: "settle/results-changed",
      message: `results.json in ${runDir} hashes to ${actual}, but run ${settlement.runId} settled ${settlement.resultsSha256}`,
      hint: "results.json was changed after settlement: restore the original, or re-run the notebook to settle new results",
      fields: { runDir, runId: settlement.runId, actual, settled: settlement.resultsSha256 },
    });
  }
  const tx = Transaction.from(settlement.rawTransaction);
  const registry = artifact("ResultsRegistry");
  const call = new Contract(settlement.registry, registry.abi).interface.parseTransaction({ data: tx.data });
  const consistent = tx.hash === settlement.txHash && tx.to?.toLowerCase() === settlement.registry.toLowerCase()
    && tx.from?.toLowerCase() === settlement.from.toLowerCase() && tx.chainId.toString() === settlement.chain.chainId
    && call?.name === "settle" && call.args[0] === settlement.runIdHash && String(call.args[2]).toLowerCase() === `0x${actual}`;
  if (!consistent) {
    throw new ResultsTamperedError({
      code: "settle/record-edited",
      message: `settlement.json of ${runDir} does not agree with its own signed transaction`,
      hint: "settlement.json was edited; re-run the notebook to settle again",
      fields: { runDir, txHash: settlement.txHash },
    });
  }
  let chain = options.chain;
  if (!chain && settlement.chain.kind === "rpc" && settlement.chain.url) {
    chain = await connect({ rpcUrl: settlement.chain.url, expectedChainId: BigInt(settlement.chain.chainId) });
  }
  if (!chain) {
    return { settlement, transactionMatches: true, onChain: "skipped: the in-process chain ended with the process that settled it" };
  }
  const onChain = new Contract(settlement.registry, registry.abi, chain.provider);
  const run = await onChain.runOf(settlement.runIdHash).catch(() => undefined);
  if (!run || String(run.resultsSha256).toLowerCase() !== `0x${actual}`) {
    const held = run ? String(run.resultsSha256) : null;
    throw new ResultsTamperedError({
      code: "settle/registry-mismatch",
      message: `the registry at ${settlement.registry} on chain ${chain.chainId} holds ${held ?? "no record"} for run ${settlement.runId}, not 0x${actual}`,
      hint: "check LAB_RPC_URL points at the chain the run settled on",
      fields: { registry: settlement.registry, chainId: chain.chainId, runId: settlement.runId, held, expected: `0x${actual}` },
    });
  }
  return { settlement, transactionMatches: true, onChain: "matches" };
}
