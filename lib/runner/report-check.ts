import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { ALL_FIGURES_DRAWN, CHROMIUM_PATHS, findChromium, launchChromium, openOffline, PRINT_VIEWPORT } from "./browser.js";

export { CHROMIUM_PATHS, findChromium, launchChromium };

export interface PlotFinding {
  id: string;
  title: string;
  axes: Array<{ axis: string; title: string }>;
}

export interface ReportFindings {
  /** Requests the page attempted beyond its own file (all were blocked). */
  requests: string[];
  plots: PlotFinding[];
  /** Figures that did not draw within the wait. */
  undrawn: string[];
  /** MathML formulas on the page. */
  formulas: number;
  /** TeX left as text in rendered markdown (a formula that was not typeset). */
  rawTex: string[];
  /** On screen at 1,280 px: boxes that stick out of the page or out of a box that is not their own scroll box. */
  tooWide: string[];
  /** On screen: content cut off by a box that hides what overflows it. */
  clipped: string[];
  /** In print (A4, as ./lab export prints it): anything wider than the printed page, cut off or spilling out of its box. */
  printOverflow: string[];
  /** Paths into the staging folder, which is gone once a run lands. */
  stagingPaths: string[];
  title: string;
  /** Errors the page's scripts threw. */
  pageErrors: string[];
}

/** What is wrong with a report, one line per problem; empty when it passes. */
export function reportProblems(f: ReportFindings, expectFormulas: boolean): string[] {
  const problems: string[] = [];
  if (f.requests.length) problems.push(`attempted ${f.requests.length} network request(s): ${f.requests.slice(0, 3).join(", ")}`);
  if (f.undrawn.length) problems.push(`${f.undrawn.length} figure(s) not drawn: ${f.undrawn.join(", ")}`);
  for (const p of f.plots) {
    if (!p.title) problems.push(`figure ${p.id} has no title`);
    for (const a of p.axes) if (!a.title) problems.push(`figure "${p.title || p.id}" has no title on ${a.axis}`);
  }
  if (expectFormulas && f.formulas === 0) problems.push("the notebook has formulas but the report shows none");
  if (f.rawTex.length) problems.push(`TeX shown as text: ${f.rawTex.slice(0, 3).join(" | ")}`);
  if (f.tooWide.length) problems.push(`wider than the page or its box on screen (${SCREEN.width} px): ${f.tooWide.length}, e.g. ${f.tooWide.slice(0, 4).join(", ")}`);
  if (f.clipped.length) problems.push(`cut off on screen: ${f.clipped.length}, e.g. ${f.clipped.slice(0, 3).join(" | ")}`);
  if (f.printOverflow.length) problems.push(`overflows the printed A4 page: ${f.printOverflow.length}, e.g. ${f.printOverflow.slice(0, 4).join(", ")}`);
  if (f.stagingPaths.length) problems.push(`shows a staging path: ${f.stagingPaths.slice(0, 3).join(" | ")}`);
  if (f.pageErrors.length) problems.push(`script errors: ${f.pageErrors.slice(0, 3).join(" | ")}`);
  return problems;
}

/** The screen a reader opens a report on. */
export const SCREEN = { width: 1280, height: 900 };

// The page-side code is plain JavaScript text: a compiled function would carry the compiler's helpers.
/** Reads the drawn figures (title and axis titles from plotly's SVG), formulas, raw TeX and staging paths. */
const PAGE_READING = `(() => {
      const plots = [];
      const undrawn = [];
      for (const div of document.querySelectorAll('[id^="lab-plot-"]')) {
        if (!div.querySelector(".main-svg")) { undrawn.push(div.id); continue; }
        const full = div._fullLayout;
        const axes = Object.keys(full).filter((k) => /^[xy]axis\\d*$/.test(k)).map((k) => full[k]).filter((a) => a.visible !== false);
        plots.push({
          id: div.id,
          title: div.querySelector(".gtitle")?.textContent?.trim() ?? "",
          axes: axes.map((a) => ({ axis: a._id, title: div.querySelector(\`.\${a._id}title\`)?.textContent?.trim() ?? "" })),
        });
      }
      const rawTex = [];
      for (const md of document.querySelectorAll(".jp-RenderedMarkdown")) {
        const text = md.innerText;
        for (const m of text.matchAll(/\\$\\$?[^$\\n]*\\\\[A-Za-z]+[^$\\n]*\\$/g)) rawTex.push(m[0].slice(0, 60));
      }
      const stagingPaths = [...document.body.innerText.matchAll(/\\S*\\.staging\\/\\S*/g)].map((m) => m[0].slice(0, 120));
      return { plots, undrawn, rawTex, stagingPaths, formulas: document.querySelectorAll("math").length, title: document.title };
    })()`;

/**
 * Measures every element's box against the page and the boxes around it. In print (the printed
 * page, where nothing scrolls) every box must lie within the page and within each box that
 * contains it, and no box's content may spill out of it. On screen a table or a preformatted block
 * may be wider than its place when it scrolls inside its own box (that box must fit); anything else
 * that sticks out of the page, or out of a box that scrolls or hides it, is reported.
 */
const BOX_READING = (print: boolean) => `(() => {
      const print = ${print};
      const pageWidth = document.documentElement.clientWidth;
      const tooWide = [];
      const clipped = [];
      const name = (e) => {
        const cls = typeof e.className === "string" && e.className.trim() ? "." + e.className.trim().split(/\\s+/).slice(0, 2).join(".") : "";
        const text = (e.innerText ?? e.textContent ?? "").trim().split("\\n")[0].slice(0, 40);
        return e.tagName.toLowerCase() + cls + (text ? ' "' + text + '"' : "");
      };
      const ownScrollBox = (e) => e.tagName === "TABLE" || e.tagName === "PRE";
      const overflowX = (e) => getComputedStyle(e).overflowX;
      for (const e of document.body.querySelectorAll("*")) {
        if (e.closest("svg, math, script, style, head")) continue;
        const style = getComputedStyle(e);
        if (style.display === "none" || style.visibility === "hidden" || style.position === "fixed") continue;
        const r = e.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        // The nearest box around e that scrolls or hides what overflows it.
        let box = e.parentElement;
        while (box && box !== document.body && overflowX(box) === "visible") box = box.parentElement;
        if (box === document.body) box = null;
        const boxOverflow = box ? overflowX(box) : "visible";
        const scrolls = boxOverflow === "auto" || boxOverflow === "scroll";
        if (box && !(scrolls && ownScrollBox(box) && !print)) {
          const b = box.getBoundingClientRect();
          if (r.right > b.right + 1 || r.left < b.left - 1) (scrolls && !print ? tooWide : clipped).push(name(e) + " (" + Math.round(r.width) + " px in a " + Math.round(b.width) + " px box)");
        } else if (!box && (r.right > pageWidth + 1 || r.left < -1)) {
          tooWide.push(name(e) + " (" + Math.round(r.width) + " px, right edge at " + Math.round(r.right) + " of " + pageWidth + ")");
        }
        // Text that spills out of its own box (a long hash in a cell, a caption, a line of output).
        if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && style.display !== "inline") {
          const own = overflowX(e);
          const ownScrolls = own === "auto" || own === "scroll";
          if (ownScrolls && ownScrollBox(e) && !print) continue;
          if (e.tagName === "HTML" || e.tagName === "BODY") continue;
          (own === "visible" ? tooWide : ownScrolls ? tooWide : clipped).push(name(e) + " (content " + e.scrollWidth + " px in " + e.clientWidth + " px)");
        }
      }
      return { tooWide, clipped };
    })()`;

/** Page-side: redraws every figure at its box's current width (after the page is laid out for print). */
const REDRAW_FIGURES = `Promise.all([...document.querySelectorAll('[id^="lab-plot-"]')].filter((d) => d.querySelector(".main-svg") && window.Plotly).map((d) => window.Plotly.Plots.resize(d)))`;

/**
 * Opens a report in the browser with every network request blocked and reads what a reader sees:
 * the figures as plotly drew them (title and axis titles from the drawn SVG), the formulas, every
 * element's box on a 1,280 px screen and then on the printed A4 page (print styles, the printable
 * width, figures redrawn to it, as ./lab export prints them), and any path into the staging folder.
 */
export async function inspectReport(browser: Browser, htmlPath: string, drawTimeoutMs = 60_000): Promise<ReportFindings> {
  const opened = await openOffline(browser, htmlPath, SCREEN);
  try {
    const { page } = opened;
    await page.waitForFunction(ALL_FIGURES_DRAWN, undefined, { timeout: drawTimeoutMs }).catch(() => undefined);
    const reading = (await page.evaluate(PAGE_READING)) as Omit<ReportFindings, "requests" | "pageErrors" | "tooWide" | "clipped" | "printOverflow">;
    const screen = (await page.evaluate(BOX_READING(false))) as { tooWide: string[]; clipped: string[] };
    await page.emulateMedia({ media: "print" });
    await page.setViewportSize(PRINT_VIEWPORT);
    await page.evaluate(REDRAW_FIGURES);
    const printed = (await page.evaluate(BOX_READING(true))) as { tooWide: string[]; clipped: string[] };
    return { ...reading, tooWide: screen.tooWide, clipped: screen.clipped, printOverflow: [...printed.tooWide, ...printed.clipped], requests: opened.requests, pageErrors: opened.pageErrors };
  } finally {
    await opened.close();
  }
}

/** True when the notebook's markdown holds TeX ($…$ or $$…$$), so its report must show formulas. */
export function hasFormulas(notebookPath: string): boolean {
  const nb = JSON.parse(readFileSync(notebookPath, "utf8")) as { cells: Array<{ cell_type: string; source: string | string[] }> };
  const tex = /\$\$[\s\S]+?\$\$|\$[^$\n]*[\\^_{][^$\n]*\$/;
  return nb.cells.some((c) => c.cell_type === "markdown" && tex.test(Array.isArray(c.source) ? c.source.join("") : c.source));
}

/**
 * The `./lab test` step: opens each report in headless Chromium with the network blocked and
 * counts a report as passed when nothing is wrong with it. Without Chromium the step says why it
 * is skipped and counts nothing.
 */
export async function checkReports(reports: Array<{ notebook: string; path: string; source: string }>, log = console.log): Promise<{ passed: number; failed: number }> {
  const executable = findChromium();
  if (!executable) {
    log(`  skipped: Chromium is not installed (looked in ${CHROMIUM_PATHS.join(", ")}); as root, ./lab test installs Debian's chromium, else run: apt-get install -y chromium`);
    return { passed: 0, failed: 0 };
  }
  const browser = await launchChromium(executable);
  let passed = 0;
  let failed = 0;
  try {
    for (const report of reports) {
      const findings = await inspectReport(browser, report.path);
      const problems = reportProblems(findings, hasFormulas(report.source));
      if (problems.length === 0) {
        passed++;
        log(
          `  ✓ ${report.notebook}: ${findings.plots.length} figure(s) titled, ${findings.formulas} formula(s), no request, nothing wider than the page or its box on screen or in print, no staging path`,
        );
      } else {
        failed++;
        log(`  ✗ ${report.notebook} (${report.path}):\n${problems.map((p) => `      ${p}`).join("\n")}`);
      }
    }
  } finally {
    await browser.close();
  }
  return { passed, failed };
}
