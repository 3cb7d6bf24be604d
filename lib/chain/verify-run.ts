import { existsSync } from "node:fs";
import { join } from "node:path";
import { Transaction, Wallet } from "ethers";
import { readJson, sha256File } from "../files.js";
import { RESULTS_FILE } from "../results.js";
import { connect, type LabChain } from "./connect.js";
import { contractAt } from "./contracts.js";
import { ResultsTamperedError, SettlementError } from "./errors.js";
import { isDevAddress } from "./keys.js";
import { readSettlement, SETTLEMENT_FILE, type Settlement } from "./settle-results.js";

export interface Verification {
  settlement: Settlement;
  /** The signed transaction in settlement.json carries this results.json's hash. */
  transactionMatches: true;
  /** manifest.json names the same hash and transaction ("absent" for a run folder without one). */
  manifest: "matches" | "absent";
  /** The address that signed the settlement transaction: the account the registry keeps the run under. */
  signer: string;
  /** The signer is one of Hardhat's public development accounts: anyone can sign as it. */
  developmentKey: boolean;
  /** What the chain itself said: "matches" (the registry's record of the run under the signer's
   *  account holds this hash), or why it was not asked ("skipped: …"). */
  onChain: "matches" | `skipped: ${string}`;
}

function refuse(code: string, fields: Record<string, string>, message: string, hint: string): never {
  throw new ResultsTamperedError({ code, fields, message, hint });
}

/** Why the chain cannot speak for this run any more, or undefined when it still holds the settlement's block. */
async function chainGone(chain: LabChain, settlement: Settlement): Promise<string | undefined> {
  const block = await chain.provider.getBlock(settlement.blockNumber).catch(() => null);
  if (!block || block.hash !== settlement.blockHash) {
    return `the chain at ${chain.name} no longer holds block ${settlement.blockNumber} the run settled in (a restarted development chain starts over), so only the signed transaction was checked`;
  }
  if ((await chain.provider.getCode(settlement.registry)) === "0x") {
    return `the chain at ${chain.name} has no registry at ${settlement.registry} any more, so only the signed transaction was checked`;
  }
  return undefined;
}

/**
 * Checks a run folder against its settlement: results.json hashes to the recorded sha256; the
 * signed transaction is the one recorded and calls ResultsRegistry.settle with that hash; the
 * manifest names the same; and, where the chain still holds the settlement (an RPC chain, or the
 * caller's own in-process chain), the registry holds the same hash for the run under the account
 * that signed it (ResultsRegistry keeps each account's runs apart, so a run id taken by another
 * account is another run). A chain that no
 * longer holds the settlement's block (restarted) is reported as such, not as a changed run.
 */
export async function verifySettlement(runDir: string, options: { chain?: LabChain } = {}): Promise<Verification> {
  const settlement = readSettlement(runDir);
  const resultsPath = join(runDir, RESULTS_FILE);
  if (!settlement || !existsSync(resultsPath)) {
    throw new SettlementError({
      code: "verify/not-settled",
      fields: { runDir, missing: settlement ? RESULTS_FILE : SETTLEMENT_FILE },
      message: `${runDir} has no ${settlement ? RESULTS_FILE : SETTLEMENT_FILE}`,
      hint: "verify a run folder written by ./lab run whose notebook ends with settle()",
    });
  }
  const actual = sha256File(resultsPath);
  if (actual !== settlement.resultsSha256) {
    refuse(
      "verify/results-changed",
      { runDir, actual, settled: settlement.resultsSha256 },
      `results.json in ${runDir} hashes to ${actual}, but run ${settlement.runId} settled ${settlement.resultsSha256}`,
      "results.json was changed after settlement: restore the original, or re-run the notebook to settle new results",
    );
  }
  const tx = Transaction.from(settlement.rawTransaction);
  const call = contractAt("ResultsRegistry", settlement.registry).interface.parseTransaction({ data: tx.data });
  const consistent =
    tx.hash === settlement.txHash &&
    tx.to?.toLowerCase() === settlement.registry.toLowerCase() &&
    tx.from?.toLowerCase() === settlement.from.toLowerCase() &&
    tx.chainId.toString() === settlement.chain.chainId &&
    call?.name === "settle" &&
    call.args[0] === settlement.runIdHash &&
    String(call.args[2]).toLowerCase() === `0x${actual}`;
  if (!consistent) {
    refuse("verify/settlement-edited", { runDir }, `settlement.json of ${runDir} does not agree with its own signed transaction`, "settlement.json was edited; re-run the notebook to settle again");
  }
  const manifestPath = join(runDir, "manifest.json");
  const manifest = existsSync(manifestPath) ? readJson<{ resultsSha256?: string; settlement?: { txHash?: string } }>(manifestPath) : undefined;
  if (manifest && (manifest.resultsSha256 !== actual || manifest.settlement?.txHash !== settlement.txHash)) {
    refuse(
      "verify/manifest-differs",
      { runDir },
      `manifest.json of ${runDir} names another results hash or transaction than the settlement`,
      "manifest.json was edited; re-run the notebook for a consistent run folder",
    );
  }
  const base = { settlement, transactionMatches: true as const, manifest: manifest ? ("matches" as const) : ("absent" as const), signer: tx.from!, developmentKey: isDevAddress(tx.from!) };
  let chain = options.chain;
  if (!chain && settlement.chain.kind === "rpc" && settlement.chain.url) {
    try {
      // Reading needs no key of one's own: a throwaway one satisfies connect() on any chain.
      chain = await connect({ rpcUrl: settlement.chain.url, expectedChainId: BigInt(settlement.chain.chainId), privateKey: Wallet.createRandom().privateKey });
    } catch (error) {
      return { ...base, onChain: `skipped: ${settlement.chain.url} cannot be asked (${(error as Error).message})` };
    }
  }
  if (!chain) {
    return { ...base, onChain: "skipped: the in-process chain ended with the process that settled it" };
  }
  const gone = await chainGone(chain, settlement);
  if (gone) return { ...base, onChain: `skipped: ${gone}` };
  const onChain = contractAt("ResultsRegistry", settlement.registry, chain.provider);
  const run = await onChain.runOf(tx.from!, settlement.runIdHash).catch(() => undefined);
  if (!run || String(run.resultsSha256).toLowerCase() !== `0x${actual}` || String(run.recorder).toLowerCase() !== tx.from!.toLowerCase()) {
    refuse(
      "verify/registry-differs",
      { runDir, registry: settlement.registry, chainId: String(chain.chainId), settledBy: tx.from! },
      `the registry at ${settlement.registry} on chain ${chain.chainId} holds ${run?.recordedAt ? run.resultsSha256 : "no record"} for run ${settlement.runId} settled by ${tx.from}, not 0x${actual}`,
      "check LAB_RPC_URL points at the chain the run settled on",
    );
  }
  return { ...base, onChain: "matches" };
}
