/**
 * The lab's one error type. Every refusal carries a stable `code` ("frame/too-large",
 * "spec/unknown-field", "chain/id-mismatch"), the structured `fields` it was built from, what is
 * wrong (`message`) and how to fix it (`hint`), so callers and tests branch on code and fields,
 * never on text, and a reader of a failed notebook or command knows the next step.
 */
export type ErrorFieldValue = string | number | bigint | boolean | null | undefined | readonly (string | number)[];
export type ErrorFields = Record<string, ErrorFieldValue>;

export interface LabErrorSpec {
  /** Stable "area/what" identifier; never reworded once published. */
  code: string;
  message: string;
  hint: string;
  fields?: ErrorFields;
  cause?: unknown;
}

/** Marks the lab's error classes, whichever copy of this module defined them. */
const LAB_ERROR_CLASS = Symbol.for("openledger-lab/error-class");

export class LabError extends Error {
  static readonly [LAB_ERROR_CLASS] = true;

  /**
   * `instanceof` by class name among the lab's error classes: a process can hold two copies of a
   * module (a TypeScript test loader loads a file that uses top-level await as ESM and the others
   * as CommonJS), and an error built by one copy is still the error the other copy's class names.
   */
  static [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== "object" || value === null) return false;
    // `this` is the subclass `instanceof` was asked about, not LabError
    // biome-ignore lint/complexity/noThisInStatic: the subclass is the point
    // biome-ignore lint/complexity/noUselessThisAlias: named for the loop's comparison
    const wanted = this;
    for (let proto = Object.getPrototypeOf(value); proto; proto = Object.getPrototypeOf(proto)) {
      const ctor = proto.constructor as { name?: string; [LAB_ERROR_CLASS]?: boolean } | undefined;
      if (ctor === wanted || (ctor?.[LAB_ERROR_CLASS] === true && ctor.name === wanted.name)) return true;
    }
    return false;
  }

  readonly code: string;
  readonly fields: ErrorFields;
  readonly hint: string;

  constructor(spec: LabErrorSpec) {
    super(spec.message, spec.cause === undefined ? undefined : { cause: spec.cause });
    this.name = new.target.name;
    this.code = spec.code;
    this.fields = spec.fields ?? {};
    this.hint = spec.hint;
  }

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}\n  fix: ${this.hint}`;
  }
}

/** True when `error` is a LabError with this code: the way callers and tests branch on errors. */
export function hasCode(error: unknown, code: string): error is LabError {
  return error instanceof LabError && error.code === code;
}

/** Formats any thrown value for a terminal: a LabError with its fix, anything else as is. */
export function describeError(error: unknown): string {
  if (error instanceof LabError) return error.toString();
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/**
 * One paragraph for a person at a terminal: what is wrong, then the fix, wrapped to `width`
 * columns, with no stack and no blank line. What a command prints when it refuses to start.
 */
export function problemParagraph(error: unknown, width = 100): string {
  const what = error instanceof Error ? error.message : String(error);
  const fix = error instanceof LabError && error.hint ? ` Fix: ${error.hint.replace(/\.?$/, ".")}` : "";
  const words = `error: ${what.replace(/\s+/g, " ").replace(/\.?$/, ".")}${fix}`.split(" ");
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join("\n");
}
