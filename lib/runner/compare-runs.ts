import { existsSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "../errors.js";
import { readJson } from "../files.js";
import { RESULTS_FILE, type ResultsFile } from "../results.js";

/**
 * Compares the recorded figures (results.json) of two runs of one notebook with the same seed and
 * parameters on two backends: a reference (wasm) and a candidate (webgpu). Every leaf of the
 * recorded values is a figure, named by its path (`keyFigures.loraAccuracy`,
 * `evaluation[3].quick claim holds`, `lmMatchCoverage[0]`); a tolerance table says, per notebook
 * and figure, how the two may differ:
 *
 *   equal     identical (counts, names, rankings, a claim's verdict, digests of float-free data);
 *   close     within `abs` or within `rel` × |reference| (float32 results computed in another order);
 *   excluded  not compared, for the reason given (timings, the backend's own name, digests of
 *             float32 bytes that any one-ulp difference changes).
 *
 * A string, boolean or null with no rule must be equal (discrete by nature); a number with no
 * rule is a failure, so every numeric figure has a stated tolerance. A figure one run recorded and
 * the other did not, and a rule that matches no figure of either run, are failures too.
 */

export type FigureRule = { kind: "equal"; why: string } | { kind: "close"; abs?: number; rel?: number; why: string } | { kind: "excluded"; why: string };

/**
 * One line of a tolerance table: the figures it covers, as paths with `[*]` for any array index
 * (`evaluation[*].ours (this quick run)`), optionally only in rows whose fields have these values
 * (`{ metric: "flipper_rank_from_bottom" }`). The first line that matches a figure decides.
 */
export interface FigureTolerance {
  figures: string[];
  where?: Record<string, string>;
  rule: FigureRule;
}

/** Tolerance lines per notebook, keyed by the notebook's stem ("03-model-factory-lora"). */
export type ToleranceTable = Record<string, FigureTolerance[]>;

export class CompareError extends LabError {}

/** One figure of a recorded run: its path, the path with indexes as `[*]`, its value and its row. */
export interface Figure {
  path: string;
  pattern: string;
  value: unknown;
  /** The object that holds the figure when it sits in an array of objects (a table row). */
  row?: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every leaf of recorded values (numbers, strings, booleans, nulls), in the order recorded. */
export function flattenFigures(values: Record<string, unknown>): Figure[] {
  const out: Figure[] = [];
  const walk = (value: unknown, path: string, pattern: string, row: Record<string, unknown> | undefined) => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => {
        walk(item, `${path}[${i}]`, `${pattern}[*]`, isObject(item) ? item : row);
      });
    } else if (isObject(value)) {
      for (const [key, item] of Object.entries(value)) walk(item, path ? `${path}.${key}` : key, pattern ? `${pattern}.${key}` : key, row);
    } else {
      out.push({ path, pattern, value, ...(row ? { row } : {}) });
    }
  };
  walk(values, "", "", undefined);
  return out;
}

function matches(line: FigureTolerance, figure: Figure): boolean {
  if (!line.figures.includes(figure.pattern) && !line.figures.includes(figure.path)) return false;
  if (!line.where) return true;
  return Object.entries(line.where).every(([k, v]) => figure.row !== undefined && String(figure.row[k]) === v);
}

export type Verdict = "agrees" | "differs" | "missing" | "unexpected" | "no-tolerance" | "excluded";

export interface FigureComparison {
  figure: string;
  reference: unknown;
  candidate: unknown;
  verdict: Verdict;
  rule?: FigureRule;
  /** |candidate − reference| for numbers. */
  difference?: number;
  /** The largest difference the rule allows (close rules). */
  allowed?: number;
}

export interface RunComparison {
  notebook: string;
  figures: FigureComparison[];
  /** Tolerance lines that matched no figure of either run: the table has gone stale. */
  unusedRules: FigureTolerance[];
  agreed: number;
  failed: number;
  excluded: number;
}

const DISCRETE: FigureRule = { kind: "equal", why: "a string, boolean or null is discrete: it must be identical" };

/** The largest difference a close rule allows for this reference value. */
export function allowedDifference(rule: { abs?: number; rel?: number }, reference: number): number {
  return Math.max(rule.abs ?? 0, (rule.rel ?? 0) * Math.abs(reference));
}

function judge(rule: FigureRule, reference: unknown, candidate: unknown): Pick<FigureComparison, "verdict" | "difference" | "allowed"> {
  if (rule.kind === "excluded") return { verdict: "excluded" };
  const numbers = typeof reference === "number" && typeof candidate === "number";
  const difference = numbers ? Math.abs(candidate - reference) : undefined;
  if (rule.kind === "equal") return { verdict: Object.is(reference, candidate) ? "agrees" : "differs", ...(difference === undefined ? {} : { difference }) };
  if (!numbers) return { verdict: Object.is(reference, candidate) ? "agrees" : "differs" };
  const allowed = allowedDifference(rule, reference);
  // a non-finite value (JSON keeps none, but a caller may pass one) agrees only with itself
  const agrees = Number.isFinite(difference) ? difference! <= allowed : Object.is(reference, candidate);
  return { verdict: agrees ? "agrees" : "differs", difference: difference!, allowed };
}

/**
 * Compares the recorded values of a reference and a candidate run of `notebook` under `table`.
 * Figures come in the reference's order, then those only the candidate recorded.
 */
export function compareFigures(notebook: string, reference: Record<string, unknown>, candidate: Record<string, unknown>, table: ToleranceTable): RunComparison {
  const lines = table[notebook] ?? [];
  const used = new Set<FigureTolerance>();
  const ruleFor = (figure: Figure): FigureRule | undefined => {
    const line = lines.find((l) => matches(l, figure));
    if (line) {
      used.add(line);
      return line.rule;
    }
    return typeof figure.value === "number" ? undefined : DISCRETE;
  };
  const refFigures = flattenFigures(reference);
  const candFigures = new Map(flattenFigures(candidate).map((f) => [f.path, f]));
  const figures: FigureComparison[] = [];
  for (const ref of refFigures) {
    const cand = candFigures.get(ref.path);
    candFigures.delete(ref.path);
    const rule = ruleFor(ref);
    if (!cand) {
      figures.push({ figure: ref.path, reference: ref.value, candidate: undefined, verdict: rule?.kind === "excluded" ? "excluded" : "missing", ...(rule ? { rule } : {}) });
      continue;
    }
    if (!rule) {
      figures.push({ figure: ref.path, reference: ref.value, candidate: cand.value, verdict: "no-tolerance" });
      continue;
    }
    figures.push({ figure: ref.path, reference: ref.value, candidate: cand.value, rule, ...judge(rule, ref.value, cand.value) });
  }
  for (const cand of candFigures.values()) {
    const rule = ruleFor(cand);
    figures.push({ figure: cand.path, reference: undefined, candidate: cand.value, verdict: rule?.kind === "excluded" ? "excluded" : "unexpected", ...(rule ? { rule } : {}) });
  }
  const unusedRules = lines.filter((l) => !used.has(l));
  const count = (pred: (c: FigureComparison) => boolean) => figures.filter(pred).length;
  return {
    notebook,
    figures,
    unusedRules,
    agreed: count((c) => c.verdict === "agrees"),
    failed: count((c) => c.verdict !== "agrees" && c.verdict !== "excluded") + unusedRules.length,
    excluded: count((c) => c.verdict === "excluded"),
  };
}

/** What a run folder says about itself: the manifest fields a comparison depends on. */
interface RunManifest {
  notebook: string;
  runId: string;
  tfBackend: string;
  seed: number | null;
  parameters: Record<string, unknown>;
}

function readRun(dir: string): { manifest: RunManifest; results: ResultsFile } {
  for (const file of ["manifest.json", RESULTS_FILE]) {
    if (!existsSync(join(dir, file))) {
      throw new CompareError({
        code: "compare/not-a-run",
        message: `${dir} has no ${file}: it is not a landed run folder`,
        hint: "name a folder that ./lab run or ./lab test landed (experiments/runs/RUN-ID, .lab/test-runs/RUN-ID)",
        fields: { dir, file },
      });
    }
  }
  return { manifest: readJson<RunManifest>(join(dir, "manifest.json")), results: readJson<ResultsFile>(join(dir, RESULTS_FILE)) };
}

/**
 * Compares two landed run folders figure by figure. Refuses runs of different notebooks, or with
 * different parameters (seed included): their figures would differ for reasons other than the
 * backend. `backends` names what each run must have run on.
 */
export function compareRunFolders(referenceDir: string, candidateDir: string, table: ToleranceTable, backends: { reference: string; candidate: string }): RunComparison {
  const ref = readRun(referenceDir);
  const cand = readRun(candidateDir);
  if (ref.manifest.notebook !== cand.manifest.notebook) {
    throw new CompareError({
      code: "compare/different-notebooks",
      message: `run ${ref.manifest.runId} is of ${ref.manifest.notebook} and run ${cand.manifest.runId} of ${cand.manifest.notebook}`,
      hint: "compare two runs of the same notebook",
      fields: { reference: ref.manifest.notebook, candidate: cand.manifest.notebook },
    });
  }
  const params = (m: RunManifest) => JSON.stringify(Object.fromEntries(Object.entries(m.parameters).sort(([a], [b]) => (a < b ? -1 : 1))));
  if (params(ref.manifest) !== params(cand.manifest)) {
    throw new CompareError({
      code: "compare/different-parameters",
      message: `runs ${ref.manifest.runId} and ${cand.manifest.runId} of ${ref.manifest.notebook} used different parameters (${params(ref.manifest)} vs ${params(cand.manifest)})`,
      hint: "run both with the same seed and the same --set values (./lab test runs quick mode with the declared seed)",
      fields: { notebook: ref.manifest.notebook, reference: params(ref.manifest), candidate: params(cand.manifest) },
    });
  }
  for (const [side, manifest, wanted] of [
    ["reference", ref.manifest, backends.reference],
    ["candidate", cand.manifest, backends.candidate],
  ] as const) {
    if (manifest.tfBackend !== wanted) {
      throw new CompareError({
        code: "compare/wrong-backend",
        message: `the ${side} run ${manifest.runId} ran on ${manifest.tfBackend}, not on ${wanted}`,
        hint: `run the notebook with LAB_TF_BACKEND=${wanted}`,
        fields: { side, runId: manifest.runId, backend: manifest.tfBackend, wanted },
      });
    }
  }
  return compareFigures(ref.manifest.notebook, ref.results.values, cand.results.values, table);
}

/** A figure's value as one short cell of a table. */
function shown(value: unknown): string {
  if (value === undefined) return "(not recorded)";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(6);
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 24 ? `${text.slice(0, 21)}…` : text;
}

/** The rule as a short phrase: "= ", "± 0.01", "± 1% rel", "excluded". */
export function describeRule(rule: FigureRule | undefined): string {
  if (!rule) return "(no tolerance stated)";
  if (rule.kind === "equal") return "equal";
  if (rule.kind === "excluded") return "excluded";
  return [rule.abs !== undefined ? `± ${rule.abs}` : "", rule.rel !== undefined ? `± ${rule.rel * 100}% rel` : ""].filter(Boolean).join(" or ");
}

/** Rows for a text table: every figure, its two values, the rule and the verdict. */
export function comparisonRows(comparison: RunComparison): Array<Record<string, string>> {
  return [
    ...comparison.figures.map((c) => ({
      figure: c.figure,
      wasm: shown(c.reference),
      webgpu: shown(c.candidate),
      difference: c.difference === undefined ? "" : c.difference.toPrecision(3),
      tolerance: describeRule(c.rule),
      verdict: c.verdict === "excluded" ? `excluded: ${c.rule?.why ?? ""}`.slice(0, 60) : c.verdict,
    })),
    ...comparison.unusedRules.map((l) => ({ figure: l.figures.join(", "), wasm: "", webgpu: "", difference: "", tolerance: describeRule(l.rule), verdict: "stale rule: matches no recorded figure" })),
  ];
}
