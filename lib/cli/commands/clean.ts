import { rmSync } from "node:fs";
import { relative } from "node:path";
import { parseArgs } from "node:util";
import { CACHES, cacheDir, formatBytes, legacyCacheDir, pathBytes, type CacheName } from "../../cache.js";
import { LabError } from "../../errors.js";
import { fromRoot } from "../../files.js";
import { orphanedStaging } from "../../lock.js";
import { textTable } from "../../notebook/table.js";

const USAGE = `usage: ./lab clean [CACHE...] [--dry-run]

Frees what the lab can rebuild: the caches (all, or those named) and staging folders of runs
whose process is gone. Run folders (experiments/runs/RUN-ID) and a stopped Factory run's
resumable state are kept.

  --dry-run   say what would be freed, remove nothing

caches:
${Object.entries(CACHES).map(([name, what]) => `  ${name.padEnd(16)} ${what}`).join("\n")}`;

interface Target { what: string; path: string; bytes: number }

/** What a clean of these caches would remove: each cache folder, its former home, orphaned staging. */
export function cleanTargets(names: CacheName[]): Target[] {
  const targets: Target[] = [];
  for (const name of names) {
    targets.push({ what: name, path: cacheDir(name), bytes: pathBytes(cacheDir(name)) });
    targets.push({ what: `${name} (former home)`, path: legacyCacheDir(name), bytes: pathBytes(legacyCacheDir(name)) });
  }
  for (const path of orphanedStaging(fromRoot("experiments", ".staging"))) targets.push({ what: "staging of a run that is gone", path, bytes: pathBytes(path) });
  return targets.filter((t) => t.bytes > 0);
}

/** ./lab clean [CACHE...] [--dry-run]: removes caches and orphaned staging, and says how much it freed. */
export default async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { "dry-run": { type: "boolean" }, help: { type: "boolean", short: "h" } } });
  if (values.help) { console.log(USAGE); return 0; }
  const unknown = positionals.filter((name) => !(name in CACHES));
  if (unknown.length) {
    throw new LabError({
      code: "cli/unknown-cache",
      message: `no cache named ${unknown.map((n) => `"${n}"`).join(", ")}`,
      hint: `name one of: ${Object.keys(CACHES).join(", ")} (or none, for all)`,
      fields: { unknown },
    });
  }
  const names = (positionals.length ? positionals : Object.keys(CACHES)) as CacheName[];
  const targets = cleanTargets(names);
  const total = targets.reduce((sum, t) => sum + t.bytes, 0);
  if (targets.length === 0) { console.log("nothing to free"); return 0; }
  console.log(textTable(targets.map((t) => ({ what: t.what, path: relative(fromRoot(), t.path) || t.path, size: formatBytes(t.bytes) })), 1));
  if (values["dry-run"]) { console.log(`would free ${formatBytes(total)} (dry run: nothing removed)`); return 0; }
  for (const t of targets) rmSync(t.path, { recursive: true, force: true });
  console.log(`freed ${formatBytes(total)}`);
  return 0;
}
