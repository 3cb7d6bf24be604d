import { rmSync } from "node:fs";
import { relative } from "node:path";
import { CACHES, type CacheName, cacheDir, formatBytes, legacyCacheDir, pathBytes } from "../../cache.js";
import { fromRoot } from "../../files.js";
import { stoppedFactoryRuns } from "../../intelligence/factory/state.js";
import { orphanedStaging } from "../../lock.js";
import { textTable } from "../../notebook/table.js";
import { stagingRoot } from "../../run-context.js";
import { CliError, defineCommand } from "../command.js";

interface Target {
  what: string;
  path: string;
  bytes: number;
}

/**
 * What a clean of these caches would remove: each cache folder, its former home under
 * experiments/runs/, orphaned staging, and (with the factory cache) the staging of Factory runs
 * that were stopped, their lock held by no live process.
 */
export function cleanTargets(names: CacheName[]): Target[] {
  const targets: Target[] = [];
  for (const name of names) {
    targets.push({ what: name, path: cacheDir(name), bytes: pathBytes(cacheDir(name)) });
    targets.push({ what: `${name} (former home)`, path: legacyCacheDir(name), bytes: pathBytes(legacyCacheDir(name)) });
  }
  for (const path of orphanedStaging(stagingRoot())) targets.push({ what: "staging of a run that is gone", path, bytes: pathBytes(path) });
  if (names.includes("factory")) {
    for (const run of stoppedFactoryRuns()) {
      targets.push({ what: `stopped Factory run (${run.pid ? `process ${run.pid} is gone` : "no lock"}; ./lab factory SPEC would resume it)`, path: run.path, bytes: pathBytes(run.path) });
    }
  }
  return targets.filter((t) => t.bytes > 0);
}

export default defineCommand({
  name: "clean",
  usage: "[CACHE...] [--dry-run]",
  description:
    "Frees what the lab can rebuild: the caches (all, or those named) and staging folders of runs whose\n" +
    "process is gone, and says how much. A Factory run that was stopped (killed, its lock held by no live\n" +
    "process) is listed with its size under the factory cache: ./lab factory SPEC would resume it, ./lab clean\n" +
    "or ./lab clean factory frees it. Run folders (experiments/runs/RUN-ID) are kept.",
  options: { "dry-run": { type: "boolean", doc: "say what would be freed, remove nothing" } },
  positionals: { name: "CACHE" },
  examples: ["./lab clean --dry-run", "./lab clean", "./lab clean gradient-store"],
  details: () =>
    `caches (under ${relative(fromRoot(), cacheDir("base-models", "..")) || cacheDir("base-models", "..")}):\n${Object.entries(CACHES)
      .map(([name, what]) => `  ${name.padEnd(16)} ${what}`)
      .join("\n")}`,
  async run({ values, positionals }) {
    const unknown = positionals.filter((name) => !(name in CACHES));
    if (unknown.length) {
      throw new CliError({
        code: "cli/unknown-cache",
        message: `no cache named ${unknown.map((n) => `"${n}"`).join(", ")}`,
        hint: `name one of: ${Object.keys(CACHES).join(", ")} (or none, for all)`,
        fields: { command: "clean", unknown },
      });
    }
    const names = (positionals.length ? positionals : Object.keys(CACHES)) as CacheName[];
    const targets = cleanTargets(names);
    if (targets.length === 0) {
      console.log("nothing to free");
      return 0;
    }
    const total = targets.reduce((sum, t) => sum + t.bytes, 0);
    console.log(
      textTable(
        targets.map((t) => ({ what: t.what, path: relative(fromRoot(), t.path) || t.path, size: formatBytes(t.bytes) })),
        1,
      ),
    );
    if (values["dry-run"]) {
      console.log(`would free ${formatBytes(total)} (dry run: nothing removed)`);
      return 0;
    }
    for (const t of targets) rmSync(t.path, { recursive: true, force: true });
    console.log(`freed ${formatBytes(total)}`);
    return 0;
  },
});
