import { escapeHtml, html } from "./display.js";

export type Row = Record<string, unknown>;

/** A danfojs DataFrame (columns + values) or an arquero table (objects()). */
interface DanfoLike {
  columns: string[];
  values: unknown[];
  index?: Array<string | number>;
}
interface ArqueroLike {
  objects(): object[];
}

function isDanfo(x: unknown): x is DanfoLike {
  return typeof x === "object" && x !== null && Array.isArray((x as DanfoLike).columns) && Array.isArray((x as DanfoLike).values);
}
function isArquero(x: unknown): x is ArqueroLike {
  return typeof x === "object" && x !== null && typeof (x as ArqueroLike).objects === "function";
}

export function toRows(frame: Row[] | DanfoLike | ArqueroLike): Row[] {
  if (Array.isArray(frame)) return frame;
  if (isArquero(frame)) return frame.objects() as Row[];
  if (isDanfo(frame)) {
    // A labelled index (describe()'s statistic names, a transposed frame's columns) is shown as the first column.
    const labelled = frame.index?.some((label, i) => label !== i) ?? false;
    return (frame.values as unknown[][]).map((values, row) => ({
      ...(labelled ? { "": frame.index![row] } : {}),
      ...Object.fromEntries(frame.columns.map((c, i) => [c, values[i]])),
    }));
  }
  throw new TypeError("table() takes an array of row objects, a danfojs DataFrame or an arquero table");
}

function formatCell(v: unknown, digits: number): string {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    return Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(digits - 1) : v.toFixed(digits);
  }
  if (typeof v === "bigint") return v.toString();
  if (v === null || v === undefined) return "";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

export interface TableOptions {
  caption?: string;
  digits?: number;
}

/** Words longer than this (hashes, addresses, paths) are marked to break anywhere in an HTML table. */
const LONG_WORD = 20;

export function tableHtml(rows: Row[], options: TableOptions = {}): string {
  const digits = options.digits ?? 4;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const cell = (value: unknown) => {
    const text = formatCell(value, digits);
    // A long unbroken word (a hash, an address) may break anywhere, so the table fits its page; short ones never do.
    const long = text.split(/\s+/).some((word) => word.length > LONG_WORD) ? ' class="lab-long"' : "";
    return `<td${long} style="text-align:${typeof value === "number" ? "right" : "left"}">${escapeHtml(text)}</td>`;
  };
  const body = rows.map((r) => `<tr>${columns.map((c) => cell(r[c])).join("")}</tr>`).join("\n");
  const caption = options.caption ? `<caption>${escapeHtml(options.caption)}</caption>` : "";
  return `<table class="lab-table">${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Shows rows as a table: HTML in a notebook, an aligned text table in a terminal. */
export function table(frame: Row[] | DanfoLike | ArqueroLike, options: TableOptions = {}): void {
  const rows = toRows(frame);
  html(tableHtml(rows, options), textTable(rows, options.digits ?? 4, options.caption));
}

export function textTable(rows: Row[], digits = 4, caption?: string): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c], digits)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padStart(widths[i])).join("  ");
  const out = [line(columns), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)];
  return (caption ? `${caption}\n` : "") + out.join("\n");
}
