import { existsSync } from "node:fs";
import { join } from "node:path";
import { id, type TransactionRequest } from "ethers";
import { readJson, sha256File, writeJsonAtomic } from "../files.js";
import { landInteractiveRun, runContext } from "../run-context.js";
import { RESULTS_FILE, readResults, record } from "../results.js";
import { html } from "../notebook/display.js";
import { tableHtml } from "../notebook/table.js";
import { connect, type LabChain } from "./connect.js";
import { deployOrReuse } from "./contracts.js";
import { SettlementError } from "./errors.js";

export const SETTLEMENT_FILE = "settlement.json";
/** Key figures go on chain as integers: value × 1e6, rounded. */
export const FIGURE_SCALE = 1_000_000;

export interface Settlement {
  notebook: string;
  runId: string;
  runIdHash: string;
  notebookIdHash: string;
  resultsSha256: string;
  figures: Record<string, number>;
  chain: { kind: LabChain["kind"]; name: string; url?: string; chainId: string };
  registry: string;
  txHash: string;
  blockNumber: number;
  blockHash: string;
  from: string;
  rawTransaction: string;
  settledAt: string;
}

export function readSettlement(runDir: string): Settlement | undefined {
  const path = join(runDir, SETTLEMENT_FILE);
  return existsSync(path) ? readJson<Settlement>(path) : undefined;
}

export function scaleFigure(name: string, value: number): bigint {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new SettlementError(`key figure ${name} is ${value}, not a finite number`, "settle only finite numbers; record other values with record()");
  }
  return BigInt(Math.round(value * FIGURE_SCALE));
}

/**
 * Settles the current notebook run: writes its key figures into results.json, hashes the file,
 * and records notebook id, run id, that sha256 and the figures on the ResultsRegistry contract.
 * The signed transaction is kept in settlement.json so the run folder can be checked later,
 * even after an in-process chain has ended.
 */
export async function settle(figures: Record<string, number>, options: { chain?: LabChain } = {}): Promise<Settlement> {
  const ctx = runContext();
  if (readSettlement(ctx.runDir)) {
    throw new SettlementError(`run ${ctx.runId} is already settled`, "settle once, as the notebook's last step; restart the kernel for a new run");
  }
  const scaled = Object.entries(figures).map(([name, value]) => [name, scaleFigure(name, value)] as const);
  record("keyFigures", figures);
  const resultsSha256 = sha256File(join(ctx.runDir, RESULTS_FILE));
  const chain = options.chain ?? (await connect());
  const registry = await deployOrReuse(chain, "ResultsRegistry");
  const runIdHash = id(ctx.runId);
  const notebookIdHash = id(ctx.notebook);
  const data = registry.interface.encodeFunctionData("settle", [
    runIdHash, notebookIdHash, `0x${resultsSha256}`, scaled.map(([n]) => n), scaled.map(([, v]) => v),
  ]);
  const request: TransactionRequest = await chain.signer.populateTransaction({ to: await registry.getAddress(), data });
  const rawTransaction = await chain.signer.signTransaction(request);
  const response = await chain.signer.broadcastSigned(rawTransaction);
  const receipt = await response.wait();
  if (!receipt || receipt.status !== 1) {
    throw new SettlementError(`the settlement transaction ${response.hash} failed on ${chain.name}`,
      "check the signer has funds and the registry is deployed on this chain");
  }
  const settlement: Settlement = {
    notebook: ctx.notebook,
    runId: ctx.runId,
    runIdHash,
    notebookIdHash,
    resultsSha256,
    figures,
    chain: { kind: chain.kind, name: chain.name, url: chain.url, chainId: chain.chainId.toString() },
    registry: await registry.getAddress(),
    txHash: receipt.hash,
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
    from: chain.signer.address,
    rawTransaction,
    settledAt: new Date().toISOString(),
  };
  writeJsonAtomic(join(ctx.runDir, SETTLEMENT_FILE), settlement);
  // A live notebook's run lands beside the headless ones, checkable with ./lab verify RUN-ID.
  if (ctx.interactive) {
    landInteractiveRun({ settledAt: settlement.settledAt, resultsSha256, chain: settlement.chain,
      settlement: { registry: settlement.registry, txHash: settlement.txHash, blockNumber: settlement.blockNumber, from: settlement.from } });
  }
  const rows = [{ chain: `${chain.kind} ${chain.kind === "rpc" ? chain.url : chain.name} (id ${chain.chainId})`, registry: settlement.registry,
    transaction: receipt.hash, block: receipt.blockNumber, "results.json sha256": resultsSha256 }];
  html(tableHtml(rows, { caption: `Run ${ctx.runId} settled${ctx.interactive ? `: ./lab verify ${ctx.runId}` : ""}` }),
    `settled ${ctx.runId} on chain ${chain.chainId}: tx ${receipt.hash} (block ${receipt.blockNumber}), results sha256 ${resultsSha256}`);
  return settlement;
}

/** The values recorded so far in this run (for a notebook that wants to show them). */
export { readResults };
