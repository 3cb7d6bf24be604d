import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fromRoot } from "../../files.js";
import { LabError } from "../../errors.js";

/** ./lab bench [NAME...] [--quick]: runs bench/NAME.bench.ts files (all by default); each prints tables of ratios. */
export default async function main(args: string[]): Promise<number> {
  const names = args.filter((a) => !a.startsWith("--"));
  const flags = args.filter((a) => a.startsWith("--"));
  const all = readdirSync(fromRoot("bench")).filter((f) => f.endsWith(".bench.ts")).map((f) => f.replace(/\.bench\.ts$/, "")).sort();
  const chosen = names.length ? names : all;
  for (const name of chosen) {
    if (!all.includes(name)) {
      throw new LabError({ code: "cli/unknown-benchmark", message: `no benchmark named "${name}"`, hint: `use one of: ${all.join(", ")}`, fields: { name, known: all } });
    }
  }
  let failed = 0;
  for (const name of chosen) {
    console.log(`\n### bench/${name}.bench.ts`);
    const result = spawnSync(process.execPath, ["--import", "tsx", fromRoot("bench", `${name}.bench.ts`), ...flags], { cwd: fromRoot(), stdio: "inherit" });
    if (result.status !== 0) failed++;
  }
  return failed ? 1 : 0;
}
