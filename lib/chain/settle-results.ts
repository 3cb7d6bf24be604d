import { existsSync } from "node:fs";
import { join } from "node:path";
import { id, type TransactionRequest } from "ethers";
import { readJson } from "../files.js";
import { connect, type LabChain } from "./connect.js";
import { deployOrReuse, encodeCall } from "./contracts.js";
import { SettlementError } from "./errors.js";

export const SETTLEMENT_FILE = "settlement.json";
/** Key figures go on chain as integers: value × 1e6, rounded. */
export const FIGURE_SCALE = 1_000_000;

/** What one run's results are, in the plain form the registry takes. */
export interface SettleRequest {
  runId: string;
  notebook: string;
  /** sha256 of the run's results.json, 64 hex digits without 0x. */
  resultsSha256: string;
  figures: Record<string, number>;
}

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

/** A key figure as the integer the registry stores; refuses what is not a finite number. */
export function scaleFigure(name: string, value: number): bigint {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new SettlementError({
      code: "settle/non-finite-figure",
      message: `key figure ${name} is ${value}, not a finite number`,
      hint: "settle only finite numbers; record other values with record()",
      fields: { figure: name, value: String(value) },
    });
  }
  return BigInt(Math.round(value * FIGURE_SCALE));
}

/**
 * Records notebook id, run id, the results sha256 and the scaled key figures on the
 * ResultsRegistry contract (deployed on first use) and returns the settlement record, signed
 * transaction included, so a run folder can be checked later, even after an in-process chain
 * has ended. Writes nothing: the caller keeps the record.
 */
export async function settleResults(request: SettleRequest, options: { chain?: LabChain } = {}): Promise<Settlement> {
  if (!/^[0-9a-f]{64}$/.test(request.resultsSha256)) {
    throw new SettlementError({
      code: "settle/bad-results-hash",
      message: `results sha256 "${request.resultsSha256}" is not 64 lower-case hex digits`,
      hint: "pass sha256File(results.json) as it returns it, without 0x",
      fields: { resultsSha256: request.resultsSha256 },
    });
  }
  const scaled = Object.entries(request.figures).map(([name, value]) => [name, scaleFigure(name, value)] as const);
  const chain = options.chain ?? (await connect());
  const registry = await deployOrReuse(chain, "ResultsRegistry");
  const runIdHash = id(request.runId);
  const notebookIdHash = id(request.notebook);
  const data = encodeCall(registry, "settle", [runIdHash, notebookIdHash, `0x${request.resultsSha256}`, scaled.map(([n]) => n), scaled.map(([, v]) => v)]);
  const transaction: TransactionRequest = await chain.signer.populateTransaction({ to: await registry.getAddress(), data });
  const rawTransaction = await chain.signer.signTransaction(transaction);
  const response = await chain.signer.broadcastSigned(rawTransaction);
  const receipt = await response.wait();
  if (receipt?.status !== 1) {
    throw new SettlementError({
      code: "settle/transaction-failed",
      message: `the settlement transaction ${response.hash} failed on ${chain.name}`,
      hint: "check the signer has funds and the registry is deployed on this chain",
      fields: { txHash: response.hash, chain: chain.name },
    });
  }
  return {
    notebook: request.notebook,
    runId: request.runId,
    runIdHash,
    notebookIdHash,
    resultsSha256: request.resultsSha256,
    figures: request.figures,
    chain: { kind: chain.kind, name: chain.name, url: chain.url, chainId: chain.chainId.toString() },
    registry: await registry.getAddress(),
    txHash: receipt.hash,
    blockNumber: receipt.blockNumber,
    blockHash: receipt.blockHash,
    from: chain.signer.address,
    rawTransaction,
    settledAt: new Date().toISOString(),
  };
}
