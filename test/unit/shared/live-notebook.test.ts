import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Browser } from "playwright-core";
import { verifySettlement } from "../../../lib/chain/verify-run.js";
import { resolveRunDir } from "../../../lib/cli/commands/verify.js";
import { fromRoot } from "../../../lib/files.js";
import { findChromium, launchChromium } from "../../../lib/runner/browser.js";
import { listNotebooks } from "../../../lib/runner/notebooks.js";
import { freePort } from "../../helpers/hardhat-node.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// What `./lab notebook` runs (Jupyter's notebook server with the tslab kernel), a session opened on
// 00-tour as the browser would, and code sent to its kernel as a front end does.
describe("settling from a live notebook", function () {
  this.timeout(180_000);
  let server: ChildProcess | undefined;
  after(() => {
    if (server?.pid && server.exitCode === null) process.kill(-server.pid, "SIGTERM");
  });

  it("lands a run folder named like any other, with the notebook's name, that ./lab verify checks", async () => {
    const base = mkdtempSync(join(tmpdir(), "lab-live-"));
    const runtimeDir = join(base, "runtime");
    const runsDir = join(base, "runs");
    const port = await freePort();
    const token = "lab-live-test";
    const env: NodeJS.ProcessEnv = { ...process.env, JUPYTER_RUNTIME_DIR: runtimeDir, LAB_RUNS_DIR: runsDir };
    delete env.LAB_RUN_DIR;
    delete env.LAB_NOTEBOOK;
    const python = process.env.LAB_PYTHON ?? "python3";
    server = spawn(
      python,
      [
        "-m",
        "notebook",
        "--ip=127.0.0.1",
        `--port=${port}`,
        `--notebook-dir=${fromRoot("notebooks")}`,
        "--no-browser",
        `--NotebookApp.token=${token}`,
        ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
      ],
      { env, stdio: ["ignore", "ignore", process.env.LAB_TEST_DEBUG ? "inherit" : "ignore"], detached: true },
    );
    const api = `http://127.0.0.1:${port}/api`;
    for (let i = 0; ; i++) {
      const up = await fetch(`${api}/status?token=${token}`).then(
        (r) => r.ok,
        () => false,
      );
      if (up) break;
      if (i > 300) throw new Error("the notebook server did not start");
      await sleep(100);
    }
    const session = (await (
      await fetch(`${api}/sessions?token=${token}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ path: "00-tour.ipynb", name: "00-tour.ipynb", type: "notebook", kernel: { name: "tslab" } }),
      })
    ).json()) as { kernel: { id: string } };
    // A parameter changed in a cell, as a reader does live: the manifest records the value used.
    const code = ['import { record, settle } from "../dist/lib/notebook/index.js";', "let seed = 7;", 'record("answer", 42);', "await settle({ answer: 42 });"].join("\n");
    const result = spawnSync(python, [fromRoot("test", "helpers", "kernel-exec.py"), join(runtimeDir, `kernel-${session.kernel.id}.json`), code], { env, encoding: "utf8", timeout: 150_000 });
    expect(result.status, result.stdout + result.stderr).to.equal(0);
    const echoed = result.stdout.split("\n").filter((line) => line.startsWith("Settlement {"));
    expect(echoed, `settle() as the last expression shows one short line: ${result.stdout}`).to.have.length(1);
    expect(echoed[0]).to.match(/^Settlement \{ run: \d{8}T\d{6}Z-00-tour-[0-9a-f]{4}, chain: 31337, tx: 0x[0-9a-f]{8}…[0-9a-f]{6}, block: \d+, results sha256: [0-9a-f]{10}…[0-9a-f]{6} \}$/);
    expect(result.stdout, "no signed transaction in hex").to.not.match(/0x[0-9a-f]{200}/);
    const runs = readdirSync(runsDir);
    expect(runs).to.have.length(1);
    expect(runs[0]).to.match(/^\d{8}T\d{6}Z-00-tour-[0-9a-f]{4}$/);
    expect(readdirSync(join(runsDir, runs[0])).sort()).to.include.members(["manifest.json", "results.json", "settlement.json"]);
    expect(existsSync(join(base, ".interactive", runs[0])), "nothing left in the live staging folder").to.equal(false);
    const manifest = JSON.parse(readFileSync(join(runsDir, runs[0], "manifest.json"), "utf8"));
    for (const key of [
      "runId",
      "notebook",
      "startedAt",
      "finishedAt",
      "git",
      "lockfileSha256",
      "notebookSha256",
      "versions",
      "tfBackend",
      "seed",
      "quick",
      "parameters",
      "declared",
      "overrides",
      "resultsSha256",
      "chain",
      "settlement",
    ]) {
      expect(manifest, `the live manifest has ${key}, as a headless one does`).to.have.property(key);
    }
    expect(manifest.git.commit).to.match(/^[0-9a-f]{40}$/);
    expect(manifest.versions.tslab).to.match(/^\d+\.\d+/);
    expect(manifest.parameters).to.deep.equal({ quick: false, seed: 7, samples: 5000, steps: 300 });
    expect(manifest.declared.seed).to.equal(42);
    expect(manifest.overrides).to.deep.equal({ seed: 7 });
    expect(manifest.seed).to.equal(7);
    const saved = process.env.LAB_RUNS_DIR;
    process.env.LAB_RUNS_DIR = runsDir;
    try {
      const v = await verifySettlement(resolveRunDir(runs[0]));
      expect(v.settlement.notebook).to.equal("00-tour");
      expect(v.manifest).to.equal("matches");
    } finally {
      if (saved === undefined) delete process.env.LAB_RUNS_DIR;
      else process.env.LAB_RUNS_DIR = saved;
    }
  });
});

// `./lab notebook` as a reader uses it: the address it prints opened in Chromium, the tour read,
// a parameter changed and a cell run, the notebook saved by the front end.
describe("./lab notebook in a real browser", function () {
  this.timeout(300_000);
  let server: ChildProcess | undefined;
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
    if (server?.pid && server.exitCode === null) process.kill(-server.pid, "SIGTERM");
  });

  it("draws the tour's diagram, lists every notebook present, and a live run leaves the tracked notebooks unchanged", async function () {
    if (!findChromium()) {
      console.log("      skipped: Chromium is not installed (as root, ./lab test installs Debian's chromium)");
      this.skip();
    }
    server = spawn(fromRoot("lab"), ["notebook"], { cwd: fromRoot(), env: { ...process.env, JUPYTER_TOKEN: "" }, stdio: ["ignore", "ignore", "pipe"], detached: true });
    let err = "";
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no address printed: ${err}`)), 120_000);
      server!.stderr!.on("data", (d) => {
        err += d;
        const m = /Jupyter at (http:\/\/127\.0\.0\.1:\d+\/tree\?token=[0-9a-f]+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
    });
    browser = await launchChromium();
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    for (let i = 0; ; i++) {
      const opened = await page.goto(url.replace("/tree?", "/notebooks/00-tour.ipynb?")).then(
        (r) => r?.ok() ?? false,
        () => false,
      );
      if (opened) break;
      if (i > 100) throw new Error(`the notebook did not open: ${err}`);
      await sleep(300);
    }
    await page.waitForFunction("window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()", undefined, { timeout: 120_000 });
    // The diagram: an image Jupyter's sanitizer keeps, drawn at its size.
    await page.waitForFunction(`[...document.querySelectorAll(".rendered_html img")].some((img) => img.alt.startsWith("The three layers") && img.complete && img.naturalWidth > 0)`, undefined, {
      timeout: 30_000,
    });
    const box = await page.locator('.rendered_html img[alt^="The three layers"]').boundingBox();
    expect(box?.width ?? 0, "the diagram is drawn, not a line of text").to.be.greaterThan(400);
    // A live edit of a parameter and a run of the notebook index cell, then a save.
    const rows = await page.evaluate(`(async () => {
      const cells = Jupyter.notebook.get_cells();
      const params = cells.find((c) => (c.metadata.tags || []).includes("parameters"));
      params.set_text(params.get_text().replace("let quick = false;", "let quick = true;"));
      const index = cells.find((c) => c.cell_type === "code" && c.get_text().includes("notebookIndexMarkdown()"));
      index.execute();
      for (let i = 0; i < 600 && !index.element[0].querySelector(".output_area table"); i++) await new Promise((r) => setTimeout(r, 100));
      await Jupyter.notebook.save_notebook();
      return index.element[0].querySelectorAll(".output_area table tbody tr").length;
    })()`);
    expect(rows, "the index lists every notebook in notebooks/").to.equal(listNotebooks().length);
    await sleep(1000);
    const status = spawnSync("git", ["status", "--porcelain", "notebooks"], { cwd: fromRoot(), encoding: "utf8" }).stdout;
    expect(status, "saving a live run leaves the tracked notebooks as committed").to.equal("");
  });
});
