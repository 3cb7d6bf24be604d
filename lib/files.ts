import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LabError } from "./errors.js";

/** A path beside `path` that no other writer picks: where a file or folder is built before its rename. */
export function stagingPathBeside(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

/** The disk a file was being written to is full. */
export class DiskFullError extends LabError {}

/** Free bytes on the file system holding `path` (its nearest existing folder), or undefined. */
export function freeBytes(path: string): number | undefined {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/**
 * The refusal for a write that found the disk full: one paragraph naming the folder, how much the
 * write needed and how much is free, and what frees space.
 */
export function diskFull(folder: string, bytesNeeded: number, what = "a file"): DiskFullError {
  const free = freeBytes(folder) ?? 0;
  return new DiskFullError({
    code: "files/disk-full",
    message: `the disk holding ${folder} is full: writing ${what} needs ${mib(bytesNeeded)} and ${mib(free)} is free`,
    hint: `free at least ${mib(Math.max(bytesNeeded - free, 0) + 2 ** 20)} on that disk (./lab clean --dry-run lists the caches and stopped runs the lab can remove), or point LAB_RUNS_DIR or LAB_CACHE_DIR at a disk with room; then run again`,
    fields: { folder, bytesNeeded, bytesFree: free },
  });
}

/** True for the error a write gets on a full disk (or a full quota). */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === "ENOSPC" || code === "EDQUOT";
}

/** Writes a file so that readers see the old content or the new, never half of either; a full disk is a DiskFullError. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = stagingPathBeside(path);
  try {
    writeFileSync(temp, data);
  } catch (error) {
    rmSync(temp, { force: true });
    if (isDiskFull(error)) throw diskFull(dirname(path), typeof data === "string" ? Buffer.byteLength(data) : data.byteLength, basename(path));
    throw error;
  }
  renameSync(temp, path);
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Puts the finished folder `staged` in place of `dest`. An older `dest` is first renamed aside
 * and removed after, so a reader finds the old folder or the new one, never a mixture.
 */
export function commitDir(staged: string, dest: string): void {
  mkdirSync(dirname(dest), { recursive: true });
  const old = existsSync(dest) ? `${stagingPathBeside(dest)}.old` : undefined;
  if (old) renameSync(dest, old);
  try {
    renameSync(staged, dest);
  } catch (error) {
    if (old) renameSync(old, dest);
    throw error;
  }
  if (old) rmSync(old, { recursive: true, force: true });
}

/**
 * Writes a folder (file name, relative paths allowed, to content) atomically: built beside its
 * destination, then renamed into place by commitDir.
 */
export function writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): void {
  const staged = stagingPathBeside(dir);
  try {
    writeStaged(staged, dir, files);
    commitDir(staged, dir);
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

/** Writes `files` into the staging folder `staged` of `dir`; a full disk is refused naming `dir`'s folder and the bytes. */
function writeStaged(staged: string, dir: string, files: Record<string, Uint8Array | string>): void {
  mkdirSync(staged, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(dirname(join(staged, name)), { recursive: true });
    try {
      writeFileSync(join(staged, name), data);
    } catch (error) {
      if (!isDiskFull(error)) throw error;
      const total = Object.values(files).reduce((sum, d) => sum + (typeof d === "string" ? Buffer.byteLength(d) : d.byteLength), 0);
      throw diskFull(dirname(dir), total, `the folder ${basename(dir)}`);
    }
  }
}

/**
 * Writes a folder atomically unless one is already in place, and answers whether it wrote it: for
 * a cache entry that is a function of its key (a base model pretrained from its seed), which
 * concurrent writers (two experiments in lanes) may finish at once. The first one in place is
 * kept and the others' copies dropped, so a reader never meets the folder half-replaced.
 */
export function writeDirOnce(dir: string, files: Record<string, Uint8Array | string>): boolean {
  const staged = stagingPathBeside(dir);
  try {
    writeStaged(staged, dir, files);
    try {
      // renaming onto a folder that has files fails: another writer's is kept
      renameSync(staged, dir);
      return true;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTEMPTY" || code === "EEXIST") return false;
      throw error;
    }
  } finally {
    rmSync(staged, { recursive: true, force: true });
  }
}

/** Moves a file or folder, copying where a rename cannot cross file systems. */
export function movePath(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  try {
    renameSync(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
    cpSync(from, to, { recursive: true });
    rmSync(from, { recursive: true, force: true });
  }
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

export function sha256File(path: string): string {
  return sha256Hex(readFileSync(path));
}

let cachedRoot: string | undefined;

/** The repository root: the folder holding this project's package.json, found from this file. */
export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const name = readJson<{ name?: string }>(candidate).name;
      if (name === "openledger-lab") {
        cachedRoot = dir;
        return dir;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) {
      throw new LabError({
        code: "files/no-project-root",
        message: `cannot find the openledger-lab project root above ${import.meta.url}`,
        hint: "run the lab from its repository (the folder whose package.json is named openledger-lab)",
        fields: { from: import.meta.url },
      });
    }
    dir = parent;
  }
}

export function fromRoot(...parts: string[]): string {
  return resolve(projectRoot(), ...parts);
}
