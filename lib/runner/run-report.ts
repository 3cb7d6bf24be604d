import { readFileSync, writeFileSync } from "node:fs";
import { typesetMath } from "./math.js";

/**
 * Report styles over the export template's: code is wrapped, never cut (the template's editor boxes
 * hide what overflows them), and wide outputs (hex dumps, tables) scroll inside their own box.
 */
export const REPORT_CSS = `<style id="lab-report">
.jp-InputArea-editor, .jp-InputArea-editor .CodeMirror { overflow: visible !important; height: auto !important; }
.jp-InputArea-editor pre, .jp-InputArea-editor .highlight pre { white-space: pre-wrap !important; overflow-wrap: anywhere; word-break: normal; }
.jp-OutputArea-output { overflow-x: auto; max-width: 100%; }
.jp-OutputArea-output pre { overflow-x: auto; }
.jp-RenderedHTMLCommon table.lab-table { display: block; overflow-x: auto; max-width: 100%; }
.jp-RenderedMarkdown svg { max-width: 100%; height: auto; }
@media print { .jp-OutputArea-output pre { white-space: pre-wrap; } }
</style>`;

/** Replaces every occurrence of the staging folder's path by the run folder it lands as. */
export function landedPaths(text: string, staging: string, runDir: string): string {
  return text.split(staging).join(runDir);
}

/**
 * Finishes an exported report: formulas typeset, the lab's styles, and paths into the staging
 * folder (which vanishes when the run lands) pointed at the run folder.
 */
export function finishReport(html: string, staging: string, runDir: string): string {
  const styled = html.includes("</head>") ? html.replace("</head>", `${REPORT_CSS}\n</head>`) : REPORT_CSS + html;
  return landedPaths(typesetMath(styled), staging, runDir);
}

/** Rewrites a text file of the staged run (the executed notebook, the report) with landed paths. */
export function landFile(path: string, staging: string, runDir: string, transform = (text: string) => landedPaths(text, staging, runDir)): void {
  writeFileSync(path, transform(readFileSync(path, "utf8")));
}
