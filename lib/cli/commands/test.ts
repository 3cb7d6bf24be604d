import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { stripVTControlCharacters } from "node:util";
import { verifySettlement } from "../../chain/verify-run.js";
import { describeError, problemParagraph } from "../../errors.js";
import { fromRoot } from "../../files.js";
import { textTable } from "../../notebook/table.js";
import { checkReports } from "../../runner/report-check.js";
import { planReproduction, reproduce } from "../../runner/reproduce-experiments.js";
import { type NotebookPlan, preflight, runNotebook } from "../../runner/run-notebooks.js";
import { defineCommand } from "../command.js";
import { lintReport, ruleSummary, SOLIDITY_SOURCES } from "./lint.js";

interface StepResult {
  step: string;
  passed: number;
  failed: number;
  seconds: number;
}

/** Runs a command, streaming its output, and returns what it printed. */
function sh(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: fromRoot(), env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const forward = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      output += chunk;
      stream.write(chunk);
    };
    child.stdout.on("data", forward(process.stdout));
    child.stderr.on("data", forward(process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

/** Mocha's closing lines ("N passing", "N failing"); a crash before them counts as one failure. */
function mochaCounts(output: string, code: number): { passed: number; failed: number } {
  const plain = stripVTControlCharacters(output);
  const passing = [...plain.matchAll(/^\s*(\d+) passing/gm)].reduce((s, m) => s + Number(m[1]), 0);
  const failing = [...plain.matchAll(/^\s*(\d+) failing/gm)].reduce((s, m) => s + Number(m[1]), 0);
  return { passed: passing, failed: failing + (code !== 0 && failing === 0 ? 1 : 0) };
}

export default defineCommand({
  name: "test",
  usage: "[--skip-notebooks]",
  description:
    "Runs, in order: the type-check (tsc --noEmit), format and lint (Biome, one count per file), solhint over the\n" +
    "contracts, the unit tests (mocha + chai), the contract tests (Hardhat's mocha runner), every experiment spec's quick claims\n" +
    "(./lab reproduce --quick, the step cache bypassed), and every notebook in quick mode, each\n" +
    "run verified against its settlement, and each quick-mode report opened in headless Chromium with the network\n" +
    "blocked (requests, figure and axis titles, formulas, width). Prints one table and ends with the line\n" +
    '"N passed, N failed".',
  options: { "skip-notebooks": { type: "boolean", doc: "leave out the quick reproduction and the notebooks (minutes each)" } },
  examples: ["./lab test", "./lab test --skip-notebooks"],
  async run({ values }) {
    const results: StepResult[] = [];
    const node = process.execPath;
    const bin = (name: string) => fromRoot("node_modules", ".bin", name);
    const timed = async (step: string, fn: () => Promise<{ passed: number; failed: number }>) => {
      const started = Date.now();
      console.log(`\n━━ ${step} ━━`);
      const counts = await fn();
      results.push({ step, ...counts, seconds: (Date.now() - started) / 1000 });
    };

    await timed("type-check (tsc)", async () => {
      const { code } = await sh(bin("tsc"), ["-p", "tsconfig.json", "--noEmit"]);
      return code === 0 ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 };
    });
    await timed("format and lint (biome)", async () => {
      const report = lintReport();
      if (report.failing.size) console.log(`${report.failing.size} of ${report.checked} files need changes (./lab lint for details, ./lab lint --fix for the safe fixes):\n${ruleSummary(report)}`);
      else console.log(`${report.checked} files formatted and lint-clean`);
      return { passed: report.checked - report.failing.size, failed: report.failing.size };
    });
    await timed("contract lint (solhint)", async () => {
      const { code, output } = await sh(bin("solhint"), ["--max-warnings", "0", SOLIDITY_SOURCES]);
      if (code !== 0) console.log(output.trim());
      return { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1 };
    });
    await timed("unit tests (mocha)", async () => {
      const { code, output } = await sh(node, [fromRoot("node_modules", "mocha", "bin", "mocha.js"), "test/unit/**/*.test.ts"]);
      return mochaCounts(output, code);
    });
    await timed("contract tests (hardhat test mocha)", async () => {
      const { code, output } = await sh(bin("hardhat"), ["test", "mocha"]);
      return mochaCounts(output, code);
    });
    const reports: Array<{ notebook: string; path: string; source: string }> = [];
    if (!values["skip-notebooks"]) {
      await timed("experiment claims (reproduce --quick)", async () => {
        const out = fromRoot(".lab", "test-reproduce");
        rmSync(out, { recursive: true, force: true });
        const { reproduction } = await reproduce(planReproduction({ names: [], quick: true, sets: [] }), { quick: true, useCache: false, out });
        const judged = reproduction.experiments.filter((o) => o.judged);
        const held = judged.reduce((n, o) => n + o.claims.filter((c) => c.holds).length, 0);
        console.log(`  ${held} quick claims hold, ${reproduction.failures} failed: ${out}/report.html`);
        return { passed: held, failed: reproduction.failures };
      });
      await timed("notebooks (quick mode)", async () => {
        const runsDir = fromRoot(".lab", "test-runs");
        rmSync(runsDir, { recursive: true, force: true });
        const options = { names: [], quick: true, sets: {}, cellTimeoutS: 900, runsDir };
        let passed = 0;
        let failed = 0;
        let plans: NotebookPlan[];
        try {
          plans = (await preflight(options)).plans;
        } catch (error) {
          console.log(problemParagraph(error));
          return { passed: 0, failed: 1 };
        }
        for (const plan of plans) {
          const outcome = await runNotebook(plan, options);
          try {
            if (!outcome.ok) throw new Error(outcome.error);
            const v = await verifySettlement(outcome.runDir!);
            console.log(`  ✓ ${outcome.notebook} (${outcome.seconds.toFixed(1)} s), settlement verified: ${v.settlement.txHash}`);
            reports.push({ notebook: outcome.notebook, path: `${outcome.runDir}/report.html`, source: plan.notebook.path });
            passed++;
          } catch (error) {
            console.log(`  ✗ ${describeError(error)}`);
            failed++;
          }
        }
        return { passed, failed };
      });
      await timed("reports in Chromium (network blocked)", () => checkReports(reports));
    }
    console.log(
      `\n${textTable(
        results.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(1)) })),
        1,
      )}\n`,
    );
    const passed = results.reduce((s, r) => s + r.passed, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    console.log(`${passed} passed, ${failed} failed`);
    return failed === 0 && passed > 0 ? 0 : 1;
  },
});
