import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { verifySettlement } from "../../../lib/chain/verify-run.js";
import { CliError } from "../../../lib/cli/command.js";
import { parseRunCommandLine } from "../../../lib/cli/commands/run.js";
import { fromRoot } from "../../../lib/files.js";
import { OverrideError } from "../../../lib/overrides.js";
import { UnknownNotebookError } from "../../../lib/runner/notebooks.js";
import { findChromium, hasFormulas, inspectReport, launchChromium, reportProblems } from "../../../lib/runner/report-check.js";
import { externalResources, planRuns, type RunOptions, runNotebook } from "../../../lib/runner/run-notebooks.js";
import { expectCode } from "../expect-code.js";

// These tests drive the real thing: Jupyter's nbclient, the tslab kernel, the built lib/ (dist/),
// and the in-process Hardhat chain. `./lab test` sets all of that up first.
describe("./lab run: the notebook runner", function () {
  this.timeout(180_000);
  const saved = process.env.LAB_NOTEBOOKS_DIR;
  let runsDir: string;
  const parseRunArgs = parseRunCommandLine;
  const options = (args: string[]): RunOptions => ({ ...parseRunArgs(args), runsDir });

  before(() => {
    process.env.LAB_NOTEBOOKS_DIR = fromRoot("test", "fixtures", "notebooks");
    runsDir = join(mkdtempSync(join(tmpdir(), "lab-runs-")), "runs");
  });
  after(() => {
    if (saved === undefined) delete process.env.LAB_NOTEBOOKS_DIR;
    else process.env.LAB_NOTEBOOKS_DIR = saved;
  });

  it("refuses unknown notebooks, unknown parameters and ill-typed values before running anything", () => {
    expectCode(() => planRuns(options(["nonesuch"])), UnknownNotebookError, "run/unknown-notebook", { name: "nonesuch" });
    expectCode(() => planRuns(options(["ok", "--set", "sed=3"])), OverrideError, "set/unknown-key", { key: "sed" });
    expectCode(() => planRuns(options(["ok", "--set", "seed=three"])), OverrideError, "set/wrong-type", { key: "seed", expected: "number", value: "three", where: "ok" });
    expectCode(() => planRuns(options(["ok", "--set", "quick=maybe"])), OverrideError, "set/wrong-type", { key: "quick", expected: "boolean" });
    expectCode(() => parseRunArgs(["--set", "novalue"]), OverrideError, "set/malformed", { pair: "novalue" });
    expectCode(() => parseRunArgs(["--set", "seed=1", "--set", "seed=2"]), OverrideError, "set/repeated-key", { key: "seed" });
    expectCode(() => parseRunArgs(["ok", "--fast"]), CliError, "cli/unknown-option", { option: "--fast" });
    expectCode(() => planRuns(options(["ok", "--quick", "--set", "quick=false"])), OverrideError, "set/conflict", { key: "quick", value: "false", option: "--quick" });
    expectCode(() => planRuns(options(["ok", "--set", "sed=3"])), OverrideError, "set/unknown-key", { key: "sed", where: "notebook ok" });
    expectCode(() => parseRunArgs(["ok", "--cell-timeout", "-5"]), CliError, "cli/bad-option-value", { option: "--cell-timeout" });
    expect(existsSync(runsDir)).to.equal(false);
  });

  it("injects parameters after the parameters cell, keeps a complete run folder, and exports self-contained HTML", async () => {
    const opts = { ...options(["ok", "--quick", "--set", "seed=7", "--set", "label=from cli", "--set", "ratio=0.25"]), env: { LAB_FIXTURE_VALUE: "from RunOptions.env" } };
    const [plan] = planRuns(opts);
    const outcome = await runNotebook(plan, opts, () => {});
    expect(outcome.ok, outcome.error).to.equal(true);
    const dir = outcome.runDir!;
    expect(readdirSync(dir).sort()).to.include.members(["manifest.json", "notebook.ipynb", "report.html", "results.json", "settlement.json"]);
    const results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8"));
    expect(results.values.seen).to.deep.equal({ quick: true, seed: 7, label: "from cli", ratio: 0.25 });
    expect(results.values.kernelEnv, "variables of RunOptions.env reach the kernel").to.equal("from RunOptions.env");
    const executed = JSON.parse(readFileSync(join(dir, "notebook.ipynb"), "utf8"));
    const tags = executed.cells.map((c: { metadata: { tags?: string[] } }) => c.metadata.tags?.[0] ?? "");
    expect(tags.indexOf("injected-parameters")).to.equal(tags.indexOf("parameters") + 1);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest.parameters, "the values used, after quick mode").to.deep.equal({ quick: true, seed: 7, label: "from cli", ratio: 0.25, rounds: 2 });
    expect(manifest.declared.rounds).to.equal(10);
    expect(manifest.seed).to.equal(7);
    // One numbering: the manifest's cell n is the report's [n] prompt and the notebook's execution count.
    const codeCells = executed.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    expect(manifest.cells.map((c: { cell: number }) => c.cell)).to.deep.equal(codeCells.map((_: unknown, i: number) => i + 1));
    expect(codeCells.map((c: { execution_count: number }) => c.execution_count)).to.deep.equal(manifest.cells.map((c: { cell: number }) => c.cell));
    expect(tags, "the parameters probe is removed").to.not.include("lab-parameters-probe");
    expect(manifest.settlement.txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(manifest.chain.chainId).to.equal("31337");
    expect(manifest.cells.every((c: { seconds: number | null }) => typeof c.seconds === "number")).to.equal(true);
    expect((await verifySettlement(dir)).settlement.resultsSha256).to.equal(manifest.resultsSha256);
    const html = readFileSync(join(dir, "report.html"), "utf8");
    expect(html).to.include("Plotly.newPlot");
    expect(html, "the page title is the notebook's title").to.match(/<title>OK fixture<\/title>/);
    for (const n of manifest.cells.map((c: { cell: number }) => c.cell)) expect(html).to.include(`[${n}]:`);
    const settleCell = executed.cells[executed.cells.length - 1];
    expect(
      settleCell.outputs.filter((o: { output_type: string }) => o.output_type === "stream"),
      "no echoed return value (settle() returns the settlement)",
    ).to.deep.equal([]);
    expect(html).to.not.include("rawTransaction");
    expect(html, "the settlement as a table").to.match(/<caption>Run [^<]+ settled<\/caption><thead><tr><th>chain<\/th><th>registry<\/th><th>transaction<\/th><th>block<\/th>/);
    expect(html, "paths name the run folder, not the vanished staging folder").to.include(`run folder: ${dir}`).and.not.include(".staging");
    expect(html, "a path cut short is pointed at the run folder too").to.include(`cut: ${dir}`);
    expect(JSON.stringify(executed)).to.not.include(".staging");
    const notebookText = readFileSync(join(dir, "notebook.ipynb"), "utf8");
    expect(notebookText, "the plotly bundle is kept once per run folder, in report.html").to.not.match(/plotly\.js v\d/);
    expect(notebookText).to.include("Plotly.newPlot");
    expect(html, "code is wrapped, not cut").to.include('id="lab-report"');
    expect(html).to.include("fixture figure");
    expect(html, "the plotly bundle is embedded").to.match(/plotly\.js v\d/);
    expect(externalResources(html)).to.deep.equal([]);
    expect(html, "TeX in markdown is typeset as MathML").to.include("<math").and.not.include("$e^{i\\pi} + 1 = 0$");
    if (findChromium()) {
      // The real export template, in a real browser: the long plot() line is wrapped, not cut.
      const browser = await launchChromium();
      try {
        const findings = await inspectReport(browser, join(dir, "report.html"));
        expect(reportProblems(findings, hasFormulas(plan.notebook.path))).to.deep.equal([]);
        expect(findings.plots.map((p) => p.title)).to.deep.equal(["fixture figure"]);
        expect(findings.title).to.equal("OK fixture");
      } finally {
        await browser.close();
      }
    } else {
      console.log("      (Chromium is not installed: the report was not opened in a browser)");
    }
  });

  it("fails a run at its failing cell, naming notebook, cell and error, and keeps no run folder", async () => {
    const opts = options(["fails"]);
    const before = existsSync(runsDir) ? readdirSync(runsDir) : [];
    const [plan] = planRuns(opts);
    const outcome = await runNotebook(plan, opts, () => {});
    expect(outcome.ok).to.equal(false);
    expect(outcome.failure?.code).to.equal("run/cell-failed");
    expect(outcome.failure?.fields).to.deep.include({ notebook: "fails", cell: 3, heading: "Fixture: the third cell throws.", ename: "Error" });
    // The kernel's error as the reader sees it: the cell and line first, none of tslab's own frames.
    expect(outcome.error).to.match(/fixture failure on purpose\n {4}in your cell, line \d+/);
    expect(outcome.error).to.not.contain("node_modules/tslab");
    expect(existsSync(runsDir) ? readdirSync(runsDir) : []).to.deep.equal(before);
    expect(readdirSync(join(runsDir, "..", ".staging"))).to.deep.equal([]);
  });
});

describe("externalResources", () => {
  it("finds what a page would fetch and ignores inline data and anchors", () => {
    expect(
      externalResources(
        `<script src="https://cdn.example/x.js"></script><img src="data:image/png;base64,AA"><a href="https://x">x</a><link rel="stylesheet" href="file:///usr/share/x.css"><style>@import url("//fonts.example/f.css");</style>`,
      ),
    ).to.deep.equal(["https://cdn.example/x.js", "file:///usr/share/x.css", "//fonts.example/f.css", "//fonts.example/f.css"]);
  });
});

// A real full disk: a 3 MiB tmpfs (mounting needs root; elsewhere the test says why it skips).
describe("./lab run on a full disk", function () {
  this.timeout(180_000);
  let mountPoint: string | undefined;
  const saved = process.env.LAB_NOTEBOOKS_DIR;
  before(function () {
    const dir = mkdtempSync(join(tmpdir(), "lab-full-disk-"));
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", dir]).status !== 0) {
      console.log("      skipped: mounting a small tmpfs needs root");
      this.skip();
    }
    mountPoint = dir;
    process.env.LAB_NOTEBOOKS_DIR = fromRoot("test", "fixtures", "notebooks");
  });
  after(() => {
    if (mountPoint) spawnSync("umount", [mountPoint]);
    if (saved === undefined) delete process.env.LAB_NOTEBOOKS_DIR;
    else process.env.LAB_NOTEBOOKS_DIR = saved;
  });

  it("stops with one paragraph naming the folder and the space needed, after every cell ran, and keeps nothing", async () => {
    const runsDir = join(mountPoint!, "runs");
    const opts: RunOptions = { ...parseRunCommandLine(["ok"]), runsDir };
    const [plan] = planRuns(opts);
    // The cells' own files fit; the executed notebook, which carries the plotly bundle (4.6 MB), does not.
    const outcome = await runNotebook(plan, opts, () => {});
    expect(outcome.ok).to.equal(false);
    const error = outcome.error ?? "";
    expect(error).to.match(
      /^ok: every cell ran, but the run could not be written: the disk holding \S+\.staging\S* is full: writing notebook\.ipynb needs \d+\.\d MiB and \d+\.\d MiB is free\. Fix: free at least \d+\.\d MiB/,
    );
    expect(error, "one paragraph, no Python traceback").to.not.contain("\n").and.not.contain("Traceback");
    expect(readdirSync(join(runsDir, "..", ".staging"))).to.deep.equal([]);
    expect(existsSync(runsDir) ? readdirSync(runsDir) : []).to.deep.equal([]);
  });
});
