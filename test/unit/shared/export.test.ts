import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { fromRoot } from "../../../lib/files.js";
import { findChromium } from "../../../lib/runner/browser.js";
import { ExportError, exportNotebooks, listRunFolders, notebookSummary, planExport } from "../../../lib/runner/export-runs.js";
import { listNotebooks, type NotebookJson, readNotebook } from "../../../lib/runner/notebooks.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

function notebook(title: string, intro: string, metadata: Record<string, unknown> = {}): NotebookJson {
  return {
    cells: [
      { cell_type: "markdown", source: `# ${title}\n\n${intro}\n\nMore text.`, metadata: {} },
      { cell_type: "code", source: "let quick = false;", metadata: { tags: ["parameters"] }, outputs: [], execution_count: null },
    ],
    metadata,
    nbformat: 4,
    nbformat_minor: 5,
  };
}

/** A landed run folder as ./lab run leaves it (manifest and report), with a drawn figure in the report. */
function writeRun(runs: string, runId: string, name: string, finishedAt: string, body: string): void {
  const dir = join(runs, runId);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "manifest.json"), JSON.stringify({ runId, notebook: name, finishedAt, seconds: 12.5, quick: true, git: { commit: "0123456789abcdef" } }));
  writeFileSync(
    join(dir, "report.html"),
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${name}</title></head><body><h1>${name}</h1>${body}<div id="lab-plot-1"><svg class="main-svg" width="100" height="50"><rect width="100" height="50" fill="teal"/></svg></div></body></html>`,
  );
}

describe("./lab export (lib/runner/export-runs.ts)", function () {
  this.timeout(180_000);
  let work: string;
  let notebooks: string;
  let runs: string;

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "lab-export-test-"));
    notebooks = join(work, "notebooks");
    runs = join(work, "runs");
    mkdirSync(notebooks);
    writeFileSync(join(notebooks, "00-demo.ipynb"), JSON.stringify(notebook("00 · A **demo**", "This notebook shows `a thing`. Then more.")));
    writeFileSync(join(notebooks, "01-other.ipynb"), JSON.stringify(notebook("01 · Other", "Ignored.", { lab: { teaches: "How the other thing works." } })));
    writeRun(runs, "20261201T080000Z-00-demo-aaaa", "00-demo", "2026-12-01T08:00:00.000Z", "<p>old run</p>");
    writeRun(runs, "20261201T090000Z-00-demo-bbbb", "00-demo", "2026-12-01T09:00:00.000Z", "<p>latest run</p>");
    mkdirSync(join(runs, "reproduce", "x"), { recursive: true });
  });

  it("takes each notebook's title and teaching line, from metadata.lab.teaches or the first sentence", () => {
    expect(notebookSummary(notebook("00 · A **demo**", "This notebook shows `a thing`. Then more."), "00-demo")).to.deep.equal({ title: "00 · A demo", teaches: "This notebook shows a thing." });
    expect(notebookSummary(notebook("01 · Other", "Ignored.", { lab: { teaches: "How the other thing works." } }), "01-other").teaches).to.equal("How the other thing works.");
  });

  it("picks the latest run of each notebook, skips folders that are not runs, and refuses a named notebook without a run", () => {
    expect(listRunFolders(runs).map((r) => r.runId)).to.deep.equal(["20261201T090000Z-00-demo-bbbb", "20261201T080000Z-00-demo-aaaa"]);
    const plan = planExport({ notebooks, runs });
    expect(plan.notebooks.map((n) => n.name)).to.deep.equal(["00-demo"]);
    expect(plan.latest.get("00-demo")?.runId).to.equal("20261201T090000Z-00-demo-bbbb");
    expect(plan.missing).to.deep.equal(["01-other"]);
    expect(expectCode(() => planExport({ notebooks, runs, names: ["01"] }), ExportError, "export/no-run").fields).to.deep.equal({ notebooks: ["01-other"] });
    expectCode(() => planExport({ notebooks, runs: join(work, "none") }), ExportError, "export/no-runs");
    // A live-notebook run keeps no report: the refusal says so and how to get one.
    mkdirSync(join(runs, "20261201T100000Z-01-other-cccc"));
    writeFileSync(join(runs, "20261201T100000Z-01-other-cccc", "manifest.json"), JSON.stringify({ runId: "20261201T100000Z-01-other-cccc", notebook: "01-other", interactive: true }));
    expect(expectCode(() => planExport({ notebooks, runs, names: ["01"] }), ExportError, "export/only-live-runs").fields).to.deep.equal({
      notebooks: ["01-other"],
      liveRuns: ["20261201T100000Z-01-other-cccc"],
    });
  });

  it("writes the latest run as HTML and PDF with an index linking them, with no network request attempted", async function () {
    if (!findChromium()) this.skip();
    const out = join(work, "export");
    const result = await exportNotebooks({ notebooks, runs, out });
    expect(readdirSync(out).sort()).to.deep.equal(["00-demo.html", "00-demo.pdf", "index.html", "manifest.json"]);
    expect(readFileSync(join(out, "00-demo.pdf")).subarray(0, 5).toString()).to.equal("%PDF-");
    expect(result.exported[0].pdfBytes).to.be.greaterThan(1000);
    expect(readFileSync(join(out, "00-demo.html"), "utf8")).to.contain("latest run");
    const index = readFileSync(join(out, "index.html"), "utf8");
    expect(index).to.contain('<a href="00-demo.html">00 · A demo</a>').and.contain('<a href="00-demo.pdf">PDF</a>').and.contain("This notebook shows a thing.");
    expect(index).to.contain("<code>01-other</code>");
    expect(index).not.to.match(/\b(?:https?|wss?|ftp):\/\//);
    const manifest = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
    expect(manifest.runs).to.deep.equal([{ notebook: "00-demo", runId: "20261201T090000Z-00-demo-bbbb", finishedAt: "2026-12-01T09:00:00.000Z" }]);
  });

  it("refuses a report that attempts a network request in the browser, and leaves the earlier export in place", async function () {
    if (!findChromium()) this.skip();
    const out = join(work, "export");
    mkdirSync(out);
    writeFileSync(join(out, "index.html"), "earlier export");
    writeRun(runs, "20261201T100000Z-00-demo-cccc", "00-demo", "2026-12-01T10:00:00.000Z", `<script>fetch("https" + "://example.invalid/beacon").catch(() => {});</script>`);
    await expectCodeAsync(exportNotebooks({ notebooks, runs, out, drawTimeoutMs: 5000 }), ExportError, "export/network-request", { requests: ["https://example.invalid/beacon"] });
    expect(readFileSync(join(out, "index.html"), "utf8")).to.equal("earlier export");
    expect(readdirSync(work).filter((f) => f.includes(".tmp-"))).to.deep.equal([]);
    expect(existsSync(join(out, "00-demo.pdf"))).to.equal(false);
  });
});

describe("notebooks' teaching lines (metadata.lab.teaches, the export index)", () => {
  it("say what README's notebook table says, for every notebook that declares one", () => {
    const readme = readFileSync(fromRoot("README.md"), "utf8");
    for (const nb of listNotebooks(fromRoot("notebooks"))) {
      const teaches = (readNotebook(nb.path).metadata.lab as { teaches?: string } | undefined)?.teaches;
      if (teaches === undefined) continue;
      const row = readme.split("\n").find((l) => l.includes(`](notebooks/${nb.name}.ipynb) |`));
      expect(row?.split(" | ")[1]?.replace(/ \|$/, ""), nb.name).to.equal(teaches);
    }
  });
});
