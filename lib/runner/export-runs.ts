import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "../errors.js";
import { commitDir, fromRoot, readJson, sha256Hex } from "../files.js";
import { ALL_FIGURES_DRAWN, launchChromium, openOffline, PRINT_MARGIN, PRINT_VIEWPORT } from "./browser.js";
import { listNotebooks, type NotebookFile, notebookSummary, notebooksDir, readNotebook, resolveNotebooks } from "./notebooks.js";

export { notebookSummary };

import { externalResources, runsDir } from "./run-notebooks.js";

/**
 * `./lab export`: every notebook's latest run as teaching material. Each run's report.html (already
 * self-contained: plotly inline, formulas as MathML) is copied and printed to PDF by headless
 * Chromium; an index page links them with a line on what each notebook teaches. Nothing is
 * fetched: the browser blocks every request, and an export whose pages attempted one is refused.
 * The export folder is built beside its destination and renamed into place.
 */

export class ExportError extends LabError {}

/** A landed run folder, as its manifest describes it. */
export interface RunFolder {
  runId: string;
  notebook: string;
  dir: string;
  finishedAt: string;
  seconds: number;
  quick: boolean | null;
  commit: string;
}

/** Every run folder under `runs` (those with a manifest and a report), newest first. */
export function listRunFolders(runs = runsDir()): RunFolder[] {
  if (!existsSync(runs)) return [];
  const found: RunFolder[] = [];
  for (const entry of readdirSync(runs)) {
    const dir = join(runs, entry);
    const manifestPath = join(dir, "manifest.json");
    if (!existsSync(manifestPath) || !existsSync(join(dir, "report.html"))) continue;
    const m = readJson<{ runId?: string; notebook?: string; finishedAt?: string; seconds?: number; quick?: boolean | null; git?: { commit?: string } }>(manifestPath);
    if (!m.notebook || !m.finishedAt) continue;
    found.push({ runId: m.runId ?? entry, notebook: m.notebook, dir, finishedAt: m.finishedAt, seconds: m.seconds ?? Number.NaN, quick: m.quick ?? null, commit: m.git?.commit ?? "unknown" });
  }
  return found.sort((a, b) => (a.finishedAt < b.finishedAt ? 1 : a.finishedAt > b.finishedAt ? -1 : a.runId < b.runId ? 1 : -1));
}

export interface ExportedNotebook {
  notebook: string;
  title: string;
  teaches: string;
  run: RunFolder;
  html: string;
  pdf: string;
  pdfBytes: number;
}

export interface ExportResult {
  dir: string;
  exported: ExportedNotebook[];
  /** Notebooks with no run to export. */
  missing: string[];
}

export interface ExportOptions {
  /** Notebooks to export (names as ./lab run takes them); all with a run when empty. */
  names?: readonly string[];
  out?: string;
  runs?: string;
  notebooks?: string;
  log?: (line: string) => void;
  /** How long to wait for a report's figures to draw before printing, in ms. */
  drawTimeoutMs?: number;
}

/** The export folder: LAB_EXPORT_DIR, else experiments/runs/export/. */
export function exportDir(): string {
  return process.env.LAB_EXPORT_DIR ?? fromRoot("experiments", "runs", "export");
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** The index page: one entry per notebook, linking its HTML and PDF, with what it teaches and the run it shows. */
export function renderIndex(exported: readonly ExportedNotebook[], missing: readonly string[], generatedAt: string): string {
  const items = exported
    .map((e) => {
      const mode = e.run.quick === true ? "quick mode" : e.run.quick === false ? "full mode" : "mode not recorded";
      return `<li><h2><a href="${esc(e.html)}">${esc(e.title)}</a></h2><p>${esc(e.teaches)}</p><p class="meta"><a href="${esc(e.html)}">HTML</a> · <a href="${esc(e.pdf)}">PDF</a> · run <code>${esc(e.run.runId)}</code>, ${esc(mode)}, ${Number.isFinite(e.run.seconds) ? `${e.run.seconds.toFixed(0)} s` : "time not recorded"}, finished ${esc(e.run.finishedAt)}, commit <code>${esc(e.run.commit.slice(0, 12))}</code></p></li>`;
    })
    .join("\n");
  const notRun = missing.length
    ? `<p class="meta">Not run yet, so not here: ${missing.map((m) => `<code>${esc(m)}</code>`).join(", ")} (<code>./lab run NAME</code>, then <code>./lab export</code>).</p>`
    : "";
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OpenLedger Lab: the notebooks, for teaching</title>
<style>body{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;padding:0 1em;color:#1f2328}ol{padding-left:1.2em}li{margin-bottom:1.2em}h2{font-size:1.15em;margin:0 0 0.3em}p{margin:0.2em 0}.meta{color:#57606a;font-size:0.9em}</style>
</head><body>
<h1>OpenLedger Lab: the notebooks, for teaching</h1>
<p>Each notebook implements one part of OpenLedger's three layers (the Ledger, the Intelligence layer, the Attribution Network), runs it on real data, explains each step and settles its results on chain. Below, each notebook's latest run, as a page to read and as a PDF to print or hand out.</p>
<ol>
${items}
</ol>
${notRun}
<p class="meta">Exported ${esc(generatedAt)} by <code>./lab export</code>; every page opens offline.</p>
</body></html>
`;
}

/** The ids of live-notebook runs (settled from ./lab notebook, no report) of these notebooks, newest first. */
function liveRuns(runs: string, notebooks: readonly string[]): string[] {
  if (!existsSync(runs)) return [];
  return readdirSync(runs)
    .filter((entry) => {
      const path = join(runs, entry, "manifest.json");
      if (!existsSync(path)) return false;
      const m = readJson<{ notebook?: string; interactive?: boolean }>(path);
      return m.interactive === true && notebooks.includes(m.notebook ?? "");
    })
    .sort()
    .reverse();
}

/** The notebooks to export and the latest run of each; a named notebook without a run is refused. */
export function planExport(options: ExportOptions): { notebooks: NotebookFile[]; latest: Map<string, RunFolder>; missing: string[] } {
  const all = listNotebooks(options.notebooks ?? notebooksDir());
  const runs = listRunFolders(options.runs ?? runsDir());
  const latest = new Map<string, RunFolder>();
  for (const run of runs) if (!latest.has(run.notebook)) latest.set(run.notebook, run);
  const named = options.names?.length ? resolveNotebooks([...options.names], options.notebooks ?? notebooksDir()) : all;
  const missing = named.filter((n) => !latest.has(n.name)).map((n) => n.name);
  if (options.names?.length && missing.length) {
    const live = liveRuns(options.runs ?? runsDir(), missing);
    if (live.length) {
      throw new ExportError({
        code: "export/only-live-runs",
        message: `${missing.join(", ")} has only runs from a live notebook (${live.slice(0, 3).join(", ")}), which keep no report to export`,
        hint: `run it headless once: ./lab run ${missing.join(" ")} (--quick for the short run), then ./lab export`,
        fields: { notebooks: missing, liveRuns: live },
      });
    }
    throw new ExportError({
      code: "export/no-run",
      message: `${missing.join(", ")} has no run to export`,
      hint: `run it first: ./lab run ${missing.join(" ")} (--quick for the short run)`,
      fields: { notebooks: missing },
    });
  }
  const notebooks = named.filter((n) => latest.has(n.name));
  if (notebooks.length === 0) {
    throw new ExportError({
      code: "export/no-runs",
      message: `no notebook has a run to export in ${options.runs ?? runsDir()}`,
      hint: "run the notebooks first: ./lab run (or ./lab run --quick)",
      fields: { runs: options.runs ?? runsDir() },
    });
  }
  return { notebooks, latest, missing };
}

function refuseRequests(page: string, requests: readonly string[]): ExportError {
  return new ExportError({
    code: "export/network-request",
    message: `${page} attempted ${requests.length} network request(s), e.g. ${requests.slice(0, 3).join(", ")}: an exported page must open offline`,
    hint: "embed the resource in the report (as lib/notebook does with plotly.js) instead of linking it",
    fields: { page, requests: requests.slice(0, 20) },
  });
}

/** Exports every planned notebook's latest run as HTML and PDF with an index page, atomically. */
export async function exportNotebooks(options: ExportOptions = {}): Promise<ExportResult> {
  const log = options.log ?? (() => {});
  const { notebooks, latest, missing } = planExport(options);
  const dest = options.out ?? exportDir();
  const staged = `${dest}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(staged, { recursive: true });
  const browser = await launchChromium();
  const exported: ExportedNotebook[] = [];
  try {
    for (const nb of notebooks) {
      const run = latest.get(nb.name) as RunFolder;
      const { title, teaches } = notebookSummary(readNotebook(nb.path), nb.name);
      const html = readFileSync(join(run.dir, "report.html"), "utf8");
      const linked = externalResources(html);
      if (linked.length) throw refuseRequests(`${nb.name} (run ${run.runId})`, linked);
      const htmlName = `${nb.name}.html`;
      const pdfName = `${nb.name}.pdf`;
      writeFileSync(join(staged, htmlName), html);
      const t0 = performance.now();
      // Figures are drawn at the width they are printed at: A4 less the margins.
      const opened = await openOffline(browser, join(staged, htmlName), PRINT_VIEWPORT);
      try {
        await opened.page.waitForFunction(ALL_FIGURES_DRAWN, undefined, { timeout: options.drawTimeoutMs ?? 60_000 });
        const pdf = await opened.page.pdf({ format: "A4", printBackground: true, margin: PRINT_MARGIN });
        if (opened.requests.length) throw refuseRequests(`${nb.name} (run ${run.runId})`, opened.requests);
        writeFileSync(join(staged, pdfName), pdf);
        exported.push({ notebook: nb.name, title, teaches, run, html: htmlName, pdf: pdfName, pdfBytes: pdf.length });
        log(`  ✓ ${nb.name}: run ${run.runId} → ${htmlName}, ${pdfName} (${(pdf.length / 1024).toFixed(0)} KiB, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
      } finally {
        await opened.close();
      }
    }
    const generatedAt = new Date().toISOString();
    writeFileSync(join(staged, "index.html"), renderIndex(exported, missing, generatedAt));
    const opened = await openOffline(browser, join(staged, "index.html"));
    const indexRequests = [...opened.requests];
    await opened.close();
    if (indexRequests.length) throw refuseRequests("index.html", indexRequests);
    const files = Object.fromEntries(readdirSync(staged).map((f) => [f, sha256Hex(readFileSync(join(staged, f)))]));
    writeFileSync(
      join(staged, "manifest.json"),
      `${JSON.stringify({ generatedAt, runs: exported.map((e) => ({ notebook: e.notebook, runId: e.run.runId, finishedAt: e.run.finishedAt })), missing, sha256: files }, null, 2)}\n`,
    );
    commitDir(staged, dest);
    return { dir: dest, exported, missing };
  } finally {
    await browser.close();
    rmSync(staged, { recursive: true, force: true });
  }
}
