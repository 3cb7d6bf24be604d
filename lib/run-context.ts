import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync } from "node:fs";
import { basename, join } from "node:path";
import { fromRoot, readJson, writeJsonAtomic } from "./files.js";

/**
 * Where the current notebook run writes its artifacts. `./lab run` sets LAB_RUN_DIR (a staging
 * folder it renames into experiments/runs/ when the run succeeds), LAB_RUN_ID and LAB_NOTEBOOK.
 * A live notebook (`./lab notebook`) gets a run id of the same form, named after the notebook the
 * Jupyter server has open on this kernel; it writes into experiments/.interactive/RUN-ID and lands
 * in experiments/runs/RUN-ID when it settles.
 */
export interface RunContext {
  runDir: string;
  runId: string;
  notebook: string;
  interactive: boolean;
  /** When the run began: a live run's first use of its context (the runner's own clock for a headless one). */
  startedAt?: string;
}

/** A run id: UTC time to the second, the notebook's name, four hex digits. */
export function newRunId(notebook: string, at = new Date()): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-${notebook}-${randomBytes(2).toString("hex")}`;
}

/** Where run folders land: LAB_RUNS_DIR, else experiments/runs/. */
export function runsRoot(): string {
  return process.env.LAB_RUNS_DIR ?? fromRoot("experiments", "runs");
}

/** Where runs are built before they land (beside the runs folder, so the final rename stays on one file system). */
export function stagingRoot(runs = runsRoot()): string {
  return join(runs, "..", ".staging");
}

let interactive: RunContext | undefined;

export function runContext(): RunContext {
  if (process.env.LAB_RUN_DIR) {
    const notebook = process.env.LAB_NOTEBOOK ?? "interactive";
    return { runDir: process.env.LAB_RUN_DIR, runId: process.env.LAB_RUN_ID ?? notebook, notebook, interactive: false };
  }
  if (!interactive) {
    const notebook = process.env.LAB_NOTEBOOK ?? liveNotebookName() ?? "interactive";
    const runId = newRunId(notebook);
    interactive = { runDir: join(runsRoot(), "..", ".interactive", runId), runId, notebook, interactive: true, startedAt: new Date().toISOString() };
  }
  return interactive;
}

/**
 * Moves a settled live-notebook run into the runs folder, beside the headless ones, with a
 * manifest naming what it settled; later calls of runContext() point at the landed folder.
 */
export function landInteractiveRun(manifest: Record<string, unknown>): string {
  const ctx = runContext();
  if (!ctx.interactive) return ctx.runDir;
  const landed = join(runsRoot(), ctx.runId);
  writeJsonAtomic(join(ctx.runDir, "manifest.json"), { runId: ctx.runId, notebook: ctx.notebook, interactive: true, ...manifest });
  mkdirSync(runsRoot(), { recursive: true });
  renameSync(ctx.runDir, landed);
  interactive = { ...ctx, runDir: landed };
  return landed;
}

/**
 * The notebook a live kernel serves, asked of the Jupyter server that started it: the kernel id
 * is in the connection file named on the kernel's command line, and the server's sessions list
 * (GET /api/sessions, with the token from its runtime file) maps kernel ids to notebook paths.
 */
export function liveNotebookName(): string | undefined {
  const fromSession = process.env.JPY_SESSION_NAME;
  if (fromSession) return basename(fromSession).replace(/\.ipynb$/, "");
  const connection = process.argv.find((a) => /kernel-[\w-]+\.json$/.test(a));
  const runtimeDir = process.env.JUPYTER_RUNTIME_DIR;
  if (!connection || !runtimeDir || !existsSync(runtimeDir)) return undefined;
  const kernelId = /kernel-([\w-]+)\.json$/.exec(connection)![1];
  for (const file of readdirSync(runtimeDir).filter((f) => /^(nb|jp)server-\d+\.json$/.test(f))) {
    try {
      const server = readJson<{ url: string; token?: string }>(join(runtimeDir, file));
      // One synchronous request: runContext() is called from synchronous record().
      const body = execFileSync(
        process.execPath,
        [
          "-e",
          "fetch(process.argv[1]).then((r) => r.text()).then((t) => process.stdout.write(t), () => process.exit(1))",
          `${server.url.replace(/\/?$/, "/")}api/sessions${server.token ? `?token=${server.token}` : ""}`,
        ],
        { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"] },
      );
      const sessions = JSON.parse(body) as Array<{ path?: string; notebook?: { path?: string }; kernel?: { id?: string } }>;
      const mine = sessions.find((s) => s.kernel?.id === kernelId);
      const path = mine?.path ?? mine?.notebook?.path;
      if (path) return basename(path).replace(/\.ipynb$/, "");
    } catch {
      // A stopped server's stale runtime file, or no answer: try the next one.
    }
  }
  return undefined;
}

/** True inside the lab's Jupyter kernel (its launcher sets LAB_KERNEL). */
export function inNotebook(): boolean {
  return process.env.LAB_KERNEL === "tslab";
}
