import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { LabError, describeError } from "../errors.js";
import { fromRoot, readJson, sha256File, writeJsonAtomic } from "../files.js";
import { unknownKey } from "../overrides.js";
import { coerceParameter, injectedCellSource, ParameterError, type ParameterSpec, type ParameterValue } from "../notebook/params.js";
import { textTable } from "../notebook/table.js";
import { SETTLEMENT_FILE, type Settlement } from "../chain/settle.js";
import { gitInfo, packageVersion } from "./environment.js";
import { typesetMath } from "./math.js";
import { cellSource, notebookParameters, parametersCellIndex, readNotebook, resolveNotebooks, type NotebookFile, type NotebookJson } from "./notebooks.js";

export interface RunOptions {
  names: string[];
  quick: boolean;
  /** Raw `--set key=value` overrides, typed per notebook before anything runs. */
  sets: Record<string, string>;
  /** Seconds a single cell may run. */
  cellTimeoutS: number;
  runsDir: string;
}

export interface NotebookPlan {
  notebook: NotebookFile;
  nb: NotebookJson;
  specs: ParameterSpec[];
  overrides: Record<string, ParameterValue>;
  parameters: Record<string, ParameterValue>;
}

export interface RunOutcome {
  notebook: string;
  ok: boolean;
  runId: string;
  runDir?: string;
  seconds: number;
  txHash?: string;
  error?: string;
}

export class NotebookRunError extends LabError {}

export function runsDir(): string {
  return process.env.LAB_RUNS_DIR ?? fromRoot("experiments", "runs");
}

/** Resolves notebooks and types every override before anything runs: a wrong key or type runs nothing. */
export function planRuns(options: RunOptions): NotebookPlan[] {
  const notebooks = resolveNotebooks(options.names);
  if (notebooks.length === 0) throw new LabError("there are no notebooks to run", "add notebooks/NN-name.ipynb");
  const plans = notebooks.map((notebook) => {
    const nb = readNotebook(notebook.path);
    let specs: ParameterSpec[];
    try {
      specs = notebookParameters(nb);
    } catch (error) {
      throw new ParameterError(`${notebook.name}: ${(error as LabError).message}`, (error as LabError).hint ?? "fix the parameters cell");
    }
    return { notebook, nb, specs, overrides: {} as Record<string, ParameterValue>, parameters: {} as Record<string, ParameterValue> };
  });
  const raw = { ...options.sets, ...(options.quick ? { quick: "true" } : {}) };
  for (const [key, value] of Object.entries(raw)) {
    const declaring = plans.filter((p) => p.specs.some((s) => s.name === key));
    if (declaring.length === 0) {
      const known = [...new Set(plans.flatMap((p) => p.specs.map((s) => s.name)))];
      throw unknownKey(key, known, `no selected notebook (${plans.map((p) => p.notebook.name).join(", ")})`);
    }
    for (const plan of declaring) {
      const spec = plan.specs.find((s) => s.name === key)!;
      plan.overrides[key] = coerceParameter(spec, value, plan.notebook.name);
    }
  }
  for (const plan of plans) {
    plan.parameters = Object.fromEntries(plan.specs.map((s) => [s.name, plan.overrides[s.name] ?? s.default]));
  }
  return plans;
}

/** The notebook with an `injected-parameters` cell after its `parameters` cell (papermill's convention). */
export function injectParameters(plan: NotebookPlan): NotebookJson {
  const nb: NotebookJson = structuredClone(plan.nb);
  if (Object.keys(plan.overrides).length === 0) return nb;
  const index = parametersCellIndex(nb);
  nb.cells.splice(index + 1, 0, {
    id: "injected-parameters",
    cell_type: "code",
    metadata: { tags: ["injected-parameters"] },
    source: injectedCellSource(plan.overrides),
    outputs: [],
    execution_count: null,
  });
  return nb;
}

function newRunId(name: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${name}-${randomBytes(2).toString("hex")}`;
}

function stagingRoot(runs: string): string {
  return join(runs, "..", ".staging");
}

/** Removes staging folders whose process is gone (a run killed before it could clean up). */
function sweepStaging(root: string): void {
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root)) {
    const pid = Number(entry.split("-")[0]);
    let alive = false;
    try { process.kill(pid, 0); alive = pid !== 0; } catch { alive = false; }
    if (!alive) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

function cellTimings(nb: NotebookJson) {
  return nb.cells.map((cell, index) => {
    const ex = cell.metadata.execution ?? {};
    const start = ex["iopub.status.busy"];
    const end = ex["iopub.status.idle"];
    return {
      index: index + 1,
      type: cell.cell_type,
      tags: cell.metadata.tags ?? [],
      seconds: start && end ? (Date.parse(end) - Date.parse(start)) / 1000 : null,
    };
  }).filter((c) => c.type === "code");
}

interface ExecutorReply { ok: boolean; cell?: number | null; source?: string; ename?: string; evalue?: string; traceback?: string }

function execute(input: string, outNb: string, outHtml: string, env: NodeJS.ProcessEnv, timeoutS: number,
  onChild: (kill: () => void) => void): Promise<ExecutorReply> {
  const python = process.env.LAB_PYTHON ?? "python3";
  const script = fromRoot("lib", "runner", "execute_notebook.py");
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script, input, outNb, outHtml, fromRoot("notebooks"), process.env.LAB_KERNEL_NAME ?? "tslab", String(timeoutS)],
      { env, stdio: ["ignore", "pipe", "pipe"] });
    onChild(() => child.kill("SIGTERM"));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => { stdout += d; });
    child.stderr.on("data", (d) => { stderr += d; });
    child.on("error", (error) => reject(new NotebookRunError(`cannot start ${python} (${error.message})`,
      "run ./lab (it sets up Jupyter) or set LAB_PYTHON to a python3 with nbclient and nbconvert")));
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as ExecutorReply);
      } catch {
        resolve({ ok: false, cell: null, ename: `executor exited with code ${code}`, evalue: stderr.trim().split("\n").slice(-15).join("\n") });
      }
    });
  });
}

function firstLines(text: string, n: number): string {
  const lines = text.split("\n");
  return lines.slice(0, n).join("\n") + (lines.length > n ? "\n…" : "");
}

/**
 * Executes one planned notebook into a staging folder and, only if every cell ran and the
 * notebook settled, renames the folder into the runs folder: a failed or interrupted run leaves
 * nothing behind and never touches earlier runs.
 */
export async function runNotebook(plan: NotebookPlan, options: RunOptions, log: (line: string) => void = console.log): Promise<RunOutcome> {
  const runId = newRunId(plan.notebook.name);
  const staging = join(stagingRoot(options.runsDir), `${process.pid}-${runId}`);
  mkdirSync(staging, { recursive: true });
  const started = new Date();
  let kill: (() => void) | undefined;
  const onSignal = () => { kill?.(); rmSync(staging, { recursive: true, force: true }); process.exit(130); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const fail = (error: string): RunOutcome => {
    rmSync(staging, { recursive: true, force: true });
    return { notebook: plan.notebook.name, ok: false, runId, seconds: (Date.now() - started.getTime()) / 1000, error };
  };
  try {
    log(`▶ ${plan.notebook.name}  (run ${runId}${Object.keys(plan.overrides).length ? `, ${Object.entries(plan.overrides).map(([k, v]) => `${k}=${v}`).join(" ")}` : ""})`);
    const input = join(staging, ".input.ipynb");
    writeJsonAtomic(input, injectParameters(plan));
    const env = { ...process.env, LAB_RUN_DIR: staging, LAB_RUN_ID: runId, LAB_NOTEBOOK: plan.notebook.name };
    const reply = await execute(input, join(staging, "notebook.ipynb"), join(staging, "report.html"), env, options.cellTimeoutS, (k) => { kill = k; });
    rmSync(input, { force: true });
    if (!reply.ok) {
      const where = reply.cell === null || reply.cell === undefined ? "before any cell ran" : `cell ${reply.cell + 1}`;
      return fail(`${plan.notebook.name}, ${where}: ${reply.ename}: ${reply.evalue}` +
        (reply.source ? `\n--- cell ${(reply.cell ?? 0) + 1} source ---\n${firstLines(reply.source, 12)}` : "") +
        (reply.traceback ? `\n--- traceback ---\n${firstLines(stripVTControlCharacters(reply.traceback), 25)}` : ""));
    }
    const settlementPath = join(staging, SETTLEMENT_FILE);
    if (!existsSync(settlementPath)) {
      return fail(`${plan.notebook.name} ran but did not settle its results: end the notebook with \`await settle({...})\``);
    }
    const settlement = readJson<Settlement>(settlementPath);
    const reportPath = join(staging, "report.html");
    writeFileSync(reportPath, typesetMath(readFileSync(reportPath, "utf8")));
    const executed = readNotebook(join(staging, "notebook.ipynb"));
    const runtimePath = join(staging, "runtime.json");
    const runtime = existsSync(runtimePath) ? readJson<{ tfBackend: string; tfjsVersion: string }>(runtimePath) : undefined;
    const finished = new Date();
    writeJsonAtomic(join(staging, "manifest.json"), {
      runId,
      notebook: plan.notebook.name,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      seconds: (finished.getTime() - started.getTime()) / 1000,
      git: gitInfo(),
      lockfileSha256: sha256File(fromRoot("package-lock.json")),
      notebookSha256: sha256File(plan.notebook.path),
      versions: { node: process.versions.node, tslab: packageVersion("tslab"), tfjs: packageVersion("@tensorflow/tfjs"), hardhat: packageVersion("hardhat"), ethers: packageVersion("ethers") },
      tfBackend: runtime?.tfBackend ?? "not used",
      seed: plan.parameters.seed ?? null,
      quick: plan.parameters.quick ?? null,
      parameters: plan.parameters,
      overrides: plan.overrides,
      cells: cellTimings(executed),
      resultsSha256: settlement.resultsSha256,
      chain: settlement.chain,
      settlement: { registry: settlement.registry, txHash: settlement.txHash, blockNumber: settlement.blockNumber, from: settlement.from },
    });
    const runDir = join(options.runsDir, runId);
    mkdirSync(options.runsDir, { recursive: true });
    renameSync(staging, runDir);
    return { notebook: plan.notebook.name, ok: true, runId, runDir, seconds: (finished.getTime() - started.getTime()) / 1000, txHash: settlement.txHash };
  } catch (error) {
    return fail(`${plan.notebook.name}: ${describeError(error)}`);
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

export async function runAll(options: RunOptions, log: (line: string) => void = console.log): Promise<RunOutcome[]> {
  const plans = planRuns(options);
  sweepStaging(stagingRoot(options.runsDir));
  const outcomes: RunOutcome[] = [];
  for (const plan of plans) {
    const outcome = await runNotebook(plan, options, log);
    outcomes.push(outcome);
    log(outcome.ok ? `  ✓ ${outcome.notebook} in ${outcome.seconds.toFixed(1)} s → ${outcome.runDir}` : `  ✗ ${outcome.error}`);
  }
  return outcomes;
}

export function summaryTable(outcomes: RunOutcome[]): string {
  return textTable(outcomes.map((o) => ({
    notebook: o.notebook,
    status: o.ok ? "ok" : "FAILED",
    seconds: Number(o.seconds.toFixed(1)),
    run: o.ok ? o.runId : "(none kept)",
    settlement: o.txHash ?? "",
  })), 1);
}

/**
 * What an HTML report would fetch from elsewhere when opened: script and image sources,
 * stylesheets and CSS imports that are not inline data. A self-contained report has none.
 */
export function externalResources(html: string): string[] {
  const found: string[] = [];
  for (const m of html.matchAll(/<(?:script|img|iframe|link|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)) {
    if (!/^(data:|#|$)/i.test(m[1])) found.push(m[1]);
  }
  for (const m of html.matchAll(/@import\s+(?:url\()?["']?([^"')\s;]+)/gi)) found.push(m[1]);
  for (const m of html.matchAll(/url\(\s*["']?((?:https?:)?\/\/[^"')\s]+)/gi)) found.push(m[1]);
  return found;
}

export function readExecutedNotebook(runDir: string): NotebookJson {
  return JSON.parse(readFileSync(join(runDir, "notebook.ipynb"), "utf8")) as NotebookJson;
}

export { cellSource };
