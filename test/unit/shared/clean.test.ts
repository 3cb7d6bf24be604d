import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { cacheDir } from "../../../lib/cache.js";
import { CliError } from "../../../lib/cli/command.js";
import clean from "../../../lib/cli/commands/clean.js";
import { expectCodeAsync } from "../expect-code.js";

/** Runs ./lab clean with these arguments, returning its exit code and what it printed. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => {
    lines.push(parts.join(" "));
  };
  try {
    return { code: await clean(args), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

describe("./lab clean", () => {
  const saved = { cache: process.env.LAB_CACHE_DIR, runs: process.env.LAB_RUNS_DIR };
  beforeEach(() => {
    // everything in temporary folders: the repository's own caches and runs stay untouched
    process.env.LAB_CACHE_DIR = mkdtempSync(join(tmpdir(), "lab-cache-"));
    process.env.LAB_RUNS_DIR = join(mkdtempSync(join(tmpdir(), "lab-runs-")), "runs");
    mkdirSync(cacheDir("gradient-store"), { recursive: true });
    writeFileSync(join(cacheDir("gradient-store"), "a.olgrad"), Buffer.alloc(3 * 1024 * 1024));
    mkdirSync(cacheDir("base-models", "fmnist-mlp"), { recursive: true });
    writeFileSync(join(cacheDir("base-models", "fmnist-mlp"), "model.safetensors"), Buffer.alloc(1024));
  });
  after(() => {
    for (const [key, value] of [
      ["LAB_CACHE_DIR", saved.cache],
      ["LAB_RUNS_DIR", saved.runs],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it("with --dry-run says what it would free and removes nothing", async () => {
    const { code, out } = await run(["--dry-run"]);
    expect(code).to.equal(0);
    expect(out).to.match(/gradient-store .* 3\.0 MiB/);
    expect(out).to.match(/base-models .* 1\.0 KiB/);
    expect(out).to.contain("would free");
    expect(existsSync(join(cacheDir("gradient-store"), "a.olgrad"))).to.equal(true);
  });

  it("frees the named caches only, and says how much", async () => {
    const { code, out } = await run(["gradient-store"]);
    expect(code).to.equal(0);
    expect(out).to.match(/freed \d+\.\d MiB/);
    expect(existsSync(cacheDir("gradient-store"))).to.equal(false);
    expect(existsSync(cacheDir("base-models", "fmnist-mlp", "model.safetensors"))).to.equal(true);
    expect((await run(["gradient-store"])).out).to.equal("nothing to free");
  });

  it("also frees a cache's former home under the runs folder and staging of runs that are gone", async () => {
    const runs = process.env.LAB_RUNS_DIR as string;
    mkdirSync(join(runs, "gradient-store"), { recursive: true });
    writeFileSync(join(runs, "gradient-store", "old.olgrad"), Buffer.alloc(2048));
    mkdirSync(join(runs, "20261201T000000Z-00-tour-abcd"), { recursive: true });
    writeFileSync(join(runs, "20261201T000000Z-00-tour-abcd", "results.json"), "{}");
    const orphan = join(runs, "..", ".staging", "999999999-20261201T000000Z-00-tour-dead");
    mkdirSync(orphan, { recursive: true });
    writeFileSync(join(orphan, "results.json"), "{}");
    const { out } = await run([]);
    expect(out).to.contain("gradient-store (former home)");
    expect(out).to.contain("staging of a run that is gone");
    expect(existsSync(join(runs, "gradient-store"))).to.equal(false);
    expect(existsSync(orphan)).to.equal(false);
    expect(existsSync(join(runs, "20261201T000000Z-00-tour-abcd", "results.json")), "run folders are kept").to.equal(true);
  });

  it("refuses a cache it does not know, naming it", async () => {
    const error = await expectCodeAsync(run(["gradient-stor"]), CliError, "cli/unknown-cache");
    expect(error.fields).to.deep.equal({ command: "clean", unknown: ["gradient-stor"] });
  });

  it("finds a killed Factory run's staging and dead lock, offers it with its size, and frees it; a live run's is left", async () => {
    const staging = join(process.env.LAB_RUNS_DIR!, "..", ".staging");
    const killed = join(staging, "factory-fmnist-lora-0123456789ab");
    const live = join(staging, "factory-fortunes-lora-ba9876543210");
    // The pid of a process that has exited: its lock is dead.
    const gone = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" }).stdout;
    for (const [dir, pid] of [
      [killed, gone],
      [live, String(process.pid)],
    ]) {
      mkdirSync(join(dir, "state"), { recursive: true });
      writeFileSync(join(dir, "lock"), pid);
      writeFileSync(join(dir, "state", "state.safetensors"), Buffer.alloc(2 * 1024 * 1024));
    }
    const dry = await run(["--dry-run"]);
    expect(dry.out).to.match(new RegExp(`stopped Factory run \\(process ${gone} is gone; \\./lab factory SPEC would resume it\\) .*factory-fmnist-lora-0123456789ab .* 2\\.0 MiB`));
    expect(dry.out).to.not.contain("factory-fortunes-lora");
    expect(existsSync(killed)).to.equal(true);
    expect((await run(["gradient-store", "--dry-run"])).out, "only with the factory cache, or all").to.not.contain("stopped Factory run");
    await run(["factory"]);
    expect(existsSync(killed)).to.equal(false);
    expect(existsSync(join(live, "lock")), "a live run's staging is kept").to.equal(true);
  });
});
