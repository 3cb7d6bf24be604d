import { join } from "node:path";
import type { LabChain } from "../chain/connect.js";
import { SettlementError } from "../chain/errors.js";
import { readSettlement, SETTLEMENT_FILE, type Settlement, scaleFigure, settleResults } from "../chain/settle-results.js";
import { sha256File, writeJsonAtomic } from "../files.js";
import { RESULTS_FILE, record } from "../results.js";
import { landInteractiveRun, runContext } from "../run-context.js";
import { html } from "./display.js";
import { tableHtml } from "./table.js";

/**
 * Settles the current notebook run, as its last step: records the key figures into
 * results.json, hashes the file, settles that hash and the figures on the ResultsRegistry
 * (lib/chain's settleResults), keeps the record in settlement.json and shows it; a live
 * notebook's run then lands in the runs folder.
 */
export async function settle(figures: Record<string, number>, options: { chain?: LabChain } = {}): Promise<Settlement> {
  const ctx = runContext();
  if (readSettlement(ctx.runDir)) {
    throw new SettlementError({
      code: "settle/already-settled",
      message: `run ${ctx.runId} is already settled`,
      hint: "settle once, as the notebook's last step; restart the kernel for a new run",
      fields: { runId: ctx.runId },
    });
  }
  for (const [name, value] of Object.entries(figures)) scaleFigure(name, value);
  record("keyFigures", figures);
  const resultsSha256 = sha256File(join(ctx.runDir, RESULTS_FILE));
  const settlement = await settleResults({ runId: ctx.runId, notebook: ctx.notebook, resultsSha256, figures }, options);
  writeJsonAtomic(join(ctx.runDir, SETTLEMENT_FILE), settlement);
  // A live notebook's run lands beside the headless ones, checkable with ./lab verify RUN-ID.
  if (ctx.interactive) {
    landInteractiveRun({
      settledAt: settlement.settledAt,
      resultsSha256,
      chain: settlement.chain,
      settlement: { registry: settlement.registry, txHash: settlement.txHash, blockNumber: settlement.blockNumber, from: settlement.from },
    });
  }
  const { chain } = settlement;
  const rows = [
    {
      chain: `${chain.kind} ${chain.kind === "rpc" ? chain.url : chain.name} (id ${chain.chainId})`,
      registry: settlement.registry,
      transaction: settlement.txHash,
      block: settlement.blockNumber,
      "results.json sha256": resultsSha256,
    },
  ];
  html(
    tableHtml(rows, { caption: `Run ${ctx.runId} settled${ctx.interactive ? `: ./lab verify ${ctx.runId}` : ""}` }),
    `settled ${ctx.runId} on chain ${chain.chainId}: tx ${settlement.txHash} (block ${settlement.blockNumber}), results sha256 ${resultsSha256}`,
  );
  return settlement;
}
