import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { LabError } from "../errors.js";
import { fromRoot } from "../files.js";
import { type ParameterSpec, parseParameterCell } from "../notebook/params.js";

export interface NotebookCell {
  id?: string;
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  metadata: { tags?: string[]; execution?: Record<string, string>; [key: string]: unknown };
  outputs?: unknown[];
  execution_count?: number | null;
}

export interface NotebookJson {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

export interface NotebookFile {
  /** File stem, e.g. "00-tour": the notebook's id in run folders and on chain. */
  name: string;
  path: string;
}

export class UnknownNotebookError extends LabError {}

export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

export function notebooksDir(): string {
  return process.env.LAB_NOTEBOOKS_DIR ?? fromRoot("notebooks");
}

/** Every notebook in notebooks/, in file-name order (the order `./lab run` executes them). */
export function listNotebooks(dir = notebooksDir()): NotebookFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ipynb") && !f.startsWith("."))
    .sort()
    .map((f) => ({ name: basename(f, ".ipynb"), path: join(dir, f) }));
}

/**
 * Picks notebooks by name: the full stem ("01-rollup-batching"), its number ("01"), or the part
 * after the number ("rollup-batching"). No names means all of them.
 */
export function resolveNotebooks(names: string[], dir = notebooksDir()): NotebookFile[] {
  const all = listNotebooks(dir);
  if (names.length === 0) return all;
  return names.map((wanted) => {
    const key = wanted.replace(/\.ipynb$/, "").replace(/^.*\//, "");
    const match = all.filter((n) => n.name === key || n.name.split("-")[0] === key || n.name.replace(/^\d+-/, "") === key);
    if (match.length !== 1) {
      throw new UnknownNotebookError({
        code: match.length === 0 ? "run/unknown-notebook" : "run/ambiguous-notebook",
        message: match.length === 0 ? `no notebook named "${wanted}" in ${dir}` : `"${wanted}" matches several notebooks: ${match.map((m) => m.name).join(", ")}`,
        hint: `use one of: ${all.map((n) => n.name).join(", ")} (the number alone works too, e.g. ./lab run 00)`,
        fields: { name: wanted, dir, matches: match.map((m) => m.name) },
      });
    }
    return match[0];
  });
}

export function readNotebook(path: string): NotebookJson {
  return JSON.parse(readFileSync(path, "utf8")) as NotebookJson;
}

export function parametersCellIndex(nb: NotebookJson): number {
  return nb.cells.findIndex((c) => c.cell_type === "code" && (c.metadata.tags ?? []).includes("parameters"));
}

export function notebookParameters(nb: NotebookJson): ParameterSpec[] {
  const index = parametersCellIndex(nb);
  return index < 0 ? [] : parseParameterCell(cellSource(nb.cells[index]));
}

/** The notebook's title: the first heading of its first markdown cell, else its name. */
export function notebookTitle(nb: NotebookJson, fallback: string): string {
  const first = nb.cells.find((c) => c.cell_type === "markdown");
  const heading = first
    ? cellSource(first)
        .split("\n")
        .find((l) => /^#\s/.test(l.trim()))
    : undefined;
  return heading ? heading.trim().replace(/^#\s+/, "").replace(/[*_`]/g, "") : fallback;
}

function stripMarkdown(text: string): string {
  return text
    .replace(/\[([^\]]+)\]\([^)]*\)/g, "$1")
    .replace(/[*_`]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * What a notebook is and teaches: its title (the first markdown heading) and one line, the
 * notebook's `metadata.lab.teaches` when it has one, else the first sentence of its first paragraph.
 */
export function notebookSummary(nb: NotebookJson, fallbackTitle: string): { title: string; teaches: string } {
  const first = nb.cells.find((c) => c.cell_type === "markdown");
  const text = first ? cellSource(first) : "";
  const heading = /^#\s+(.+)$/m.exec(text)?.[1];
  const title = heading ? stripMarkdown(heading) : fallbackTitle;
  const declared = (nb.metadata.lab as { teaches?: unknown } | undefined)?.teaches;
  if (typeof declared === "string" && declared.trim()) return { title, teaches: declared.trim() };
  const paragraph = text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .find((p) => p && !p.startsWith("#"));
  const sentence = paragraph ? (/^(.+?[.!?])(\s|$)/s.exec(stripMarkdown(paragraph))?.[1] ?? stripMarkdown(paragraph)) : "";
  return { title, teaches: sentence };
}

/**
 * One row per notebook in the folder, in run order: its file, title and what it teaches. The tour
 * shows it, so its list is the notebooks present, never a copy that falls behind.
 */
export function notebookIndex(dir = notebooksDir()): Array<{ notebook: string; title: string; teaches: string }> {
  return listNotebooks(dir).map((n) => ({ notebook: `${n.name}.ipynb`, ...notebookSummary(readNotebook(n.path), n.name) }));
}

/** The notebook index as a markdown table, each title linking its notebook (as the tour shows it). */
export function notebookIndexMarkdown(dir = notebooksDir()): string {
  const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\s+/g, " ");
  return ["| notebook | what it teaches |", "|---|---|", ...notebookIndex(dir).map((n) => `| [${cell(n.title)}](${n.notebook}) | ${cell(n.teaches)} |`)].join("\n");
}
