import { LabError } from "../errors.js";
import { OverrideError, typeOverride } from "../overrides.js";

/**
 * Notebook parameters in the papermill manner: the cell tagged `parameters` declares each one as
 * `let name = literal;` (optionally `let name: type = literal;`), and says beside it what values it
 * takes, as a comment that starts with the kind and its bounds:
 *
 *     let samples = 5000; // int ≥ 1: points drawn for the histogram
 *     let rate = 0.5;     // number > 0, ≤ 1
 *
 * A run may override them; each override is checked against the kind and the bounds before
 * anything runs.
 */
export type ParameterType = "number" | "boolean" | "string";
export type ParameterValue = number | boolean | string;

/** The bounds a number parameter takes; each one inclusive unless marked exclusive. */
export interface ParameterRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

export interface ParameterSpec {
  name: string;
  type: ParameterType;
  default: ParameterValue;
  /** Declared `int`: whole numbers only. */
  integer?: boolean;
  range?: ParameterRange;
  /** The declaration as written beside the parameter ("int ≥ 1"), shown in refusals. */
  declared?: string;
}

export class ParameterError extends LabError {}

const DECLARATION = /^\s*let\s+([A-Za-z_$][\w$]*)\s*(?::\s*(number|boolean|string)\s*)?=\s*(.+?)\s*;?\s*(?:\/\/(.*))?$/;

/** The kind a comment beside a parameter starts with, then its bounds ("int ≥ 1", "number > 0, ≤ 1"). */
const KIND = /^\s*(int|integer|number|boolean|bool|string)\b((?:\s*,?\s*(?:and\s+)?(?:≥|>=|>|≤|<=|<)\s*-?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)*)/;
const BOUND = /(≥|>=|>|≤|<=|<)\s*(-?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)/g;

/** The kind and bounds a parameter's comment declares, or undefined when the comment declares none. */
export function parseKind(comment: string): { type: ParameterType; integer: boolean; range?: ParameterRange; declared: string } | undefined {
  const m = KIND.exec(comment);
  if (!m) return undefined;
  const kind = m[1];
  const type: ParameterType = kind === "int" || kind === "integer" || kind === "number" ? "number" : kind === "bool" || kind === "boolean" ? "boolean" : "string";
  const range: ParameterRange = {};
  for (const [, op, value] of m[2].matchAll(BOUND)) {
    const n = Number(value.replace(/_/g, ""));
    if (op.startsWith(">") || op === "≥") {
      range.min = n;
      range.minExclusive = op === ">";
    } else {
      range.max = n;
      range.maxExclusive = op === "<";
    }
  }
  for (const key of ["minExclusive", "maxExclusive"] as const) if (range[key] === false) delete range[key];
  return { type, integer: kind === "int" || kind === "integer", ...(Object.keys(range).length ? { range } : {}), declared: m[0].trim() };
}

/** The bounds as a reader writes them: "≥ 1", "> 0 and ≤ 1". */
export function describeRange(range: ParameterRange): string {
  const parts: string[] = [];
  if (range.min !== undefined) parts.push(`${range.minExclusive ? ">" : "≥"} ${range.min}`);
  if (range.max !== undefined) parts.push(`${range.maxExclusive ? "<" : "≤"} ${range.max}`);
  return parts.join(" and ");
}

/** True when `value` lies within `range`. */
export function inRange(value: number, range: ParameterRange): boolean {
  if (range.min !== undefined && (range.minExclusive ? value <= range.min : value < range.min)) return false;
  if (range.max !== undefined && (range.maxExclusive ? value >= range.max : value > range.max)) return false;
  return true;
}

function parseLiteral(text: string): ParameterValue | undefined {
  if (text === "true" || text === "false") return text === "true";
  if (/^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || /^-?\d[\d_]*$/.test(text)) return Number(text.replace(/_/g, ""));
  if (/^"(?:[^"\\]|\\.)*"$/.test(text)) return JSON.parse(text) as string;
  const single = /^'((?:[^'\\]|\\.)*)'$/.exec(text);
  if (single) return JSON.parse(`"${single[1].replace(/\\'/g, "'").replace(/"/g, '\\"')}"`) as string;
  return undefined;
}

export function parseParameterCell(source: string): ParameterSpec[] {
  const specs: ParameterSpec[] = [];
  for (const raw of source.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("//")) continue;
    const m = DECLARATION.exec(line);
    const value = m ? parseLiteral(m[3]) : undefined;
    if (!m || value === undefined) {
      throw new ParameterError({
        code: "params/not-a-declaration",
        message: `the parameters cell has a line that is not \`let name = literal;\`: ${line}`,
        hint: "keep only declarations with a number, boolean or string literal in the cell tagged `parameters`",
        fields: { line },
      });
    }
    const kind = m[4] === undefined ? undefined : parseKind(m[4]);
    const type = (m[2] as ParameterType | undefined) ?? kind?.type ?? (typeof value as ParameterType);
    if (typeof value !== type || (kind && kind.type !== type)) {
      throw new ParameterError({
        code: "params/default-type-mismatch",
        message: `parameter ${m[1]} is declared ${kind?.declared ?? type} but its default ${m[3]} is a ${typeof value}`,
        hint: `make the default of ${m[1]} a ${kind?.type ?? type} literal`,
        fields: { parameter: m[1], declared: kind?.type ?? type, default: m[3] },
      });
    }
    const spec: ParameterSpec = { name: m[1], type, default: value };
    if (kind) {
      if (kind.integer) spec.integer = true;
      if (kind.range) spec.range = kind.range;
      spec.declared = kind.declared;
      if (typeof value === "number" && ((kind.integer && !Number.isInteger(value)) || (kind.range && !inRange(value, kind.range)))) {
        throw new ParameterError({
          code: "params/default-out-of-range",
          message: `parameter ${m[1]} is declared ${kind.declared} but its default is ${m[3]}`,
          hint: `make the default of ${m[1]} ${kind.declared}, or widen the declaration`,
          fields: { parameter: m[1], declared: kind.declared, default: m[3] },
        });
      }
    }
    specs.push(spec);
  }
  return specs;
}

/**
 * Turns the text of `--set name=value` into a typed value within the declared bounds, or refuses
 * it (an OverrideError) saying what the parameter takes.
 */
export function coerceParameter(spec: ParameterSpec, raw: string, where = "the notebook"): ParameterValue {
  const value = typeOverride({ key: spec.name, type: spec.integer ? "integer" : spec.type, default: spec.default }, raw, where) as ParameterValue;
  if (typeof value === "number" && spec.range && !inRange(value, spec.range)) {
    const bounds = describeRange(spec.range);
    throw new OverrideError({
      code: "set/out-of-range",
      message: `${spec.name} of ${where} must be ${bounds}, but got ${raw}`,
      hint: `pass a value ${bounds}, e.g. --set ${spec.name}=${spec.default}`,
      fields: { key: spec.name, value: raw, range: bounds, declared: spec.declared ?? null, where },
    });
  }
  return value;
}

/** The source of the injected cell: plain assignments, so TypeScript checks them against the declarations. */
export function injectedCellSource(values: Record<string, ParameterValue>): string {
  const lines = Object.entries(values).map(([name, value]) => `${name} = ${JSON.stringify(value)};`);
  // no `void 0` here: the executor ends every cell with one, so no assignment is echoed
  return ["// Parameters injected by ./lab run", ...lines].join("\n");
}
