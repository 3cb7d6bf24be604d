import { closest, suggestion } from "../did-you-mean.js";
import type { ErrorFields } from "../errors.js";
import { ExperimentSpecError } from "./errors.js";

/**
 * What an experiment declares about its params: each key's type and range, so a spec's params (and
 * quick mode, and `--set`) are checked when the spec is loaded, before anything runs. A declaration
 * is built from the helpers in `param` and its value type follows from it (`ParamsOf`), so the
 * experiment's code reads the params the spec was checked against.
 */
export interface ParamDecl<T> {
  /** How the type reads in a refusal: "an integer ≥ 1", "a list of numbers". */
  readonly expected: string;
  /** A missing key is allowed. */
  readonly optional: boolean;
  /** One line on what the param does. */
  readonly doc?: string;
  /** The problem with `value` at `field`, or undefined when it is a T. */
  problem(value: unknown, field: string): ParamProblem | undefined;
  /** Never set: carries T for `ParamsOf`. */
  readonly type?: T;
}

export interface ParamProblem {
  code: "experiment/wrong-type" | "experiment/out-of-range" | "experiment/unknown-param" | "experiment/missing-param";
  field: string;
  message: string;
  hint: string;
  fields: ErrorFields;
}

export type ParamDecls = Record<string, ParamDecl<unknown>>;

type ValueOf<D> = D extends ParamDecl<infer T> ? T : never;
type OptionalKeys<D extends ParamDecls> = { [K in keyof D]: undefined extends ValueOf<D[K]> ? K : never }[keyof D];

/** The params an experiment receives, typed by its declarations (optional ones may be absent). */
export type ParamsOf<D extends ParamDecls> = { -readonly [K in Exclude<keyof D, OptionalKeys<D>>]: ValueOf<D[K]> } & {
  -readonly [K in OptionalKeys<D>]?: Exclude<ValueOf<D[K]>, undefined>;
};

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function wrongType(field: string, expected: string, value: unknown): ParamProblem {
  return { code: "experiment/wrong-type", field, message: `must be ${expected}, got ${describe(value)}`, hint: `write ${field} as ${expected}`, fields: { expected, got: describe(value) } };
}

interface Range {
  min?: number;
  max?: number;
  doc?: string;
}

function rangeText(r: Range): string {
  return [r.min !== undefined ? `≥ ${r.min}` : "", r.max !== undefined ? `≤ ${r.max}` : ""].filter(Boolean).join(" and ");
}

function numeric(integer: boolean, r: Range): ParamDecl<number> {
  const base = integer ? "an integer" : "a number";
  const expected = rangeText(r) ? `${base} ${rangeText(r)}` : base;
  return {
    expected,
    optional: false,
    doc: r.doc,
    problem(value, field) {
      if (typeof value !== "number" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) return wrongType(field, base, value);
      if ((r.min !== undefined && value < r.min) || (r.max !== undefined && value > r.max)) {
        return {
          code: "experiment/out-of-range",
          field,
          message: `is ${value}, outside ${rangeText(r)}`,
          hint: `give ${field} ${expected}`,
          fields: { got: value, min: r.min ?? null, max: r.max ?? null },
        };
      }
      return undefined;
    },
  };
}

/** The builders of param declarations. */
export const param = {
  int: (r: Range = {}): ParamDecl<number> => numeric(true, r),
  number: (r: Range = {}): ParamDecl<number> => numeric(false, r),
  text: (doc?: string): ParamDecl<string> => ({
    expected: "text",
    optional: false,
    doc,
    problem: (value, field) => (typeof value === "string" && value !== "" ? undefined : wrongType(field, "text", value)),
  }),
  /** One of the listed words; a near miss is named in the refusal. */
  oneOf: <const T extends string>(values: readonly T[], doc?: string): ParamDecl<T> => {
    const expected = `one of ${values.join(", ")}`;
    return {
      expected,
      optional: false,
      doc,
      problem(value, field) {
        if (typeof value === "string" && (values as readonly string[]).includes(value)) return undefined;
        const near = typeof value === "string" ? suggestion(value, values) : "";
        return {
          ...wrongType(field, expected, value),
          message: `must be ${expected}, got ${describe(value)}${near}`,
          fields: { expected, got: describe(value), suggestion: typeof value === "string" ? closest(value, values) : null },
        };
      },
    };
  },
  list: <T>(of: ParamDecl<T>, r: { minLength?: number; doc?: string } = {}): ParamDecl<T[]> => ({
    expected: `a list of ${of.expected.replace(/^an? /, "")}s${r.minLength ? ` (at least ${r.minLength})` : ""}`,
    optional: false,
    doc: r.doc,
    problem(value, field) {
      if (!Array.isArray(value)) return wrongType(field, `a list of ${of.expected.replace(/^an? /, "")}s`, value);
      if (r.minLength !== undefined && value.length < r.minLength) {
        return {
          code: "experiment/out-of-range",
          field,
          message: `has ${value.length} entries, fewer than ${r.minLength}`,
          hint: `give ${field} at least ${r.minLength} entries`,
          fields: { got: value.length, min: r.minLength },
        };
      }
      for (const [i, item] of value.entries()) {
        const p = of.problem(item, `${field}[${i}]`);
        if (p) return p;
      }
      return undefined;
    },
  }),
  /** A mapping with these keys (each checked; unknown ones refused). */
  record: <D extends ParamDecls>(fields: D, doc?: string): ParamDecl<ParamsOf<D>> => ({
    expected: "a mapping",
    optional: false,
    doc,
    problem: (value, field) => paramsProblem(fields, value, field),
  }),
  /** Either of two declarations (e.g. a number or the word "objective"). */
  either: <A, B>(a: ParamDecl<A>, b: ParamDecl<B>, doc?: string): ParamDecl<A | B> => ({
    expected: `${a.expected}, or ${b.expected}`,
    optional: false,
    doc,
    problem(value, field) {
      const pa = a.problem(value, field);
      if (!pa) return undefined;
      const pb = b.problem(value, field);
      if (!pb) return undefined;
      return pa.code === "experiment/wrong-type" ? { ...wrongType(field, `${a.expected}, or ${b.expected}`, value) } : pa;
    },
  }),
  /** The key may be absent. */
  optional: <T>(d: ParamDecl<T>): ParamDecl<T | undefined> => ({ ...d, optional: true, problem: (value, field) => (value === undefined ? undefined : d.problem(value, field)) }),
};

/** The first problem of `value` against the declarations, or undefined when none. */
export function paramsProblem(decls: ParamDecls, value: unknown, field: string): ParamProblem | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return wrongType(field, "a mapping", value);
  const obj = value as Record<string, unknown>;
  const known = Object.keys(decls);
  for (const key of Object.keys(obj)) {
    if (!(key in decls)) {
      return {
        code: "experiment/unknown-param",
        field: `${field}.${key}`,
        message: `is no param of this experiment${suggestion(key, known)}`,
        hint: `use one of: ${known.join(", ")}`,
        fields: { param: key, known, suggestion: closest(key, known) },
      };
    }
  }
  for (const [key, decl] of Object.entries(decls)) {
    if (obj[key] === undefined) {
      if (decl.optional) continue;
      return { code: "experiment/missing-param", field: `${field}.${key}`, message: "is required", hint: `add ${key}: ${decl.expected}`, fields: { param: key, expected: decl.expected } };
    }
    const p = decl.problem(obj[key], `${field}.${key}`);
    if (p) return p;
  }
  return undefined;
}

/**
 * Checks params against an experiment's declarations and returns them typed; a refusal names the
 * spec file, the field ("params.rnak", "quick.steps", "--set rank") and the fix.
 */
export function checkParams<D extends ParamDecls>(decls: D, value: unknown, where: { file: string; field: string }): ParamsOf<D> {
  const p = paramsProblem(decls, value, where.field);
  if (p) throw new ExperimentSpecError({ code: p.code, message: `${where.file}: ${p.field} ${p.message}`, hint: p.hint, fields: { file: where.file, field: p.field, ...p.fields } });
  return value as ParamsOf<D>;
}
