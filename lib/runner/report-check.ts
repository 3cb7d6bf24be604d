import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { ALL_FIGURES_DRAWN, CHROMIUM_PATHS, findChromium, launchChromium, openOffline } from "./browser.js";

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
  /** Elements wider than the page, as tag.class (width px). */
  tooWide: string[];
  /** Code or output blocks whose content is cut off rather than scrollable. */
  clipped: string[];
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
  if (f.tooWide.length) problems.push(`wider than the page: ${f.tooWide.slice(0, 5).join(", ")}`);
  if (f.clipped.length) problems.push(`cut off: ${f.clipped.length} block(s), e.g. ${f.clipped.slice(0, 3).join(" | ")}`);
  if (f.pageErrors.length) problems.push(`script errors: ${f.pageErrors.slice(0, 3).join(" | ")}`);
  return problems;
}

const VIEWPORT = { width: 1200, height: 900 };

// The page-side code is plain JavaScript text: a compiled function would carry the compiler's helpers.
/** Reads the drawn figures (title and axis titles from plotly's SVG), formulas, and what sticks out or is cut off. */
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
      const pageWidth = document.documentElement.clientWidth;
      const tooWide = [];
      const clipped = [];
      const name = (e) => \`\${e.tagName.toLowerCase()}\${e.className && typeof e.className === "string" ? \`.\${e.className.trim().split(/\\s+/).slice(0, 2).join(".")}\` : ""}\`;
      for (const e of document.body.querySelectorAll("*")) {
        const r = e.getBoundingClientRect();
        if (r.width === 0) continue;
        // Inside a scrolling box an element may be wide: a reader scrolls it.
        let scroller = e.parentElement;
        while (scroller && !["auto", "scroll"].includes(getComputedStyle(scroller).overflowX)) scroller = scroller.parentElement;
        if (!scroller && r.right > pageWidth + 1) tooWide.push(\`\${name(e)} (\${Math.round(r.width)} px)\`);
      }
      for (const pre of document.querySelectorAll("pre")) {
        const content = pre.scrollWidth;
        for (let e = pre; e && e !== document.body; e = e.parentElement) {
          const overflow = getComputedStyle(e).overflowX;
          if (overflow === "auto" || overflow === "scroll") break;
          if ((overflow === "hidden" || overflow === "clip") && e.clientWidth + 1 < content) {
            clipped.push(\`\${(pre.textContent ?? "").trim().split("\\n")[0].slice(0, 60)} (\${content} px in \${e.clientWidth} px)\`);
            break;
          }
        }
      }
      const rawTex = [];
      for (const md of document.querySelectorAll(".jp-RenderedMarkdown")) {
        const text = md.innerText;
        for (const m of text.matchAll(/\\$\\$?[^$\\n]*\\\\[A-Za-z]+[^$\\n]*\\$/g)) rawTex.push(m[0].slice(0, 60));
      }
      return { plots, undrawn, tooWide, clipped, rawTex, formulas: document.querySelectorAll("math").length, title: document.title };
    })()`;

/**
 * Opens a report in the browser with every network request blocked and reads what a reader sees:
 * the figures as plotly drew them (title and axis titles from the drawn SVG), the formulas, and
 * anything that sticks out of the page or is cut off.
 */
export async function inspectReport(browser: Browser, htmlPath: string, drawTimeoutMs = 30_000): Promise<ReportFindings> {
  const opened = await openOffline(browser, htmlPath, VIEWPORT);
  try {
    await opened.page.waitForFunction(ALL_FIGURES_DRAWN, undefined, { timeout: drawTimeoutMs }).catch(() => undefined);
    const found = (await opened.page.evaluate(PAGE_READING)) as Omit<ReportFindings, "requests" | "pageErrors">;
    return { ...found, requests: opened.requests, pageErrors: opened.pageErrors };
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
        log(`  ✓ ${report.notebook}: ${findings.plots.length} figure(s) titled, ${findings.formulas} formula(s), no request, nothing wider than the page or cut off`);
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
