import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { acquireProcessLock, LockHeldError, lockHolder, ownedStagingName, processAlive, sweepOrphanedStaging } from "../../../lib/lock.js";
import { expectCode } from "../expect-code.js";

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "console.log(process.pid)"], { encoding: "utf8" });
  const pid = Number(child.stdout.trim());
  expect(processAlive(pid)).to.equal(false);
  return pid;
}

describe("lock: one live process per guarded thing", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "lab-lock-"));
  });

  it("tells live processes from gone ones", () => {
    expect(processAlive(process.pid)).to.equal(true);
    expect(processAlive(process.ppid)).to.equal(true);
    expect(processAlive(deadPid())).to.equal(false);
    expect(processAlive(0)).to.equal(false);
    expect(processAlive(Number.NaN)).to.equal(false);
  });

  it("takes a free lock with this pid and releases it", () => {
    const path = join(root, "sub", "lock");
    const lock = acquireProcessLock(path, "the test folder");
    expect(lockHolder(path)).to.equal(process.pid);
    lock.release();
    expect(existsSync(path)).to.equal(false);
  });

  it("refuses a lock a live process holds, naming the process", () => {
    const path = join(root, "lock");
    writeFileSync(path, String(process.ppid));
    expectCode(() => acquireProcessLock(path, "the test folder"), LockHeldError, "lock/held", { path, pid: process.ppid, what: "the test folder" });
    expect(readFileSync(path, "utf8")).to.equal(String(process.ppid));
  });

  it("takes over a lock left by a process that is gone, or one that holds no pid", () => {
    const path = join(root, "lock");
    writeFileSync(path, String(deadPid()));
    acquireProcessLock(path, "the test folder");
    expect(lockHolder(path)).to.equal(process.pid);
    writeFileSync(path, "garbage");
    acquireProcessLock(path, "the test folder").release();
    expect(existsSync(path)).to.equal(false);
  });

  it("does not release a lock another process has taken since", () => {
    const path = join(root, "lock");
    const lock = acquireProcessLock(path, "the test folder");
    writeFileSync(path, String(process.ppid));
    lock.release();
    expect(lockHolder(path)).to.equal(process.ppid);
  });

  it("sweeps staging folders of gone processes only, leaving other names alone", () => {
    const dead = deadPid();
    for (const name of [`${dead}-run-a`, ownedStagingName("run-b"), "factory-spec-abc"]) mkdirSync(join(root, name));
    const removed = sweepOrphanedStaging(root);
    expect(removed).to.deep.equal([join(root, `${dead}-run-a`)]);
    expect(readdirSync(root).sort()).to.deep.equal([`${process.pid}-run-b`, "factory-spec-abc"].sort());
    expect(sweepOrphanedStaging(join(root, "absent"))).to.deep.equal([]);
  });
});
