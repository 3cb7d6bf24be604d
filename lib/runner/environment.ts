import { existsSync } from "node:fs";
import { arch, cpus, loadavg, platform, release, totalmem } from "node:os";
import { fromRoot, sha256File } from "../files.js";
import { gitInfo, packageVersion } from "../provenance.js";
import { workerCount } from "../worker-pool.js";

export interface EnvironmentManifest {
  git: { commit: string; dirty: boolean };
  lockfileSha256: string;
  versions: Record<string, string>;
  machine: { platform: string; release: string; arch: string; cpuModel: string; cores: number; memoryGiB: number; loadAverage1m: number };
  /** Worker threads for independent jobs (LAB_WORKERS; 1: in process): the results do not depend on it, the wall time does. */
  workers: number;
}

/**
 * What a reviewer needs to read numbers beside: the code (commit, lockfile), the runtime and
 * libraries, and the machine, with its load when the run started (timings on a shared machine
 * are only comparable at a similar load).
 */
export function environmentManifest(): EnvironmentManifest {
  const lock = fromRoot("package-lock.json");
  const cpu = cpus();
  return {
    git: gitInfo(),
    lockfileSha256: existsSync(lock) ? sha256File(lock) : "no package-lock.json",
    versions: {
      node: process.versions.node,
      v8: process.versions.v8,
      tfjs: packageVersion("@tensorflow/tfjs"),
      tslab: packageVersion("tslab"),
      hardhat: packageVersion("hardhat"),
      ethers: packageVersion("ethers"),
    },
    machine: {
      platform: platform(),
      release: release(),
      arch: arch(),
      cpuModel: cpu[0]?.model.trim() ?? "unknown",
      cores: cpu.length,
      memoryGiB: Number((totalmem() / 1024 ** 3).toFixed(1)),
      loadAverage1m: Number(loadavg()[0].toFixed(2)),
    },
    workers: workerCount(),
  };
}
