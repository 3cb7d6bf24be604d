import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { verifySettlement } from "../../../lib/chain/verify-run.js";
import { resolveRunDir } from "../../../lib/cli/commands/verify.js";
import { fromRoot } from "../../../lib/files.js";
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
    const code = ['import { record, settle } from "../dist/lib/notebook/index.js";', 'record("answer", 42);', "await settle({ answer: 42 });"].join("\n");
    const result = spawnSync(python, [fromRoot("test", "helpers", "kernel-exec.py"), join(runtimeDir, `kernel-${session.kernel.id}.json`), code], { env, encoding: "utf8", timeout: 150_000 });
    expect(result.status, result.stdout + result.stderr).to.equal(0);
    const runs = readdirSync(runsDir);
    expect(runs).to.have.length(1);
    expect(runs[0]).to.match(/^\d{8}T\d{6}Z-00-tour-[0-9a-f]{4}$/);
    expect(readdirSync(join(runsDir, runs[0])).sort()).to.include.members(["manifest.json", "results.json", "settlement.json"]);
    expect(existsSync(join(base, ".interactive", runs[0])), "nothing left in the live staging folder").to.equal(false);
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
