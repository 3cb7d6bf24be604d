import { spawn, spawnSync } from "node:child_process";
import { fromRoot } from "../../files.js";
import { defineCommand } from "../command.js";

/**
 * Format and lint with Biome, configured once in biome.jsonc (which files, formatter settings,
 * recommended lint rules), and the contracts with solhint (.solhint.json). Warnings count as
 * failures: the code base is kept clean, not merely error-free.
 */
export interface LintReport {
  /** Files Biome checked (the configuration file included). */
  checked: number;
  /** Files with at least one error or warning, and the rules each broke ("format" for layout). */
  failing: Map<string, string[]>;
  /** Findings by rule across all files. */
  byRule: Map<string, number>;
}

interface BiomeJson {
  summary: { changed: number; unchanged: number };
  diagnostics: { severity: string; category?: string; location?: { path?: string | { file: string } } }[];
}

/** Counts Biome's JSON report: which files fail and on which rules. */
export function readLintReport(json: string): LintReport {
  const report = JSON.parse(json) as BiomeJson;
  const failing = new Map<string, string[]>();
  const byRule = new Map<string, number>();
  for (const d of report.diagnostics) {
    if (d.severity !== "error" && d.severity !== "warning") continue;
    const path = d.location?.path;
    const file = typeof path === "string" ? path : (path?.file ?? "(configuration)");
    const rule = d.category ?? "unknown";
    failing.set(file, [...(failing.get(file) ?? []), rule]);
    byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
  }
  return { checked: report.summary.changed + report.summary.unchanged, failing, byRule };
}

function biome(): string {
  return fromRoot("node_modules", ".bin", "biome");
}

/** The Solidity sources solhint checks (.solhint.json). */
export const SOLIDITY_SOURCES = "contracts/**/*.sol";

/** Runs solhint over the contracts, warnings failing too, printing its findings; returns its exit code. */
export function solhint(): Promise<number> {
  return new Promise<number>((resolve) => {
    spawn(fromRoot("node_modules", ".bin", "solhint"), ["--max-warnings", "0", SOLIDITY_SOURCES], { cwd: fromRoot(), stdio: "inherit" }).on("close", (c) => resolve(c ?? 1));
  });
}

/** Runs `biome check` over the configured files (or `paths`) and counts the result, printing nothing. */
export function lintReport(options: { cwd?: string; paths?: string[] } = {}): LintReport {
  const result = spawnSync(biome(), ["check", "--error-on-warnings", "--max-diagnostics=none", "--reporter=json", ...(options.paths ?? [])], {
    cwd: options.cwd ?? fromRoot(),
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const json = result.stdout.slice(result.stdout.indexOf("{"));
  if (!json.startsWith("{")) throw new Error(`biome gave no report (exit ${result.status}): ${result.stderr.trim().split("\n").slice(0, 5).join(" ")}`);
  return readLintReport(json);
}

/** One line per rule, most frequent first: what is left to fix. */
export function ruleSummary(report: LintReport): string {
  return [...report.byRule.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([rule, n]) => `  ${String(n).padStart(5)}  ${rule}`)
    .join("\n");
}

export default defineCommand({
  name: "lint",
  usage: "[--fix] [PATH...]",
  description:
    "Checks formatting and lint rules with Biome (biome.jsonc: lib/, test/, bench/), then the contracts with\n" +
    "solhint (.solhint.json: contracts/). Warnings fail too. --fix writes Biome's layout and safe fixes; what is\n" +
    "left needs a hand.",
  options: { fix: { type: "boolean", doc: "apply the formatter and the safe fixes (biome check --write)" } },
  positionals: { name: "PATH" },
  examples: ["./lab lint", "./lab lint --fix", "./lab lint lib/cli"],
  async run({ values, positionals }) {
    const args = ["check", "--error-on-warnings", ...(values.fix ? ["--write"] : []), ...positionals];
    const code = await new Promise<number>((resolve) => {
      spawn(biome(), args, { cwd: fromRoot(), stdio: "inherit" }).on("close", (c) => resolve(c ?? 1));
    });
    if (code !== 0) {
      const report = lintReport({ paths: positionals });
      console.log(`\n${report.failing.size} of ${report.checked} files need changes; by rule:\n${ruleSummary(report)}`);
    }
    const solidity = positionals.length === 0 ? await solhint() : 0;
    return code === 0 && solidity === 0 ? 0 : 1;
  },
});
