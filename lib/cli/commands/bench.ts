import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { fromRoot } from "../../files.js";
import { CliError, defineCommand } from "../command.js";

/** The benchmarks there are: bench/NAME.bench.ts. */
export function benchNames(): string[] {
  return readdirSync(fromRoot("bench"))
    .filter((f) => f.endsWith(".bench.ts"))
    .map((f) => f.replace(/\.bench\.ts$/, ""))
    .sort();
}

/**
 * Node flags of a benchmark's process. openlora: its load run holds the HTTP clients and the server
 * in one process, and V8 grows a fast-allocating heap's young generation to 2 × 64 MB and keeps it,
 * resident memory that no object holds; capped at 16 MB per semi-space, as README's OpenLoRA
 * section advises for a long-running server.
 */
const BENCH_NODE_FLAGS: Record<string, string[]> = { openlora: ["--max-semi-space-size=16"] };

export default defineCommand({
  name: "bench",
  usage: "[NAME...] [--quick]",
  description: "Runs bench/NAME.bench.ts (all by default); each prints tables of ratios measured in the same run.",
  options: { quick: { type: "boolean", doc: "smaller sizes, passed on to each benchmark" } },
  positionals: { name: "NAME" },
  examples: ["./lab bench", "./lab bench attribution", "./lab bench ledger --quick"],
  details: () => `benchmarks: ${benchNames().join(", ")}`,
  async run({ values, positionals }) {
    const all = benchNames();
    const chosen = positionals.length ? positionals : all;
    for (const name of chosen) {
      if (!all.includes(name))
        throw new CliError({ code: "cli/unknown-benchmark", message: `no benchmark named "${name}"`, hint: `use one of: ${all.join(", ")}`, fields: { command: "bench", argument: name, known: all } });
    }
    let failed = 0;
    for (const name of chosen) {
      console.log(`\n### bench/${name}.bench.ts`);
      const result = spawnSync(process.execPath, [...(BENCH_NODE_FLAGS[name] ?? []), "--import", "tsx", fromRoot("bench", `${name}.bench.ts`), ...(values.quick ? ["--quick"] : [])], {
        cwd: fromRoot(),
        stdio: "inherit",
      });
      if (result.status !== 0) failed++;
    }
    return failed ? 1 : 0;
  },
});
