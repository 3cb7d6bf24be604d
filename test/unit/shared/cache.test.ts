import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { cacheDir, cacheRoot, formatBytes, leastRecentlyUsedEvictions, parseByteSize, pathBytes } from "../../../lib/cache.js";
import { LabError } from "../../../lib/errors.js";
import { fromRoot } from "../../../lib/files.js";
import { expectCode } from "../expect-code.js";

describe("cache: one root, outside the run folders", () => {
  it("puts every cache under .lab/cache/ unless LAB_CACHE_DIR moves it", () => {
    const saved = process.env.LAB_CACHE_DIR;
    try {
      delete process.env.LAB_CACHE_DIR;
      expect(cacheRoot()).to.equal(fromRoot(".lab", "cache"));
      expect(cacheDir("base-models", "fmnist-mlp")).to.equal(fromRoot(".lab", "cache", "base-models", "fmnist-mlp"));
      expect(cacheDir("gradient-store").startsWith(fromRoot("experiments", "runs"))).to.equal(false);
      process.env.LAB_CACHE_DIR = "/tmp/elsewhere";
      expect(cacheDir("gradient-store")).to.equal("/tmp/elsewhere/gradient-store");
    } finally {
      if (saved === undefined) delete process.env.LAB_CACHE_DIR;
      else process.env.LAB_CACHE_DIR = saved;
    }
  });

  it("evicts least recently used entries first until the rest fit, never the kept one", () => {
    const entries = [
      { key: "a", bytes: 40, lastUsed: 3 },
      { key: "b", bytes: 40, lastUsed: 1 },
      { key: "c", bytes: 40, lastUsed: 2 },
      { key: "d", bytes: 40, lastUsed: 0 },
    ];
    expect(leastRecentlyUsedEvictions(entries, 160)).to.deep.equal([]);
    expect(leastRecentlyUsedEvictions(entries, 100)).to.deep.equal(["d", "b"]);
    expect(leastRecentlyUsedEvictions(entries, 100, new Set(["d"]))).to.deep.equal(["b", "c"]);
    expect(leastRecentlyUsedEvictions(entries, 0, new Set(["a"]))).to.deep.equal(["d", "b", "c"]);
    const tied = [
      { key: "y", bytes: 10, lastUsed: 5 },
      { key: "x", bytes: 10, lastUsed: 5 },
    ];
    expect(leastRecentlyUsedEvictions(tied, 10)).to.deep.equal(["x"]);
  });

  it("reads sizes with units, and refuses what is not one", () => {
    expect(parseByteSize("1073741824", "S")).to.equal(1024 ** 3);
    expect(parseByteSize("512M", "S")).to.equal(512 * 1024 ** 2);
    expect(parseByteSize("1.5GiB", "S")).to.equal(1.5 * 1024 ** 3);
    expect(parseByteSize("2k", "S")).to.equal(2048);
    expect(expectCode(() => parseByteSize("-3G", "LAB_X"), LabError, "cache/bad-size").fields).to.deep.equal({ setting: "LAB_X", value: "-3G" });
    expect(formatBytes(512)).to.equal("512 B");
    expect(formatBytes(1536 * 1024)).to.equal("1.5 MiB");
  });

  it("counts the bytes under a folder", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-cache-"));
    writeFileSync(join(dir, "a"), "12345");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "b"), "123");
    expect(pathBytes(dir)).to.equal(8);
    expect(pathBytes(join(dir, "absent"))).to.equal(0);
  });
});
