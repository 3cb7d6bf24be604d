import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { LabError } from "./errors.js";

/** True while process `pid` exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Another live process holds the lock. */
export class LockHeldError extends LabError {}

export interface ProcessLock {
  readonly path: string;
  release(): void;
}

/**
 * Takes the lock file `path` for this process: created exclusively, holding our pid. A lock
 * left by a process that is gone is taken over; one held by a live process is refused. `what`
 * names the guarded thing in the refusal ("the staging folder of spec fmnist-lora").
 */
export function acquireProcessLock(path: string, what: string): ProcessLock {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      return {
        path,
        release: () => {
          if (lockHolder(path) === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = lockHolder(path);
    if (holder !== undefined && holder !== process.pid && processAlive(holder)) {
      throw new LockHeldError({
        code: "lock/held",
        message: `another process (${holder}) is using ${what}`,
        hint: `wait for it to finish, or stop process ${holder}; then run again`,
        fields: { path, pid: holder, what },
      });
    }
    rmSync(path, { force: true });
  }
  throw new LockHeldError({
    code: "lock/contended",
    message: `could not take the lock ${path} for ${what}: other processes keep taking it`,
    hint: "run one at a time",
    fields: { path, what },
  });
}

/** The pid in a lock file, or undefined when there is none (or it is unreadable). */
export function lockHolder(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number(readFileSync(path, "utf8").trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Name of a staging folder owned by this process: `PID-label`, so a later sweep knows its owner. */
export function ownedStagingName(label: string): string {
  return `${process.pid}-${label}`;
}

/** The `PID-label` folders under `root` whose process is gone: work killed before it could clean up. */
export function orphanedStaging(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((entry) => {
      const owner = /^(\d+)-/.exec(entry);
      return owner !== null && !processAlive(Number(owner[1]));
    })
    .map((entry) => join(root, entry));
}

/**
 * Removes the orphaned staging folders under `root` (see orphanedStaging); folders of live
 * processes and names of any other form are left alone. Returns the paths removed.
 */
export function sweepOrphanedStaging(root: string): string[] {
  const removed = orphanedStaging(root);
  for (const path of removed) rmSync(path, { recursive: true, force: true });
  return removed;
}
