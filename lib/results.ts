import { existsSync } from "node:fs";
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "./files.js";
import { LabError } from "./errors.js";
import { runContext } from "./run-context.js";

export const RESULTS_FILE = "results.json";

export interface ResultsFile {
  notebook: string;
  runId: string;
  values: Record<string, unknown>;
}

function resultsPath(): string {
  return join(runContext().runDir, RESULTS_FILE);
}

export function readResults(): ResultsFile {
  const ctx = runContext();
  const path = resultsPath();
  if (!existsSync(path)) return { notebook: ctx.notebook, runId: ctx.runId, values: {} };
  return readJson<ResultsFile>(path);
}

/**
 * Records a named result of the current run into results.json (rewritten atomically on each
 * call, so an interrupted notebook leaves the values recorded so far, never a torn file).
 */
export function record<T>(name: string, value: T): T {
  if (!name || typeof name !== "string") {
    throw new LabError({
      code: "results/bad-name",
      message: `record() needs a non-empty name, got ${JSON.stringify(name)}`,
      hint: "call record(\"accuracy\", 0.91)",
      fields: { name: JSON.stringify(name) ?? String(name) },
    });
  }
  const json = JSON.stringify(value);
  if (json === undefined) {
    throw new LabError({
      code: "results/not-json",
      message: `record("${name}") got a value JSON cannot hold (${typeof value})`,
      hint: "record numbers, strings, booleans, arrays or plain objects",
      fields: { name, type: typeof value },
    });
  }
  const results = readResults();
  results.values[name] = JSON.parse(json);
  writeJsonAtomic(resultsPath(), results);
  return value;
}
