import { join } from "node:path";
import { fromRoot } from "./files.js";

/**
 * Where the current notebook run writes its artifacts. `./lab run` sets LAB_RUN_DIR (a staging
 * folder it renames into experiments/runs/ when the run succeeds), LAB_RUN_ID and LAB_NOTEBOOK;
 * an interactive session writes to experiments/runs/interactive/NOTEBOOK/.
 */
export interface RunContext {
  runDir: string;
  runId: string;
  notebook: string;
  interactive: boolean;
}

export function runContext(): RunContext {
  const notebook = process.env.LAB_NOTEBOOK ?? "interactive";
  if (process.env.LAB_RUN_DIR) {
    return {
      runDir: process.env.LAB_RUN_DIR,
      runId: process.env.LAB_RUN_ID ?? notebook,
      notebook,
      interactive: false,
    };
  }
  const stamp = (sessionStamp ??= new Date().toISOString().replace(/[-:]/g, "").replace(/\..*/, ""));
  return {
    runDir: fromRoot("experiments", "runs", "interactive", `${notebook}-${stamp}`),
    runId: `interactive-${notebook}-${stamp}`,
    notebook,
    interactive: true,
  };
}

let sessionStamp: string | undefined;

/** Where run folders land: LAB_RUNS_DIR, else experiments/runs/. */
export function runsRoot(): string {
  return process.env.LAB_RUNS_DIR ?? fromRoot("experiments", "runs");
}

/** Where runs are built before they land (beside the runs folder, so the final rename stays on one file system). */
export function stagingRoot(runs = runsRoot()): string {
  return join(runs, "..", ".staging");
}

/** True inside the lab's Jupyter kernel (its launcher sets LAB_KERNEL). */
export function inNotebook(): boolean {
  return process.env.LAB_KERNEL === "tslab";
}
