import { LabError } from "./errors.js";

/**
 * Typed `--set key=value` overrides: the one parser behind `./lab run` (a notebook's parameters
 * cell), `./lab reproduce` (an experiment spec's params) and `./lab factory` (a Factory spec's
 * fields). The caller names the keys it accepts and their types; every pair is split, its key
 * looked up and its text typed before any work starts, and a refusal is a structured
 * `OverrideError` whose `fields` say which key, what was expected and what was given.
 */
export type OverrideType = "number" | "integer" | "boolean" | "string" | "number[]" | "string[]";
export type OverrideValue = number | boolean | string | null | number[] | string[];

export interface OverrideField {
  /** The key as written after `--set`; dotted for nested fields ("training.steps"). */
  key: string;
  type: OverrideType;
  /** `--set key=null` is allowed. */
  nullable?: boolean;
  /** The values a string may take. */
  oneOf?: readonly string[];
  /** The value in force when not overridden: the example a refusal gives. */
  default?: unknown;
}

/** A `--set` pair that cannot be used: malformed, repeated, unknown, or of the wrong type. */
export class OverrideError extends LabError {}

/** Splits the text after `--set` at its first "=": `seed=7` → ["seed", "7"]. */
export function splitSetPair(pair: string | undefined): [string, string] {
  const eq = pair?.indexOf("=") ?? -1;
  if (pair === undefined || eq <= 0) {
    throw new OverrideError({
      code: "set/malformed",
      message: `--set needs key=value, got ${pair === undefined ? "nothing" : `"${pair}"`}`,
      hint: "write e.g. --set seed=7",
      fields: { pair: pair ?? null },
    });
  }
  return [pair.slice(0, eq).trim(), pair.slice(eq + 1)];
}

function wrongType(field: OverrideField, raw: string, where: string, expected: string): OverrideError {
  return new OverrideError({
    code: "set/wrong-type",
    message: `${field.key} of ${where} is ${expected}, but got "${raw}"`,
    hint: `pass ${expected}, e.g. --set ${field.key}=${example(field)}`,
    fields: { key: field.key, expected: field.type, value: raw, where },
  });
}

function example(field: OverrideField): string {
  if (field.default !== undefined && field.default !== null) return Array.isArray(field.default) ? field.default.join(",") : String(field.default);
  switch (field.type) {
    case "boolean":
      return "true";
    case "string":
      return field.oneOf?.[0] ?? "text";
    case "number[]":
      return "1,2,3";
    case "string[]":
      return "a,b";
    default:
      return "1";
  }
}

function typeNumber(field: OverrideField, text: string, raw: string, where: string, integer: boolean): number {
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) throw wrongType(field, raw, where, integer ? "a whole number" : "a number");
  if (integer && !Number.isInteger(value)) throw wrongType(field, raw, where, "a whole number");
  return value;
}

/** "[1, 2, 3]", "1,2,3" or a single "1": the items of a list value, unquoted. */
function listItems(raw: string): string[] {
  const inner = raw
    .trim()
    .replace(/^\[(.*)\]$/s, "$1")
    .trim();
  if (inner === "") return [];
  return inner.split(",").map((item) => item.trim().replace(/^(["'])(.*)\1$/, "$2"));
}

/** Types the text of one `--set key=value` against its field, or refuses it naming the fix. */
export function typeOverride(field: OverrideField, raw: string, where = "the command"): OverrideValue {
  if (field.nullable && raw.trim() === "null") return null;
  switch (field.type) {
    case "number":
    case "integer":
      return typeNumber(field, raw, raw, where, field.type === "integer");
    case "boolean":
      if (raw !== "true" && raw !== "false") throw wrongType(field, raw, where, "a boolean");
      return raw === "true";
    case "string":
      if (field.oneOf && !field.oneOf.includes(raw)) {
        throw new OverrideError({
          code: "set/not-allowed",
          message: `${field.key} of ${where} is one of ${field.oneOf.join(", ")}, but got "${raw}"`,
          hint: `pass one of: ${field.oneOf.map((v) => `--set ${field.key}=${v}`).join(", ")}`,
          fields: { key: field.key, value: raw, allowed: [...field.oneOf], where },
        });
      }
      return raw;
    case "number[]":
      return listItems(raw).map((item) => typeNumber(field, item, raw, where, false));
    case "string[]":
      return listItems(raw);
  }
}

/**
 * Types every `--set` pair against the fields a command accepts: an unknown key or a repeated
 * one is refused, naming the keys there are. Returns the typed values by key, in the given order.
 */
export function typeOverrides(pairs: readonly string[], fields: readonly OverrideField[], where = "the command"): Record<string, OverrideValue> {
  const byKey = new Map(fields.map((f) => [f.key, f]));
  const values: Record<string, OverrideValue> = {};
  for (const pair of pairs) {
    const [key, raw] = splitSetPair(pair);
    const field = byKey.get(key);
    if (!field) throw unknownKey(key, [...byKey.keys()], where);
    if (key in values) {
      throw new OverrideError({
        code: "set/repeated-key",
        message: `--set ${key} is given twice`,
        hint: `keep one --set ${key}=...`,
        fields: { key, where },
      });
    }
    values[key] = typeOverride(field, raw, where);
  }
  return values;
}

/** The refusal of a key that `where` does not take. */
export function unknownKey(key: string, known: readonly string[], where: string): OverrideError {
  return new OverrideError({
    code: "set/unknown-key",
    message: `unknown parameter "${key}": ${where} does not take it`,
    hint: known.length ? `use one of: ${known.join(", ")}` : `${where} takes no --set parameters`,
    fields: { key, known: [...known], where },
  });
}

/** The type a key takes when only its default value is known (an experiment spec's params). */
export function overrideTypeOf(value: unknown): OverrideType | undefined {
  if (typeof value === "number") return "number";
  if (typeof value === "boolean") return "boolean";
  if (typeof value === "string") return "string";
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) return "number[]";
  if (Array.isArray(value) && value.every((v) => typeof v === "string")) return "string[]";
  return undefined;
}

/** A copy of `target` with each dotted key set to its value ("training.steps" sets target.training.steps). */
export function applyOverrides<T extends object>(target: T, values: Record<string, OverrideValue>): T {
  const out = structuredClone(target) as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    const path = key.split(".");
    let node = out;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (next === null || typeof next !== "object" || Array.isArray(next)) node[part] = {};
      node = node[part] as Record<string, unknown>;
    }
    node[path[path.length - 1]] = value;
  }
  return out as T;
}
