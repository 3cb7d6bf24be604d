import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { commitDir, DiskFullError, movePath, stagingPathBeside, writeDirAtomic, writeDirOnce, writeFileAtomic } from "../../../lib/files.js";
import { expectCode } from "../expect-code.js";

describe("files: atomic writes", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "lab-files-"));
  });

  it("writes a file through a temp name beside it, leaving only the file", () => {
    const path = join(root, "sub", "a.json");
    writeFileAtomic(path, "one");
    writeFileAtomic(path, "two");
    expect(readFileSync(path, "utf8")).to.equal("two");
    expect(readdirSync(join(root, "sub"))).to.deep.equal(["a.json"]);
  });

  it("stages beside the destination, under a name no other writer picks", () => {
    const dest = join(root, "out");
    const a = stagingPathBeside(dest),
      b = stagingPathBeside(dest);
    expect(a.startsWith(`${dest}.tmp-${process.pid}-`)).to.equal(true);
    expect(a).to.not.equal(b);
  });

  it("writes a folder whole, replacing an older one, with nested names", () => {
    const dir = join(root, "ckpt");
    writeDirAtomic(dir, { "old.txt": "old", "meta.json": "{}" });
    writeDirAtomic(dir, { "meta.json": '{"step":2}', "nested/file.bin": new Uint8Array([1, 2, 3]) });
    expect(readdirSync(dir).sort()).to.deep.equal(["meta.json", "nested"]);
    expect([...readFileSync(join(dir, "nested", "file.bin"))]).to.deep.equal([1, 2, 3]);
    expect(readdirSync(root)).to.deep.equal(["ckpt"]);
  });

  it("commits a staged folder in place of the old one, and restores the old one when the rename fails", () => {
    const dest = join(root, "out");
    writeDirAtomic(dest, { "v.txt": "1" });
    const staged = stagingPathBeside(dest);
    mkdirSync(staged);
    writeFileSync(join(staged, "v.txt"), "2");
    commitDir(staged, dest);
    expect(readFileSync(join(dest, "v.txt"), "utf8")).to.equal("2");
    expect(readdirSync(root)).to.deep.equal(["out"]);
    expect(() => commitDir(join(root, "missing"), dest)).to.throw(/ENOENT/);
    expect(readFileSync(join(dest, "v.txt"), "utf8")).to.equal("2");
    expect(readdirSync(root)).to.deep.equal(["out"]);
  });

  it("writes a folder once: a folder already in place is kept whole, the second copy dropped with nothing left beside it", () => {
    const dir = join(root, "cache", "base");
    expect(writeDirOnce(dir, { "model.bin": new Uint8Array([1]), "config.json": '{"first":true}' })).to.equal(true);
    expect(writeDirOnce(dir, { "model.bin": new Uint8Array([2]), "other.txt": "second" })).to.equal(false);
    expect(readdirSync(dir).sort()).to.deep.equal(["config.json", "model.bin"]);
    expect([...readFileSync(join(dir, "model.bin"))]).to.deep.equal([1]);
    expect(readdirSync(join(root, "cache"))).to.deep.equal(["base"]);
  });

  it("moves a folder, creating the parent", () => {
    writeDirAtomic(join(root, "a"), { "x.txt": "x" });
    movePath(join(root, "a"), join(root, "deep", "b"));
    expect(existsSync(join(root, "a"))).to.equal(false);
    expect(readFileSync(join(root, "deep", "b", "x.txt"), "utf8")).to.equal("x");
  });
});

// A real full disk: a 1 MiB tmpfs (mounting needs root; elsewhere the test says why it skips).
describe("writes on a full disk", () => {
  let mountPoint: string | undefined;
  before(function () {
    const dir = mkdtempSync(join(tmpdir(), "lab-full-"));
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]).status !== 0) {
      console.log("      skipped: mounting a small tmpfs needs root");
      this.skip();
    }
    mountPoint = dir;
  });
  after(() => {
    if (mountPoint) spawnSync("umount", [mountPoint]);
  });

  it("refuses with the folder, the bytes needed and the bytes free, and leaves no partial file", () => {
    const folder = join(mountPoint!, "run");
    const error = expectCode(() => writeFileAtomic(join(folder, "report.html"), new Uint8Array(3 * 2 ** 20)), DiskFullError, "files/disk-full", { folder, bytesNeeded: 3 * 2 ** 20 });
    expect(error.fields.bytesFree)
      .to.be.a("number")
      .and.below(2 ** 20 + 1);
    expect(readdirSync(folder)).to.deep.equal([]);
    expectCode(() => writeDirAtomic(join(folder, "state"), { "a.bin": new Uint8Array(2 * 2 ** 20) }), DiskFullError, "files/disk-full", { folder });
  });
});
