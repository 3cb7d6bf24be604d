import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { expect } from "chai";
import { fromRoot } from "../../../lib/files.js";
import { freePort } from "../../helpers/hardhat-node.js";

/** `./lab ARGS` as a user types it: the entry script, its set-up (already done: under a second) and the CLI. */
function lab(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(fromRoot("lab"), args, { cwd: fromRoot(), env: { ...process.env, ...env }, encoding: "utf8", timeout: 120_000 });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

// The command line from the user's side: exit codes and what is printed, through the entry script.
describe("the ./lab entry script, from the user's side", function () {
  this.timeout(240_000);

  it("gives every command's help from ./lab help X and ./lab X --help alike, notebook and chain included", () => {
    for (const name of ["notebook", "chain", "setup", "run"]) {
      const asked = lab(["help", name]);
      const flagged = lab([name, "--help"]);
      expect(asked.code, `${name}: ${asked.err}`).to.equal(0);
      expect(flagged.code, `${name}: ${flagged.err}`).to.equal(0);
      expect(asked.out).to.match(new RegExp(`^usage: \\./lab ${name}`));
      expect(flagged.out, name).to.equal(asked.out);
    }
    const short = lab(["notebook", "-h"]).out;
    expect(short).to.match(/^usage: \.\/lab notebook/);
    expect(short, "the lab's help, not Jupyter's").to.not.contain("NotebookApp");
  });

  it("exits 2 on a help topic that is no command", () => {
    const r = lab(["help", "frob"]);
    expect(r.code).to.equal(2);
    expect(r.err).to.contain("frob").and.contain("  reproduce ");
  });

  it("refuses, before anything runs, a fraction or a negative where a parameter takes int ≥ 1, and --quick with quick=false", () => {
    const fraction = lab(["run", "00", "--set", "samples=1.5"]);
    expect(fraction.code).to.equal(2);
    expect(fraction.err).to.contain("samples").and.contain('"1.5"');
    const negative = lab(["run", "00", "--set", "steps=-3"]);
    expect(negative.code).to.equal(2);
    expect(negative.err).to.contain("steps").and.contain("≥ 1").and.contain("-3");
    const conflict = lab(["run", "00", "--quick", "--set", "quick=false"]);
    expect(conflict.code).to.equal(2);
    expect(conflict.err).to.contain("--quick").and.contain("quick=false");
    const unknown = lab(["run", "00", "--set", "sampels=3"]);
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.contain('"sampels"').and.contain("00-tour").and.contain("samples");
    const timeout = lab(["run", "00", "--cell-timeout", "-5"]);
    expect(timeout.code).to.equal(2);
    expect(timeout.err).to.contain("[cli/bad-option-value]").and.contain("--cell-timeout").and.contain("-5");
  });

  describe("./lab notebook's address", () => {
    let server: ChildProcess | undefined;
    afterEach(() => {
      if (server?.pid && server.exitCode === null) process.kill(-server.pid, "SIGTERM");
      server = undefined;
    });

    it("refuses a LAB_NOTEBOOK_PORT that is in use, naming it", async () => {
      const port = await freePort();
      const holder = createServer().listen(port, "127.0.0.1");
      await new Promise((r) => holder.once("listening", r));
      try {
        const r = lab(["notebook"], { LAB_NOTEBOOK_PORT: String(port) });
        expect(r.code).to.equal(1);
        expect(r.err).to.contain(`port ${port} (LAB_NOTEBOOK_PORT)`).and.contain("fix:");
      } finally {
        holder.close();
      }
    });

    it("prints the address Jupyter listens on, token included, and that address opens", async () => {
      server = spawn(fromRoot("lab"), ["notebook"], { cwd: fromRoot(), env: { ...process.env, JUPYTER_TOKEN: "" }, stdio: ["ignore", "ignore", "pipe"], detached: true });
      let err = "";
      server.stderr!.on("data", (d) => {
        err += d;
      });
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no address printed: ${err}`)), 120_000);
        server!.stderr!.on("data", () => {
          const m = /Jupyter at (http:\/\/127\.0\.0\.1:\d+\/tree\?token=[0-9a-f]+)/.exec(err);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      });
      for (let i = 0; ; i++) {
        const status = await fetch(url).then(
          (r) => r.status,
          () => 0,
        );
        if (status === 200) break;
        if (i > 300) throw new Error(`${url} did not open: ${err}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const api = url.replace("/tree?", "/api/contents/00-tour.ipynb?");
      expect((await fetch(api)).status, "the token printed is the server's").to.equal(200);
    });
  });
});
