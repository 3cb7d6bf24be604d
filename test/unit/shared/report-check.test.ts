import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Browser } from "playwright-core";
import { figureMarkup, plotlyBundleScript } from "../../../lib/notebook/plot.js";
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
    for (const expected of [/network request/, /has no title$/, /no title on x/, /formulas but the report shows none/, /TeX shown as text/, /wider than the page/, /cut off/]) {
      expect(
        problems.some((p) => expected.test(p)),
        `${expected}: ${problems.join("; ")}`,
      ).to.equal(true);
    }
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
