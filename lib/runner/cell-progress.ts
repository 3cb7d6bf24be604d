import { stripVTControlCharacters } from "node:util";
import { cellSource, type NotebookJson } from "./notebooks.js";

/**
 * A code cell as the lab numbers it everywhere (errors, manifest, progress, the report's `[n]`
 * prompts): the n-th code cell with any source, counting the injected parameters cell, which is
 * also how nbclient numbers the executions.
 */
export interface CodeCell {
  /** Position in the executed notebook's cell list. */
  index: number;
  /** 1-based number among the notebook's code cells. */
  number: number;
  /** The heading of the nearest markdown cell above, or its first line. */
  heading: string;
  tags: string[];
}

function headingOf(markdown: string): string {
  const lines = markdown
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const heading = lines.find((l) => /^#{1,6}\s/.test(l)) ?? lines[0] ?? "";
  return heading
    .replace(/^#{1,6}\s+/, "")
    .replace(/[*_`]/g, "")
    .slice(0, 80);
}

export function codeCells(nb: NotebookJson): CodeCell[] {
  const cells: CodeCell[] = [];
  let heading = "";
  nb.cells.forEach((cell, index) => {
    const source = cellSource(cell);
    if (cell.cell_type === "markdown") heading = headingOf(source) || heading;
    else if (cell.cell_type === "code" && source.trim()) {
      cells.push({ index, number: cells.length + 1, heading, tags: cell.metadata.tags ?? [] });
    }
  });
  return cells;
}

/** "cell 7 of 12 (Tables: danfojs and arquero)": how a cell is named to a person. */
export function describeCell(cell: CodeCell | undefined, total: number): string {
  if (!cell) return "before the first cell";
  return `cell ${cell.number} of ${total}${cell.heading ? ` (${cell.heading})` : ""}`;
}

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  /** Where progress goes (default: stderr). */
  stream?: ProgressSink;
  /** Milliseconds between lines when the stream is not a terminal (default 5000). */
  intervalMs?: number;
}

const TTY_REFRESH_MS = 250;

/**
 * What `./lab run` shows while a notebook runs: which cell (n of N, the heading above it), the time
 * so far, and the notebook's own latest progress line. On a terminal one line rewritten in place;
 * otherwise (CI logs, pipes) a line every few seconds.
 */
export class RunProgress {
  readonly cells: CodeCell[];
  #current: CodeCell | undefined;
  #lastOutput = "";
  #started = Date.now();
  #cellStarted = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #stream: ProgressSink;
  #drawn = false;

  constructor(
    readonly notebook: string,
    nb: NotebookJson,
    options: ProgressOptions = {},
  ) {
    this.cells = codeCells(nb);
    this.#stream = options.stream ?? process.stderr;
    const every = this.#stream.isTTY ? TTY_REFRESH_MS : (options.intervalMs ?? 5000);
    this.#timer = setInterval(() => this.#draw(), every);
    this.#timer.unref();
  }

  /** The cell running now, if any. */
  get current(): CodeCell | undefined {
    return this.#current;
  }

  get seconds(): number {
    return (Date.now() - this.#started) / 1000;
  }

  cellAt(index: number): CodeCell | undefined {
    return this.cells.find((c) => c.index === index);
  }

  started(index: number): void {
    const cell = this.cellAt(index);
    if (!cell) return;
    this.#current = cell;
    this.#cellStarted = Date.now();
    this.#lastOutput = "";
    if (this.#stream.isTTY) this.#draw();
  }

  /** A stream or plain-text display of cell `index`; its last line is shown. */
  output(index: number, text: string): void {
    if (!this.cellAt(index)) return;
    const last = text
      .split(/[\r\n]/)
      .map((l) => l.trim())
      .filter(Boolean)
      .pop();
    if (last) this.#lastOutput = stripVTControlCharacters(last);
  }

  line(): string {
    const cell = this.#current;
    const where = cell ? `cell ${cell.number} of ${this.cells.length}${cell.heading ? ` · ${cell.heading}` : ""}` : "starting the kernel";
    const cellTime = cell ? ` (this cell ${((Date.now() - this.#cellStarted) / 1000).toFixed(0)} s)` : "";
    return `  ${this.notebook} · ${where} · ${this.seconds.toFixed(0)} s${cellTime}${this.#lastOutput ? ` · ${this.#lastOutput}` : ""}`;
  }

  #draw(): void {
    if (this.#stream.isTTY) {
      const width = Math.max(20, (this.#stream.columns ?? 100) - 1);
      const text = this.line();
      this.#stream.write(`\r\x1b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      this.#drawn = true;
    } else {
      this.#stream.write(`${this.line()}\n`);
    }
  }

  /** Stops drawing and clears the terminal line, so the runner's own lines follow cleanly. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#stream.isTTY && this.#drawn) this.#stream.write("\r\x1b[2K");
  }
}
