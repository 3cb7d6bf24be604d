import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Browser } from "playwright-core";
import { figureMarkup, plotlyBundleScript } from "../../../lib/notebook/plot.js";
import { tableHtml } from "../../../lib/notebook/table.js";
import { typesetMath } from "../../../lib/runner/math.js";
import { findChromium, inspectReport, launchChromium, reportProblems } from "../../../lib/runner/report-check.js";
import { REPORT_CSS } from "../../../lib/runner/run-report.js";

function page(body: string, head = ""): string {
  const path = join(mkdtempSync(join(tmpdir(), "lab-report-")), "report.html");
  writeFileSync(path, `<!DOCTYPE html><html><head><title>T</title>${head}</head><body>${body}</body></html>`);
  return path;
}

const longCode = `<div class="jp-InputArea-editor" style="overflow:hidden;width:600px"><div class="CodeMirror" style="overflow:hidden"><div class="highlight"><pre>${"const x = 1; ".repeat(80)}</pre></div></div></div>`;

// Headless Chromium on pages built to fail each check, and on one built to pass them all.
describe("report check in headless Chromium", function () {
  this.timeout(60_000);
  let browser: Browser;
  before(async function () {
    if (!findChromium()) {
      console.log("      skipped: Chromium is not installed (as root, ./lab test installs Debian's chromium; else apt-get install -y chromium)");
      this.skip();
    }
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it("finds a network request, an untitled figure, raw TeX, a page-wide element and cut-off code", async () => {
    const untitled = `<div id="lab-plot-bare"></div><script>Plotly.newPlot("lab-plot-bare",[{x:[1,2],y:[1,2]}],{title:"a string title plotly 3 ignores"});</script>`;
    const path = page(
      `${untitled}<img src="https://example.com/pixel.png"><div class="jp-RenderedMarkdown"><p>Influence is $\\mathcal{I}(z)$.</p></div>` + `<div style="width:3000px">wide</div>${longCode}`,
      plotlyBundleScript(),
    );
    const findings = await inspectReport(browser, path);
    expect(findings.requests).to.deep.equal(["https://example.com/pixel.png"]);
    expect(findings.plots).to.have.length(1);
    expect(findings.plots[0].title).to.equal("");
    expect(findings.plots[0].axes.map((a) => [a.axis, a.title])).to.deep.equal([
      ["x", ""],
      ["y", ""],
    ]);
    expect(findings.rawTex).to.have.length(1);
    expect(findings.tooWide.some((w) => w.startsWith("div"))).to.equal(true);
    expect(findings.clipped).to.have.length(1);
    const problems = reportProblems(findings, true);
    for (const expected of [
      /network request/,
      /has no title$/,
      /no title on x/,
      /formulas but the report shows none/,
      /TeX shown as text/,
      /wider than the page/,
      /cut off on screen/,
      /overflows the printed A4 page/,
    ]) {
      expect(
        problems.some((p) => expected.test(p)),
        `${expected}: ${problems.join("; ")}`,
      ).to.equal(true);
    }
  });

  // The settlement table as settle() draws it: long hashes in cells, a caption naming the run.
  const settlementRow = {
    chain: "in-process hardhat (id 31337)",
    registry: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    transaction: `0x${"9f".repeat(32)}`,
    block: 12,
    "results.json sha256": "ab".repeat(32),
  };
  const settlementTable = (style = "") =>
    `<div class="jp-OutputArea-output jp-RenderedHTMLCommon" style="overflow-x:auto">${tableHtml([settlementRow], { caption: "Run 20261201T091122Z-00-tour-9d8b settled: ./lab verify 20261201T091122Z-00-tour-9d8b" }).replace("<table", `<table style="${style}"`)}</div>`;

  it("fails a table too wide for the page on screen and in print, and one cut off by its box", async () => {
    // Cells that never wrap: the table is wider than the page and its output box scrolls it as a whole.
    const unwrapped = page(
      settlementTable("white-space:nowrap;display:table")
        .replace(/<td /g, "<td nowrap ")
        .replace(/<caption>/, '<caption style="white-space:nowrap">'),
    );
    const wide = await inspectReport(browser, unwrapped);
    expect(
      wide.tooWide.some((w) => w.startsWith("table")),
      wide.tooWide.join("; "),
    ).to.equal(true);
    expect(
      wide.printOverflow.some((w) => w.startsWith("table") || w.startsWith("td")),
      wide.printOverflow.join("; "),
    ).to.equal(true);
    expect(reportProblems(wide, false).some((p) => /overflows the printed A4 page/.test(p))).to.equal(true);
    // A caption cut by a box that hides what overflows it.
    const hidden = page(`<div style="width:300px;overflow:hidden"><p style="white-space:nowrap">Run 20261201T091122Z-00-tour-9d8b settled on chain 31337 in block 12</p></div>`);
    const cut = await inspectReport(browser, hidden);
    expect(
      cut.clipped.some((c) => c.includes('"Run 20261201T091122Z-00-tour')),
      cut.clipped.join("; "),
    ).to.equal(true);
  });

  it("passes the same table with the report's styles: hashes break, the caption wraps, on screen and in print", async () => {
    const path = page(settlementTable(), REPORT_CSS);
    const findings = await inspectReport(browser, path);
    expect(reportProblems(findings, false)).to.deep.equal([]);
  });

  it("reports a path into the staging folder, whole or cut off", async () => {
    const path = page(`<p>adapter folder /work/lab/experiments/.staging/4242-20261201T091122Z-04-openlo</p>`, REPORT_CSS);
    const findings = await inspectReport(browser, path);
    expect(findings.stagingPaths).to.deep.equal(["/work/lab/experiments/.staging/4242-20261201T091122Z-04-openlo"]);
    expect(reportProblems(findings, false).some((p) => /staging path/.test(p))).to.equal(true);
  });

  it("passes a page whose figures are titled, formulas typeset, and code wrapped", async () => {
    const figure = figureMarkup([{ type: "bar", x: ["a", "b"], y: [1, 2] }], { title: { text: "Two bars" }, xaxis: { title: { text: "letter" } }, yaxis: { title: { text: "count" } } });
    const html = typesetMath(`<div class="jp-RenderedMarkdown"><p>Influence is $\\mathcal{I}(z) = -g^\\top H^{-1} g$.</p></div>`);
    const path = page(`${figure}${html}${longCode.replace(' style="overflow:hidden;width:600px"', "").replace(' style="overflow:hidden"', "")}`, plotlyBundleScript() + REPORT_CSS);
    const findings = await inspectReport(browser, path);
    expect(reportProblems(findings, true)).to.deep.equal([]);
    expect(findings.plots[0]).to.deep.equal({
      id: findings.plots[0].id,
      title: "Two bars",
      axes: [
        { axis: "x", title: "letter" },
        { axis: "y", title: "count" },
      ],
    });
    expect(findings.formulas).to.equal(1);
  });
});
