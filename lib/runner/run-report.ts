import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { writeFileAtomic } from "../files.js";
import { typesetMath } from "./math.js";

/**
 * Report styles over the export template's. Code is wrapped, never cut (the template's editor
 * boxes hide what overflows them). Long words (hashes, addresses, paths) break where they must: in
 * text at the edge of the page, in a table's cells marked `lab-long` (lib/notebook/table.ts) anywhere,
 * so the table fits; short words and numbers never break. Outputs take the width beside their prompt whatever their content
 * (the template lays them out as a table, which grows with the widest unbreakable line). On screen a
 * table too wide for the page scrolls inside its own box; in print nothing scrolls, so tables and
 * outputs wrap to the page: a table of many columns is set smaller and its cells may break anywhere
 * (a cut-off column would lose its numbers, a broken word keeps them).
 */
export const REPORT_CSS = `<style id="lab-report">
.jp-Notebook { overflow-wrap: break-word; }
.jp-InputArea-editor, .jp-InputArea-editor .CodeMirror { overflow: visible !important; height: auto !important; }
.jp-InputArea-editor pre, .jp-InputArea-editor .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; word-break: normal; }
.jp-OutputArea-child { display: flex; }
.jp-OutputArea-child .jp-OutputArea-output { display: block; flex: 1 1 auto; min-width: 0; max-width: 100%; width: auto; }
.jp-OutputArea-output pre { overflow-x: auto; }
.jp-RenderedHTMLCommon table { display: block; overflow-x: auto; max-width: 100%; width: fit-content; table-layout: auto; }
.jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th, .jp-RenderedHTMLCommon caption { white-space: normal; }
.jp-RenderedHTMLCommon td.lab-long, .jp-RenderedHTMLCommon td code { overflow-wrap: anywhere; }
.jp-RenderedHTMLCommon caption { text-align: left; }
.jp-RenderedMarkdown svg, .jp-RenderedMarkdown img { max-width: 100%; height: auto; }
@media print {
  .jp-OutputArea-output, .jp-OutputArea-output pre, .jp-RenderedHTMLCommon table { overflow: visible; }
  .jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
  .jp-RenderedHTMLCommon table { display: table; width: auto; max-width: 100%; font-size: 8pt; }
  .jp-RenderedHTMLCommon td, .jp-RenderedHTMLCommon th { overflow-wrap: anywhere; padding: 2px 4px; }
}
</style>`;

/**
 * Replaces every occurrence of the staging folder's path by the run folder it lands as, and any
 * cut-off copy of it (a message shortened to fit a table cell ends mid-path): a staging path is
 * never shown, since the folder is gone once the run lands.
 */
export function landedPaths(text: string, staging: string, runDir: string): string {
  const whole = text.split(staging).join(runDir);
  const root = `${dirname(staging)}/`;
  if (!whole.includes(root)) return whole;
  const name = basename(staging);
  const escaped = root.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return whole.replace(new RegExp(`${escaped}([\\w.-]*)`, "g"), (match, rest: string) => (rest.length > 0 && name.startsWith(rest) ? runDir : match));
}

/**
 * Finishes an exported report: formulas typeset, the lab's styles, and paths into the staging
 * folder (which vanishes when the run lands) pointed at the run folder.
 */
export function finishReport(html: string, staging: string, runDir: string): string {
  const styled = html.includes("</head>") ? html.replace("</head>", `${REPORT_CSS}\n</head>`) : REPORT_CSS + html;
  return landedPaths(typesetMath(styled), staging, runDir);
}

/** The plotly.js bundle as lib/notebook embeds it in a figure's output (plotlyBundleScript). */
const PLOTLY_BUNDLE = /<script[^>]*\bdata-lab-plotly-bundle\b[^>]*>[\s\S]*?<\/script>/g;

/** What stands in a run folder's notebook.ipynb where the figure output carried the plotly.js bundle. */
export const BUNDLE_STUB = "<!-- plotly.js: kept once in this run folder, inside report.html, where the figures are drawn -->";

/**
 * The executed notebook's JSON text without the plotly.js bundle (about 4.6 MB): the run folder
 * keeps it once, in report.html. The figures' data and drawing calls stay in the notebook.
 */
export function withoutPlotlyBundle(notebookText: string): string {
  if (!notebookText.includes("data-lab-plotly-bundle")) return notebookText;
  const nb = JSON.parse(notebookText) as { cells: Array<{ outputs?: Array<{ data?: Record<string, string | string[]> }> }> };
  for (const cell of nb.cells) {
    for (const output of cell.outputs ?? []) {
      const markup = output.data?.["text/html"];
      if (markup === undefined) continue;
      const text = Array.isArray(markup) ? markup.join("") : markup;
      if (text.includes("data-lab-plotly-bundle")) output.data!["text/html"] = text.replace(PLOTLY_BUNDLE, BUNDLE_STUB);
    }
  }
  return `${JSON.stringify(nb, null, 1)}\n`;
}

/** Rewrites a text file of the staged run (the executed notebook, the report) with landed paths. */
export function landFile(path: string, staging: string, runDir: string, transform = (text: string) => landedPaths(text, staging, runDir)): void {
  writeFileAtomic(path, transform(readFileSync(path, "utf8")));
}
