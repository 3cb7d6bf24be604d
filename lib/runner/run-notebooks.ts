import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { checkChain } from "../chain/connect.js";
import { SETTLEMENT_FILE, type Settlement } from "../chain/settle-results.js";
import { describeError, type ErrorFields, LabError, problemParagraph } from "../errors.js";
import { commitDir, DiskFullError, diskFull, fromRoot, readJson, sha256File, writeJsonAtomic } from "../files.js";
import { ownedStagingName, sweepOrphanedStaging } from "../lock.js";
import { coerceParameter, injectedCellSource, ParameterError, type ParameterSpec, type ParameterValue } from "../notebook/params.js";
import { textTable } from "../notebook/table.js";
import { OverrideError, unknownKey } from "../overrides.js";
import { gitInfo, runVersions } from "../provenance.js";
import { newRunId, runsRoot, stagingRoot } from "../run-context.js";
import { codeCells, describeCell, type ProgressOptions, RunProgress } from "./cell-progress.js";
import { cellSource, type NotebookFile, type NotebookJson, notebookParameters, notebooksDir, notebookTitle, parametersCellIndex, readNotebook, resolveNotebooks } from "./notebooks.js";
import { finishReport, landedPaths, landFile, withoutPlotlyBundle } from "./run-report.js";

export interface RunOptions {
  names: string[];
  quick: boolean;
  /** Raw `--set key=value` overrides, typed per notebook before anything runs. */
  sets: Record<string, string>;
  /** Seconds a single cell may run. */
  cellTimeoutS: number;
  runsDir: string;
  /** Where and how often progress is shown (default: stderr, a line every 5 s off a terminal). */
  progress?: ProgressOptions;
  /** Variables set for the kernel on top of this process's environment (LAB_TF_BACKEND, LAB_CACHE_DIR). */
  env?: Record<string, string>;
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
  /** Why the run failed, for a reader: notebook, cell, error and the cell's source. */
  error?: string;
  /** Why the run failed, for a program: the code and fields to branch on. */
  failure?: { code: string; fields: ErrorFields };
}

export class NotebookRunError extends LabError {}

/** Every file a run folder may hold (README's "Run folders" table documents each). */
export const RUN_FOLDER_FILES = ["notebook.ipynb", "report.html", "results.json", "settlement.json", "manifest.json", "runtime.json"] as const;

export function runsDir(): string {
  return runsRoot();
}

/** Resolves notebooks and types every override before anything runs: a wrong key or type runs nothing. */
export function planRuns(options: RunOptions): NotebookPlan[] {
  const notebooks = resolveNotebooks(options.names);
  if (notebooks.length === 0) {
    throw new LabError({ code: "run/no-notebooks", message: "there are no notebooks to run", hint: "add notebooks/NN-name.ipynb", fields: { dir: notebooksDir() } });
  }
  const plans = notebooks.map((notebook) => {
    const nb = readNotebook(notebook.path);
    let specs: ParameterSpec[];
    try {
      specs = notebookParameters(nb);
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      throw new ParameterError({
        code: error.code,
        message: `${notebook.name}: ${error.message}`,
        hint: error.hint,
        fields: { ...error.fields, notebook: notebook.name },
        cause: error,
      });
    }
    return { notebook, nb, specs, overrides: {} as Record<string, ParameterValue>, parameters: {} as Record<string, ParameterValue> };
  });
  if (options.quick && options.sets.quick !== undefined && options.sets.quick.trim() !== "true") {
    throw new OverrideError({
      code: "set/conflict",
      message: `--quick asks for quick mode but --set quick=${options.sets.quick} asks for ${options.sets.quick.trim() === "false" ? "the full run" : "something else"}`,
      hint: "keep one: --quick for the small run, or leave both out for the full run",
      fields: { key: "quick", value: options.sets.quick, option: "--quick" },
    });
  }
  const raw = { ...options.sets, ...(options.quick ? { quick: "true" } : {}) };
  for (const [key, value] of Object.entries(raw)) {
    const declaring = plans.filter((p) => p.specs.some((s) => s.name === key));
    if (declaring.length === 0) {
      const known = [...new Set(plans.flatMap((p) => p.specs.map((s) => s.name)))];
      const names = plans.map((p) => p.notebook.name);
      throw unknownKey(key, known, names.length === 1 ? `notebook ${names[0]}` : `the set of notebooks ${names.join(", ")}`);
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

const PROBE_TAG = "lab-parameters-probe";

/**
 * The notebook with a last cell that prints the final value of every declared parameter, so the
 * manifest records what the run used (after quick mode adjusted them), not the defaults. The
 * executor removes the cell before the notebook and report are written.
 */
export function withParametersProbe(nb: NotebookJson, specs: ParameterSpec[]): NotebookJson {
  if (specs.length === 0) return nb;
  const fields = specs.map((s) => `${JSON.stringify(s.name)}: ${s.name}`).join(", ");
  return {
    ...nb,
    cells: [
      ...nb.cells,
      { id: PROBE_TAG, cell_type: "code", metadata: { tags: [PROBE_TAG] }, outputs: [], execution_count: null, source: `console.log("LAB_PARAMETERS " + JSON.stringify({ ${fields} }));` },
    ],
  };
}

/** Per code cell, numbered as in errors and the report's `[n]` prompts: its heading, tags and seconds. */
function cellTimings(nb: NotebookJson) {
  return codeCells(nb).map((c) => {
    const ex = nb.cells[c.index].metadata.execution ?? {};
    const start = ex["iopub.status.busy"];
    const end = ex["iopub.status.idle"];
    return { cell: c.number, heading: c.heading, tags: c.tags, seconds: start && end ? (Date.parse(end) - Date.parse(start)) / 1000 : null };
  });
}

interface ExecutorReply {
  ok: boolean;
  /** "write": every cell ran, and writing the notebook or report failed (a full disk). */
  stage?: "write";
  path?: string;
  bytes?: number;
  parameters?: Record<string, ParameterValue> | null;
  cell?: number | null;
  source?: string;
  ename?: string;
  evalue?: string;
  traceback?: string;
}

interface ExecutorEvent {
  event: "start" | "output";
  index: number;
  text?: string;
}

interface Execution {
  reply: Promise<ExecutorReply>;
  kill(): void;
}

/**
 * Starts the executor (nbclient) in its own process group: a Ctrl-C reaches the runner alone,
 * which decides what to stop. The executor and its kernel die with the runner (see
 * execute_notebook.py); events come back on file descriptor 3.
 */
function execute(input: string, outNb: string, outHtml: string, env: NodeJS.ProcessEnv, timeoutS: number, title: string, onEvent: (event: ExecutorEvent) => void): Execution {
  const python = process.env.LAB_PYTHON ?? "python3";
  const script = fromRoot("lib", "runner", "execute_notebook.py");
  const child = spawn(python, [script, input, outNb, outHtml, fromRoot("notebooks"), process.env.LAB_KERNEL_NAME ?? "tslab", String(timeoutS), title], {
    env: { ...env, LAB_RUNNER_PID: String(process.pid) },
    stdio: ["ignore", "pipe", "pipe", "pipe"],
    detached: true,
  });
  const reply = new Promise<ExecutorReply>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    let events = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    (child.stdio[3] as NodeJS.ReadableStream).on("data", (d: Buffer) => {
      events += d;
      const lines = events.split("\n");
      events = lines.pop() ?? "";
      for (const line of lines) {
        try {
          onEvent(JSON.parse(line) as ExecutorEvent);
        } catch {
          /* a torn line is dropped */
        }
      }
    });
    child.on("error", (error) =>
      reject(
        new NotebookRunError({
          code: "run/no-python",
          fields: { python },
          message: `cannot start ${python} (${error.message})`,
          hint: "run ./lab (it sets up Jupyter) or set LAB_PYTHON to a python3 with nbclient and nbconvert",
        }),
      ),
    );
    child.on("close", (code) => {
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as ExecutorReply);
      } catch {
        resolve({ ok: false, cell: null, ename: `executor exited with code ${code}`, evalue: stderr.trim().split("\n").slice(-15).join("\n") });
      }
    });
  });
  return {
    reply,
    kill: () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* already gone */
      }
    },
  };
}

/** Run folders landed by this process, named when a signal interrupts a later run. */
const landed: string[] = [];

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
  const staging = join(stagingRoot(options.runsDir), ownedStagingName(runId));
  mkdirSync(staging, { recursive: true });
  const started = new Date();
  const injected = injectParameters(plan);
  const progress = new RunProgress(plan.notebook.name, injected, options.progress);
  let execution: Execution | undefined;
  const onSignal = interruptHandler(plan.notebook.name, staging, progress, () => execution?.kill());
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const fail = (error: string, code: string, fields: ErrorFields): RunOutcome => {
    rmSync(staging, { recursive: true, force: true });
    return { notebook: plan.notebook.name, ok: false, runId, seconds: (Date.now() - started.getTime()) / 1000, error, failure: { code, fields: { notebook: plan.notebook.name, ...fields } } };
  };
  try {
    log(
      `▶ ${plan.notebook.name}  (run ${runId}${
        Object.keys(plan.overrides).length
          ? `, ${Object.entries(plan.overrides)
              .map(([k, v]) => `${k}=${v}`)
              .join(" ")}`
          : ""
      })`,
    );
    const input = join(staging, ".input.ipynb");
    writeJsonAtomic(input, withParametersProbe(injected, plan.specs));
    const env = { ...process.env, ...options.env, LAB_RUN_DIR: staging, LAB_RUN_ID: runId, LAB_NOTEBOOK: plan.notebook.name };
    execution = execute(input, join(staging, "notebook.ipynb"), join(staging, "report.html"), env, options.cellTimeoutS, notebookTitle(plan.nb, plan.notebook.name), (event) => {
      if (event.event === "start") progress.started(event.index);
      else if (event.text) progress.output(event.index, event.text);
    });
    const reply = await execution.reply.finally(() => progress.stop());
    rmSync(input, { force: true });
    const failed = replyFailure(plan, reply, progress, staging);
    if (failed) return fail(failed.error, failed.code, failed.fields);
    if (!existsSync(join(staging, SETTLEMENT_FILE))) {
      return fail(`${plan.notebook.name} ran but did not settle its results: end the notebook with \`await settle({...})\``, "run/not-settled", {});
    }
    const landedRun = landSettledRun(plan, { runId, staging, runsDir: options.runsDir, started, parameters: reply.parameters });
    landed.push(runId);
    return { notebook: plan.notebook.name, ok: true, runId, runDir: landedRun.runDir, seconds: landedRun.seconds, txHash: landedRun.txHash };
  } catch (error) {
    if (error instanceof DiskFullError) return fail(`${plan.notebook.name}: ${oneLine(error)}`, error.code, error.fields);
    return fail(`${plan.notebook.name}: ${describeError(error)}`, error instanceof LabError ? error.code : "run/crashed", error instanceof LabError ? error.fields : { error: describeError(error) });
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

/**
 * On SIGINT or SIGTERM during a run: the kernel stopped, the staged run removed (nothing of it is
 * kept), the runs this command finished before it named, and the process ended with the signal's code.
 */
function interruptHandler(notebook: string, staging: string, progress: RunProgress, stopKernel: () => void): (signal: NodeJS.Signals) => void {
  return (signal) => {
    stopKernel();
    progress.stop();
    rmSync(staging, { recursive: true, force: true });
    const kept = landed.length ? `runs finished before it are kept: ${landed.join(", ")}` : "no earlier run of this command was kept";
    const interrupted = new NotebookRunError({
      code: "run/interrupted",
      message:
        `interrupted (${signal}): ${notebook} stopped in ${describeCell(progress.current, progress.cells.length)} after ${progress.seconds.toFixed(1)} s; ` +
        `its kernel was stopped and its staged run removed, so nothing of it was kept; ${kept}`,
      hint: "run the notebook again; earlier runs are untouched",
      fields: { signal, notebook, cell: progress.current?.number ?? null, kept: landed },
    });
    process.stderr.write(`\n${describeError(interrupted)}\n`);
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
}

/** What a reply that is not a finished run means for the reader: the full disk, or the cell that failed with its source and traceback. */
function replyFailure(plan: NotebookPlan, reply: ExecutorReply, progress: RunProgress, staging: string): { error: string; code: string; fields: ErrorFields } | undefined {
  if (reply.ok) return undefined;
  if (reply.stage === "write") {
    const full = diskFull(staging, reply.bytes ?? 0, basename(reply.path ?? "the report"));
    return { error: `${plan.notebook.name}: every cell ran, but the run could not be written: ${oneLine(full)}`, code: full.code, fields: full.fields };
  }
  const cell = reply.cell === null || reply.cell === undefined ? undefined : progress.cellAt(reply.cell);
  const where = cell ? `cell ${cell.number}${cell.heading ? ` (${cell.heading})` : ""}` : "before any cell ran";
  return {
    error:
      `${plan.notebook.name}, ${where}: ${reply.ename}: ${reply.evalue}` +
      (reply.source ? `\n--- cell ${cell?.number ?? "?"} source ---\n${firstLines(reply.source, 12)}` : "") +
      (reply.traceback ? `\n--- traceback ---\n${firstLines(stripVTControlCharacters(reply.traceback), 25)}` : ""),
    code: "run/cell-failed",
    fields: { cell: cell?.number ?? null, heading: cell?.heading ?? null, ename: reply.ename ?? null, evalue: reply.evalue ?? null },
  };
}

/** A refusal's problem paragraph as one line of a run's error. */
function oneLine(error: LabError): string {
  return problemParagraph(error)
    .replace(/^error: /, "")
    .replace(/\n/g, " ");
}

/**
 * A settled run's staging folder made into its run folder: the report and notebook rewritten to
 * the folder they land as, the manifest (versions, parameters, cell timings, settlement) written,
 * then the folder renamed into the runs folder in one step.
 */
function landSettledRun(
  plan: NotebookPlan,
  run: { runId: string; staging: string; runsDir: string; started: Date; parameters?: Record<string, ParameterValue> | null },
): { runDir: string; seconds: number; txHash: string } {
  const { runId, staging, started } = run;
  const settlement = readJson<Settlement>(join(staging, SETTLEMENT_FILE));
  const runDir = join(run.runsDir, runId);
  // The notebook saw its staging folder; the reader gets the folder the run lands as.
  landFile(join(staging, "report.html"), staging, runDir, (html) => finishReport(html, staging, runDir));
  landFile(join(staging, "notebook.ipynb"), staging, runDir, (text) => withoutPlotlyBundle(landedPaths(text, staging, runDir)));
  const executed = readNotebook(join(staging, "notebook.ipynb"));
  const runtimePath = join(staging, "runtime.json");
  const runtime = existsSync(runtimePath) ? readJson<{ tfBackend: string; tfjsVersion: string; workers?: number; adapter?: unknown; threads?: number }>(runtimePath) : undefined;
  const finished = new Date();
  const seconds = (finished.getTime() - started.getTime()) / 1000;
  const used = { ...plan.parameters, ...(run.parameters ?? {}) };
  writeJsonAtomic(join(staging, "manifest.json"), {
    runId,
    notebook: plan.notebook.name,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    seconds,
    git: gitInfo(),
    lockfileSha256: sha256File(fromRoot("package-lock.json")),
    notebookSha256: sha256File(plan.notebook.path),
    versions: runVersions(),
    tfBackend: runtime?.tfBackend ?? "not used",
    workers: runtime?.workers ?? null,
    ...(runtime?.adapter ? { gpuAdapter: runtime.adapter } : {}),
    ...(runtime?.threads ? { tfThreads: runtime.threads } : {}),
    seed: used.seed ?? null,
    quick: used.quick ?? null,
    parameters: used,
    declared: Object.fromEntries(plan.specs.map((s) => [s.name, s.default])),
    overrides: plan.overrides,
    cells: cellTimings(executed),
    resultsSha256: settlement.resultsSha256,
    chain: settlement.chain,
    settlement: { registry: settlement.registry, txHash: settlement.txHash, blockNumber: settlement.blockNumber, from: settlement.from },
  });
  mkdirSync(run.runsDir, { recursive: true });
  commitDir(staging, runDir);
  return { runDir, seconds, txHash: settlement.txHash };
}

/**
 * Everything checked before the first cell runs: notebooks, parameters and the chain the runs will
 * settle on (LAB_RPC_URL: a URL, an answer within 5 s, LAB_CHAIN_ID, a usable key). Throws the
 * first problem; nothing has run and nothing is written.
 */
export async function preflight(options: RunOptions): Promise<{ plans: NotebookPlan[]; chain: string }> {
  const plans = planRuns(options);
  const chain = await checkChain();
  return { plans, chain };
}

/** Runs every planned notebook in order. Throws only from preflight(), before any cell runs. */
export async function runAll(options: RunOptions, log: (line: string) => void = console.log): Promise<RunOutcome[]> {
  const { plans, chain } = await preflight(options);
  log(`settling on ${chain}`);
  sweepOrphanedStaging(stagingRoot(options.runsDir));
  const outcomes: RunOutcome[] = [];
  for (const plan of plans) {
    const outcome = await runNotebook(plan, options, log);
    outcomes.push(outcome);
    log(outcome.ok ? `  ✓ ${outcome.notebook} in ${outcome.seconds.toFixed(1)} s → ${outcome.runDir}` : `  ✗ ${outcome.error}`);
  }
  return outcomes;
}

export function summaryTable(outcomes: RunOutcome[]): string {
  return textTable(
    outcomes.map((o) => ({
      notebook: o.notebook,
      status: o.ok ? "ok" : "FAILED",
      seconds: Number(o.seconds.toFixed(1)),
      run: o.ok ? o.runId : "(none kept)",
      settlement: o.txHash ?? "",
    })),
    1,
  );
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
