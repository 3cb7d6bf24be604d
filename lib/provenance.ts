import { execFileSync } from "node:child_process";
import { fromRoot, readJson } from "./files.js";

/**
 * Where a run's code came from, for its manifest: the commit and the installed versions. Headless
 * runs (lib/runner) and live ones (settle() in lib/notebook) record the same.
 */

/** The checkout a run came from: commit, and whether files differed from it. */
export function gitInfo(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: fromRoot(), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: fromRoot(), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
    return { commit, dirty };
  } catch {
    return { commit: "unknown (not a git checkout)", dirty: false };
  }
}

/** The installed version of an npm package, or "not installed". */
export function packageVersion(name: string): string {
  try {
    return readJson<{ version: string }>(fromRoot("node_modules", name, "package.json")).version;
  } catch {
    return "not installed";
  }
}

/** The versions a notebook run's manifest records. */
export function runVersions(): Record<string, string> {
  return { node: process.versions.node, tslab: packageVersion("tslab"), tfjs: packageVersion("@tensorflow/tfjs"), hardhat: packageVersion("hardhat"), ethers: packageVersion("ethers") };
}
