import { existsSync } from "node:fs";
import { join } from "node:path";
import type { LabChain } from "../chain/connect.js";
import { SettlementError } from "../chain/errors.js";
import { readSettlement, SETTLEMENT_FILE, type Settlement, scaleFigure, settleResults } from "../chain/settle-results.js";
import { fromRoot, readJson, sha256File, writeJsonAtomic } from "../files.js";
import { gitInfo, runVersions } from "../provenance.js";
import { RESULTS_FILE, record } from "../results.js";
import { landInteractiveRun, runContext } from "../run-context.js";
import { html } from "./display.js";
import { type ParameterValue, parseParameterCell } from "./params.js";
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
  // A live notebook's run lands beside the headless ones, checkable with ./lab verify RUN-ID, with
  // the manifest a headless run has (less the per-cell timings, which only the runner measures).
  if (ctx.interactive) {
    const parameters = liveParameters(ctx.notebook);
    const runtimePath = join(ctx.runDir, "runtime.json");
    const runtime = existsSync(runtimePath) ? readJson<{ tfBackend?: string; adapter?: unknown; threads?: number }>(runtimePath) : undefined;
    const notebookPath = join(notebooksDir(), `${ctx.notebook}.ipynb`);
    landInteractiveRun({
      startedAt: ctx.startedAt,
      finishedAt: settlement.settledAt,
      settledAt: settlement.settledAt,
      git: gitInfo(),
      lockfileSha256: sha256File(fromRoot("package-lock.json")),
      notebookSha256: existsSync(notebookPath) ? sha256File(notebookPath) : null,
      versions: runVersions(),
      tfBackend: runtime?.tfBackend ?? "not used",
      ...(runtime?.adapter ? { gpuAdapter: runtime.adapter } : {}),
      ...(runtime?.threads ? { tfThreads: runtime.threads } : {}),
      seed: parameters.used.seed ?? null,
      quick: parameters.used.quick ?? null,
      parameters: parameters.used,
      declared: parameters.declared,
      overrides: parameters.overrides,
      cells: "not measured in a live notebook (./lab run records each cell's time)",
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
  return withSummary(settlement, ctx.runId, resultsSha256);
}

/** The folder the live notebooks are read from (as ./lab notebook serves them). */
function notebooksDir(): string {
  return process.env.LAB_NOTEBOOKS_DIR ?? fromRoot("notebooks");
}

/**
 * A live run's parameters: those the notebook's parameters cell declares, with the values the
 * kernel holds now (tslab keeps a notebook's top-level variables on its exports object), so a
 * value changed in a cell is recorded as the one the run used.
 */
function liveParameters(notebook: string): { used: Record<string, ParameterValue>; declared: Record<string, ParameterValue>; overrides: Record<string, ParameterValue> } {
  const path = join(notebooksDir(), `${notebook}.ipynb`);
  if (!existsSync(path)) return { used: {}, declared: {}, overrides: {} };
  const nb = readJson<{ cells: Array<{ cell_type: string; source: string | string[]; metadata?: { tags?: string[] } }> }>(path);
  const cell = nb.cells.find((c) => c.cell_type === "code" && (c.metadata?.tags ?? []).includes("parameters"));
  const specs = cell ? parseParameterCell(Array.isArray(cell.source) ? cell.source.join("") : cell.source) : [];
  const kernel = (globalThis as { __tslab__?: { exports?: Record<string, unknown> } }).__tslab__?.exports ?? {};
  const declared = Object.fromEntries(specs.map((s) => [s.name, s.default]));
  const used = Object.fromEntries(specs.map((s) => [s.name, typeof kernel[s.name] === s.type ? (kernel[s.name] as ParameterValue) : s.default]));
  const overrides = Object.fromEntries(Object.entries(used).filter(([name, value]) => declared[name] !== value));
  return { used, declared, overrides };
}

/**
 * The settlement, shown in one line where a cell's last expression echoes it (a kernel prints it
 * with util.inspect): the run, chain, transaction and block, not the signed transaction's hex.
 * Every field stays on the object; JSON and property access are unchanged.
 */
function withSummary(settlement: Settlement, runId: string, resultsSha256: string): Settlement {
  const short = (hex: string) => (hex.length > 18 ? `${hex.slice(0, 10)}…${hex.slice(-6)}` : hex);
  const line = `Settlement { run: ${runId}, chain: ${settlement.chain.chainId}, tx: ${short(settlement.txHash)}, block: ${settlement.blockNumber}, results sha256: ${short(resultsSha256)} }`;
  Object.defineProperty(settlement, Symbol.for("nodejs.util.inspect.custom"), { value: () => line, enumerable: false });
  Object.defineProperty(settlement, "toString", { value: () => line, enumerable: false });
  return settlement;
}
