import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parseRunCommandLine } from "../../../lib/cli/commands/run.js";
import { fromRoot } from "../../../lib/files.js";
import { planRuns, runNotebook } from "../../../lib/runner/run-notebooks.js";

/** Every live descendant of `root` (zombies count as gone), from /proc. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z") parent.set(Number(entry), Number(fields[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const found: number[] = [];
  const walk = (pid: number) => {
    for (const [child, ppid] of parent)
      if (ppid === pid) {
        found.push(child);
        walk(child);
      }
  };
  walk(root);
  return found;
}

function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      return !readFileSync(`/proc/${pid}/stat`, "utf8")
        .slice(readFileSync(`/proc/${pid}/stat`, "utf8").lastIndexOf(")") + 2)
        .startsWith("Z");
    } catch {
      return false;
    }
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Runner {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  runsDir: string;
}

/** Starts a runner process on the slow fixture, long enough to be caught mid-cell. */
function startRunner(): Runner {
  const runsDir = join(mkdtempSync(join(tmpdir(), "lab-life-")), "runs");
  const child = spawn(process.execPath, ["--import", "tsx", fromRoot("test", "helpers", "run-notebooks.ts"), "slow", "--set", "seconds=120"], {
    cwd: fromRoot(),
    env: { ...process.env, LAB_NOTEBOOKS_DIR: fromRoot("test", "fixtures", "notebooks"), LAB_RUNS_DIR: runsDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => {
    output += d;
  });
  child.stderr!.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited, runsDir };
}

async function waitFor(what: string, test: () => boolean, ms = 90_000): Promise<void> {
  const until = Date.now() + ms;
  while (!test()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("./lab run: progress, signals and what is left running", function () {
  this.timeout(180_000);

  it("shows the running cell (n of N, its heading, time) and the notebook's own progress lines", async () => {
    const opts = { ...parseRunCommandLine(["slow", "--set", "seconds=2"]), runsDir: join(mkdtempSync(join(tmpdir(), "lab-progress-")), "runs") };
    const saved = process.env.LAB_NOTEBOOKS_DIR;
    process.env.LAB_NOTEBOOKS_DIR = fromRoot("test", "fixtures", "notebooks");
    try {
      const lines: string[] = [];
      const stream = {
        isTTY: false,
        write: (text: string) => {
          lines.push(text);
          return true;
        },
      };
      const [plan] = planRuns(opts);
      const outcome = await runNotebook(plan, { ...opts, progress: { stream, intervalMs: 100 } }, () => {});
      expect(outcome.ok, outcome.error).to.equal(true);
      const counting = lines.filter((l) => l.includes("cell 4 of 5 · Counting slowly"));
      expect(counting.length, lines.join("")).to.be.greaterThan(2);
      expect(
        counting.some((l) => /· tick \d+ of 8/.test(l)),
        "the notebook's own lines",
      ).to.equal(true);
      expect(
        lines.every((l) => l.endsWith("\n") && !l.includes("\r")),
        "plain lines off a terminal",
      ).to.equal(true);
      // On a terminal: one line, rewritten in place.
      const tty: string[] = [];
      const [again] = planRuns(opts);
      const second = await runNotebook(
        again,
        {
          ...opts,
          progress: {
            stream: {
              isTTY: true,
              columns: 120,
              write: (t: string) => {
                tty.push(t);
                return true;
              },
            },
          },
        },
        () => {},
      );
      expect(second.ok, second.error).to.equal(true);
      expect(tty.length).to.be.greaterThan(4);
      expect(tty.every((t) => t.startsWith("\r\x1b[2K") && !t.includes("\n"))).to.equal(true);
    } finally {
      if (saved === undefined) delete process.env.LAB_NOTEBOOKS_DIR;
      else process.env.LAB_NOTEBOOKS_DIR = saved;
    }
  });

  it("leaves no process behind when the runner is killed with SIGKILL mid-cell", async () => {
    const runner = startRunner();
    await waitFor("the slow cell", () => /cell 4 of 5 .*tick \d+/.test(runner.output()));
    const tree = descendants(runner.child.pid!);
    expect(tree.length, "the executor and the kernel").to.be.at.least(2);
    runner.child.kill("SIGKILL");
    await runner.exited;
    await waitFor(`processes ${alive(tree).join(", ")} to end`, () => alive(tree).length === 0, 5_000);
  });

  it("says on SIGTERM what was interrupted and what was kept, and stops its children", async () => {
    const runner = startRunner();
    await waitFor("the slow cell", () => /cell 4 of 5 .*tick \d+/.test(runner.output()));
    const tree = descendants(runner.child.pid!);
    runner.child.kill("SIGTERM");
    const { code } = await runner.exited;
    expect(code).to.equal(143);
    expect(runner.output(), "the runner names the interruption by its code").to.include(`NotebookRunError [run/interrupted]`);
    await waitFor("children to end", () => alive(tree).length === 0, 5_000);
    expect(existsSync(runner.runsDir)).to.equal(false);
    const staging = join(runner.runsDir, "..", ".staging");
    expect(existsSync(staging) ? readdirSync(staging) : []).to.deep.equal([]);
  });
});
