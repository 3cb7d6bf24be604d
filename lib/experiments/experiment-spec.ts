import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, isAbsolute, join, relative, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { type ErrorFields, LabError } from "../errors.js";
import { fromRoot } from "../files.js";
import { type OverrideField, overrideTypeOf } from "../overrides.js";
import { ExperimentSpecError } from "./errors.js";
import { parseTarget } from "./targets.js";

/**
 * Experiment specs: one YAML (or JSON) file per reproducible experiment, declared by `kind:
 * experiment` (experiments/ also holds Factory specs, `kind: factory`), holding what runs
 * (`runner`, `params`), its smaller quick mode (`quick`), the values recorded on the lab
 * machine for each mode (`claims` for the full params, `quickClaims` for the quick ones) and the
 * published values it is read beside (`anchors`). `./lab reproduce`
 * and the notebooks load them here; nothing else parses them.
 */

/** A value recorded for the full run: the measured metric must lie within value ± tolerance. */
export interface Claim {
  metric: string;
  value: number;
  tolerance: number;
  /** The goal the metric is judged against, ">= 0.75" style (met or missed). */
  target?: string;
  /** The metric's name when quick mode changes it (TRAK's ensemble size is in its name). */
  quickMetric?: string;
}

/** A published value for one of the spec's metrics, cited by paper or benchmark report. */
export interface Anchor {
  /** The claim metric it is read beside. */
  metric: string;
  /** The published method and its variant, e.g. "TRAK-50". */
  method: string;
  /** The published number, or "not reported" when the source gives none for this setting. */
  value: number | "not reported";
  /** The published number is read off a figure, so about this much. */
  approximate: boolean;
  /** Data set, model and sizes of the published run. */
  setting: string;
  /** Paper or benchmark report by name, e.g. "dattri benchmark (Deng et al., 2024)". */
  source: string;
}

/** The `kind:` an experiment spec file declares. */
export const EXPERIMENT_SPEC_KIND = "experiment";

export interface ExperimentSpec {
  kind: typeof EXPERIMENT_SPEC_KIND;
  name: string;
  title: string;
  /** The experiment that runs it: its name in a layer's registry (lib/attribution/experiments/registry.ts). */
  runner: string;
  params: Record<string, unknown>;
  /** Params replaced in quick mode (what CI and notebooks' quick runs use). */
  quick: Record<string, unknown>;
  claims: Claim[];
  /**
   * Values recorded for the quick-mode params (what `./lab reproduce --quick` judges): metric
   * names as the quick run reports them, their own values and tolerances.
   */
  quickClaims: Claim[];
  anchors: Anchor[];
  /** The file it was read from. */
  file: string;
}

export const NOT_REPORTED = "not reported";

const NAME = /^[a-z0-9][a-z0-9._-]{0,79}$/;
const SPEC_KEYS = ["kind", "name", "title", "runner", "params", "quick", "claims", "quickClaims", "anchors"] as const;
const CLAIM_KEYS = ["metric", "value", "tolerance", "target", "quickMetric"] as const;
const ANCHOR_KEYS = ["metric", "method", "value", "approximate", "setting", "source"] as const;

function refuse(code: string, file: string, field: string, message: string, hint: string, extra: ErrorFields = {}): ExperimentSpecError {
  return new ExperimentSpecError({ code, message: `${file}: ${field ? `${field} ` : ""}${message}`, hint, fields: { file, field, ...extra } });
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Reads one field by field: each check names the file, the field's path and the fix. */
class FieldReader {
  constructor(readonly file: string) {}

  mapping(value: unknown, field: string, allowed: readonly string[] | null): Record<string, unknown> {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw refuse("experiment/wrong-type", this.file, field || "(root)", `must be a mapping, got ${describe(value)}`, `write ${field || "the spec"} as key: value pairs`, {
        expected: "mapping",
        got: describe(value),
      });
    }
    const obj = value as Record<string, unknown>;
    if (allowed) {
      for (const key of Object.keys(obj)) {
        if (!allowed.includes(key)) {
          const at = field ? `${field}.${key}` : key;
          throw refuse("experiment/unknown-field", this.file, at, "is not a field of an experiment spec", `remove it; allowed here: ${allowed.join(", ")}`, { allowed: [...allowed] });
        }
      }
    }
    return obj;
  }

  required(obj: Record<string, unknown>, key: string, at: string): unknown {
    if (obj[key] === undefined) throw refuse("experiment/missing-field", this.file, at, "is required", `add ${at}`);
    return obj[key];
  }

  string(value: unknown, field: string): string {
    if (typeof value !== "string" || value.trim() === "") {
      throw refuse("experiment/wrong-type", this.file, field, `must be text, got ${describe(value)}`, `write ${field} as text`, { expected: "string", got: describe(value) });
    }
    return value;
  }

  number(value: unknown, field: string): number {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw refuse("experiment/wrong-type", this.file, field, `must be a number, got ${describe(value)}`, `write ${field} as a number (unquoted)`, { expected: "number", got: describe(value) });
    }
    return value;
  }

  boolean(value: unknown, field: string): boolean {
    if (typeof value !== "boolean") {
      throw refuse("experiment/wrong-type", this.file, field, `must be true or false, got ${describe(value)}`, `write ${field}: true or ${field}: false`, {
        expected: "boolean",
        got: describe(value),
      });
    }
    return value;
  }

  list(value: unknown, field: string): unknown[] {
    if (!Array.isArray(value)) {
      throw refuse("experiment/wrong-type", this.file, field, `must be a list, got ${describe(value)}`, `write ${field} as a list of entries`, { expected: "list", got: describe(value) });
    }
    return value;
  }
}

function readClaim(r: FieldReader, raw: unknown, at: string): Claim {
  const obj = r.mapping(raw, at, CLAIM_KEYS);
  const claim: Claim = {
    metric: r.string(r.required(obj, "metric", `${at}.metric`), `${at}.metric`),
    value: r.number(r.required(obj, "value", `${at}.value`), `${at}.value`),
    tolerance: r.number(r.required(obj, "tolerance", `${at}.tolerance`), `${at}.tolerance`),
  };
  if (claim.tolerance < 0) throw refuse("experiment/out-of-range", r.file, `${at}.tolerance`, `is ${claim.tolerance}, below 0`, "write the tolerance as a distance: 0 or more");
  if (obj.target !== undefined) {
    claim.target = r.string(obj.target, `${at}.target`);
    parseTarget(claim.target, { file: r.file, field: `${at}.target` });
  }
  if (obj.quickMetric !== undefined) claim.quickMetric = r.string(obj.quickMetric, `${at}.quickMetric`);
  return claim;
}

/** A list of claims, one per metric. */
function readClaims(r: FieldReader, raw: unknown, field: string): Claim[] {
  const claims = r.list(raw, field).map((c, i) => readClaim(r, c, `${field}[${i}]`));
  const seen = new Set<string>();
  claims.forEach((c, i) => {
    if (seen.has(c.metric)) throw refuse("experiment/repeated-claim", r.file, `${field}[${i}].metric`, `claims "${c.metric}" a second time`, "keep one claim per metric", { metric: c.metric });
    seen.add(c.metric);
  });
  return claims;
}

function readAnchor(r: FieldReader, raw: unknown, at: string, metrics: Set<string>): Anchor {
  const obj = r.mapping(raw, at, ANCHOR_KEYS);
  const metric = r.string(r.required(obj, "metric", `${at}.metric`), `${at}.metric`);
  if (!metrics.has(metric)) {
    throw refuse("experiment/unknown-metric", r.file, `${at}.metric`, `names "${metric}", which no claim records`, `anchor one of the claimed metrics: ${[...metrics].join(", ")}`, { metric });
  }
  const rawValue = r.required(obj, "value", `${at}.value`);
  const value = rawValue === NOT_REPORTED ? NOT_REPORTED : typeof rawValue === "number" ? r.number(rawValue, `${at}.value`) : undefined;
  if (value === undefined) {
    throw refuse(
      "experiment/wrong-type",
      r.file,
      `${at}.value`,
      `must be a number or "${NOT_REPORTED}", got ${describe(rawValue)}`,
      `write the published number, or "${NOT_REPORTED}" when the source gives none`,
      { expected: "number | not reported", got: describe(rawValue) },
    );
  }
  return {
    metric,
    method: r.string(r.required(obj, "method", `${at}.method`), `${at}.method`),
    value,
    approximate: obj.approximate === undefined ? false : r.boolean(obj.approximate, `${at}.approximate`),
    setting: r.string(r.required(obj, "setting", `${at}.setting`), `${at}.setting`),
    source: r.string(r.required(obj, "source", `${at}.source`), `${at}.source`),
  };
}

function readQuick(r: FieldReader, raw: unknown, params: Record<string, unknown>): Record<string, unknown> {
  if (raw === undefined) return {};
  const quick = r.mapping(raw, "quick", null);
  for (const [key, value] of Object.entries(quick)) {
    if (!(key in params)) {
      throw refuse("experiment/unknown-field", r.file, `quick.${key}`, "replaces no entry of params", `quick mode replaces params; use one of: ${Object.keys(params).join(", ")}`, {
        allowed: Object.keys(params),
      });
    }
    if (overrideTypeOf(value) !== overrideTypeOf(params[key])) {
      throw refuse("experiment/wrong-type", r.file, `quick.${key}`, `is ${describe(value)}, but params.${key} is ${describe(params[key])}`, `give quick.${key} the type of params.${key}`, {
        expected: overrideTypeOf(params[key]) ?? "unknown",
        got: describe(value),
      });
    }
  }
  return quick;
}

/** Checks a parsed spec field by field and returns it typed; `file` names it in refusals. */
export function validateExperimentSpec(raw: unknown, file: string): ExperimentSpec {
  const r = new FieldReader(file);
  const root = r.mapping(raw, "", SPEC_KEYS);
  const kind = r.required(root, "kind", "kind");
  if (kind !== EXPERIMENT_SPEC_KIND) {
    throw refuse("experiment/wrong-kind", file, "kind", `is ${describe(kind)}, not "${EXPERIMENT_SPEC_KIND}"`, `an experiment spec begins with kind: ${EXPERIMENT_SPEC_KIND}`, {
      expected: EXPERIMENT_SPEC_KIND,
      got: describe(kind),
    });
  }
  const name = r.string(r.required(root, "name", "name"), "name");
  if (!NAME.test(name)) throw refuse("experiment/bad-name", file, "name", `"${name}" is not a spec name`, "use lowercase letters, digits, . _ - (up to 80)", { name });
  const params = r.mapping(r.required(root, "params", "params"), "params", null);
  const claims = readClaims(r, r.required(root, "claims", "claims"), "claims");
  const seen = new Set(claims.map((c) => c.metric));
  if (root.quickClaims !== undefined && root.quick === undefined) {
    throw refuse("experiment/missing-field", file, "quick", "is required by quickClaims", "add the quick-mode params (quick:) the quick claims were recorded with, or remove quickClaims");
  }
  const quickClaims = root.quickClaims === undefined ? [] : readClaims(r, root.quickClaims, "quickClaims");
  const anchors = root.anchors === undefined ? [] : r.list(root.anchors, "anchors").map((a, i) => readAnchor(r, a, `anchors[${i}]`, seen));
  return {
    kind: EXPERIMENT_SPEC_KIND,
    name,
    title: root.title === undefined ? name : r.string(root.title, "title"),
    runner: r.string(r.required(root, "runner", "runner"), "runner"),
    params,
    quick: readQuick(r, root.quick, params),
    claims,
    quickClaims,
    anchors,
    file,
  };
}

/** Reads and checks one spec file (.yaml, .yml or .json). */
export function readExperimentSpec(path: string): ExperimentSpec {
  const file = relative(fromRoot(), path) || path;
  if (!existsSync(path)) throw refuse("experiment/not-found", file, "", "does not exist", "pass a spec under experiments/, e.g. experiments/attribution/logreg-fmnist.yaml");
  const text = readFileSync(path, "utf8");
  let raw: unknown;
  try {
    raw = extname(path) === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw refuse("experiment/unparsable", file, "", `does not parse: ${(error as Error).message.split("\n")[0]}`, "fix the YAML/JSON syntax at the line given");
  }
  return validateExperimentSpec(raw, file);
}

function isSpecFile(path: string): boolean {
  return [".yaml", ".yml", ".json"].includes(extname(path));
}

/** The spec files under `dir` (runs/ and dot folders aside), whatever their kind. */
function specFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (entry === "runs" || entry.startsWith(".")) return [];
      if (statSync(path).isDirectory()) return specFilesUnder(path);
      return isSpecFile(path) ? [path] : [];
    });
}

const UNPARSABLE = Symbol("unparsable");

/** The `kind:` a spec file declares (undefined when none), or UNPARSABLE when it does not parse (reading it then says why). */
function declaredKind(path: string): unknown {
  let raw: unknown;
  try {
    const text = readFileSync(path, "utf8");
    raw = extname(path) === ".json" ? JSON.parse(text) : parseYaml(text);
  } catch {
    return UNPARSABLE;
  }
  return raw !== null && typeof raw === "object" && !Array.isArray(raw) ? (raw as Record<string, unknown>).kind : undefined;
}

/**
 * Files under `dir` that are experiment specs: those declaring `kind: experiment`, and those that do
 * not parse (reading them says why, and affects only them). Files of another kind (`kind:
 * factory`) or of none (configuration) are not.
 */
export function experimentSpecFiles(dir = fromRoot("experiments")): string[] {
  return specFilesUnder(dir).filter((path) => {
    const kind = declaredKind(path);
    return kind === EXPERIMENT_SPEC_KIND || kind === UNPARSABLE;
  });
}

/** The experiment specs under `dir`: those that read and check, and a refusal for each that does not (it affects only itself). */
export function scanExperimentSpecs(dir = fromRoot("experiments"), check: (spec: ExperimentSpec) => void = () => {}): { specs: ExperimentSpec[]; refused: LabError[] } {
  const specs: ExperimentSpec[] = [];
  const refused: LabError[] = [];
  for (const path of experimentSpecFiles(dir)) {
    try {
      const spec = readExperimentSpec(path);
      check(spec);
      specs.push(spec);
    } catch (error) {
      if (!(error instanceof LabError)) throw error;
      refused.push(error);
    }
  }
  return { specs, refused };
}

/** Every experiment spec under `dir`, checked; the first refusal stops it (the tests' view: every spec must read). */
export function listExperimentSpecs(dir = fromRoot("experiments")): ExperimentSpec[] {
  return experimentSpecFiles(dir).map(readExperimentSpec);
}

/**
 * The spec called `nameOrPath`: a spec's `name`, its path under `dir` without extension
 * ("attribution/logreg-fmnist"), or a spec file's path. A spec elsewhere under `dir` that does not
 * read is passed over unless it is the one asked for; `check` (e.g. params against the
 * experiment's declarations) runs on the spec found.
 */
export function loadExperimentSpec(nameOrPath: string, dir = fromRoot("experiments"), check: (spec: ExperimentSpec) => void = () => {}): ExperimentSpec {
  const checked = (spec: ExperimentSpec) => {
    check(spec);
    return spec;
  };
  if (isSpecFile(nameOrPath)) return checked(readExperimentSpec(isAbsolute(nameOrPath) ? nameOrPath : resolve(nameOrPath)));
  const files = experimentSpecFiles(dir);
  const stem = (path: string) => relative(dir, path).replace(/\.(ya?ml|json)$/, "");
  const byPath = files.find((path) => stem(path) === nameOrPath);
  if (byPath) return checked(readExperimentSpec(byPath));
  const { specs, refused } = scanExperimentSpecs(dir);
  const hit = specs.find((s) => s.name === nameOrPath);
  if (!hit) {
    const known = specs.map((s) => s.name).sort();
    const unreadable = refused.map((e) => String(e.fields.file));
    throw new ExperimentSpecError({
      code: "experiment/unknown-name",
      message: `no experiment spec named "${nameOrPath}"${unreadable.length ? ` (${unreadable.join(", ")} could not be read)` : ""}`,
      hint: `use one of: ${known.join(", ")}`,
      fields: { name: nameOrPath, known, unreadable },
    });
  }
  return checked(hit);
}

/** The keys `--set` may override for this spec, typed by their values in params. */
export function overrideFields(spec: ExperimentSpec): OverrideField[] {
  return Object.entries(spec.params).flatMap(([key, value]) => {
    const type = overrideTypeOf(value);
    return type ? [{ key, type, default: value }] : [];
  });
}

/**
 * The params an experiment runs with: the spec's, then quick mode's, then overrides (`--set`, or a
 * notebook's own seed). `P` is the experiment's params type, which the runner checks as it reads them.
 */
export function experimentParams<P = Record<string, unknown>>(spec: ExperimentSpec, options: { quick?: boolean; overrides?: Record<string, unknown> } = {}): P {
  return { ...spec.params, ...(options.quick ? spec.quick : {}), ...(options.overrides ?? {}) } as P;
}
