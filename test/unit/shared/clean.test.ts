import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { cacheDir } from "../../../lib/cache.js";
import clean from "../../../lib/cli/commands/clean.js";
import { hasCode } from "../../../lib/errors.js";

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
  const saved = process.env.LAB_CACHE_DIR;
  beforeEach(() => {
    process.env.LAB_CACHE_DIR = mkdtempSync(join(tmpdir(), "lab-cache-"));
    mkdirSync(cacheDir("gradient-store"), { recursive: true });
    writeFileSync(join(cacheDir("gradient-store"), "a.olgrad"), Buffer.alloc(3 * 1024 * 1024));
    mkdirSync(cacheDir("base-models", "fmnist-mlp"), { recursive: true });
    writeFileSync(join(cacheDir("base-models", "fmnist-mlp"), "model.safetensors"), Buffer.alloc(1024));
  });
  after(() => {
    if (saved === undefined) delete process.env.LAB_CACHE_DIR;
    else process.env.LAB_CACHE_DIR = saved;
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

  it("refuses a cache it does not know, naming it", async () => {
    try {
      await run(["gradient-stor"]);
      expect.fail("expected cli/unknown-cache");
    } catch (error) {
      expect(hasCode(error, "cli/unknown-cache")).to.equal(true);
      expect((error as { fields: Record<string, unknown> }).fields).to.deep.equal({ command: "clean", unknown: ["gradient-stor"] });
    }
  });
});
