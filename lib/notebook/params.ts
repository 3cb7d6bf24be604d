import { LabError } from "../errors.js";
import { typeOverride } from "../overrides.js";

/**
 * Notebook parameters in the papermill manner: the cell tagged `parameters` declares each one as
 * `let name = literal;` (optionally `let name: type = literal;`); a run may override them, and
 * the override is type-checked against the declared default before anything runs.
 */
export type ParameterType = "number" | "boolean" | "string";
export type ParameterValue = number | boolean | string;

export interface ParameterSpec {
  name: string;
  type: ParameterType;
  default: ParameterValue;
}

export class ParameterError extends LabError {}

const DECLARATION = /^\s*let\s+([A-Za-z_$][\w$]*)\s*(?::\s*(number|boolean|string)\s*)?=\s*(.+?)\s*;?\s*(?:\/\/.*)?$/;

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
    const type = (m[2] as ParameterType | undefined) ?? (typeof value as ParameterType);
    if (typeof value !== type) {
      throw new ParameterError({
        code: "params/default-type-mismatch",
        message: `parameter ${m[1]} is declared ${type} but its default ${m[3]} is a ${typeof value}`,
        hint: `make the default of ${m[1]} a ${type} literal`,
        fields: { parameter: m[1], declared: type, default: m[3] },
      });
    }
    specs.push({ name: m[1], type, default: value });
  }
  return specs;
}

/** Turns the text of `--set name=value` into a typed value, or refuses it (an OverrideError) naming the fix. */
export function coerceParameter(spec: ParameterSpec, raw: string, where = "the notebook"): ParameterValue {
  return typeOverride({ key: spec.name, type: spec.type, default: spec.default }, raw, where) as ParameterValue;
}

/** The source of the injected cell: plain assignments, so TypeScript checks them against the declarations. */
export function injectedCellSource(values: Record<string, ParameterValue>): string {
  const lines = Object.entries(values).map(([name, value]) => `${name} = ${JSON.stringify(value)};`);
  // no `void 0` here: the executor ends every cell with one, so no assignment is echoed
  return ["// Parameters injected by ./lab run", ...lines].join("\n");
}
