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
import { compareWithWasm, planWebGpuProof, runOnWebGpu, webGpuProofSkipReason } from "../../runner/webgpu-proof.js";
import { CliError, defineCommand } from "../command.js";
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

/** Runs a step of the suite under its heading and adds its counts and seconds to `results`. */
function stepTimer(results: StepResult[]) {
  return async (step: string, fn: () => Promise<{ passed: number; failed: number }>): Promise<void> => {
    const started = Date.now();
    console.log(`\n━━ ${step} ━━`);
    const counts = await fn();
    results.push({ step, ...counts, seconds: (Date.now() - started) / 1000 });
  };
}

/** The table of steps and the closing line "N passed, N failed" (", N skipped" when any was); the exit code. */
function summary(results: StepResult[], skipped = 0): number {
  console.log(
    `\n${textTable(
      results.map((r) => ({ ...r, seconds: Number(r.seconds.toFixed(1)) })),
      1,
    )}\n`,
  );
  const passed = results.reduce((s, r) => s + r.passed, 0);
  const failed = results.reduce((s, r) => s + r.failed, 0);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  return failed === 0 && (passed > 0 || skipped > 0) ? 0 : 1;
}

/** Where ./lab test lands its notebook runs, kept until the next ./lab test: the WebGPU proof compares with them. */
const TEST_RUNS = fromRoot(".lab", "test-runs");

/**
 * ./lab test --webgpu: notebooks 03–06 on webgpu (llvmpipe where there is no GPU), settled and
 * verified, and their figures compared with ./lab test's wasm runs (lib/runner/webgpu-proof.ts).
 * Skipped, saying why, only where Mesa's EGL and GL ES are missing.
 */
async function webGpuProof(fresh: boolean): Promise<number> {
  const options = { dir: fromRoot(".lab", "test-webgpu"), referenceRuns: TEST_RUNS, cellTimeoutS: 1800, fresh };
  const results: StepResult[] = [];
  const timed = stepTimer(results);
  let plans: NotebookPlan[];
  try {
    plans = await planWebGpuProof(options);
  } catch (error) {
    console.log(problemParagraph(error));
    return summary([{ step: "WebGPU proof (plan)", passed: 0, failed: 1, seconds: 0 }]);
  }
  const skip = webGpuProofSkipReason();
  if (skip) {
    console.log(`\n━━ notebooks on webgpu (quick mode) ━━\n  skipped: ${plans.length} notebooks: ${skip}`);
    return summary(results, plans.length);
  }
  let runs = new Map<string, string>();
  await timed("notebooks on webgpu (quick mode, llvmpipe where there is no GPU)", async () => {
    const outcome = await runOnWebGpu(plans, options);
    runs = outcome.runs;
    return { passed: outcome.passed, failed: outcome.failed };
  });
  await timed("recorded figures, webgpu vs wasm (same seed)", () => compareWithWasm(plans, runs, options));
  return summary(results);
}

export default defineCommand({
  name: "test",
  usage: "[--skip-notebooks | --webgpu [--fresh-cache]]",
  description:
    "Runs, in order: the type-check (tsc --noEmit), format and lint (Biome, one count per file), solhint over the\n" +
    "contracts, the unit tests (mocha + chai), the contract tests (Hardhat's mocha runner), every experiment spec's quick claims\n" +
    "(./lab reproduce --quick, the step cache bypassed), and every notebook in quick mode, each\n" +
    "run verified against its settlement, and each quick-mode report opened in headless Chromium with the network\n" +
    "blocked (requests, figure and axis titles, formulas, width). Prints one table and ends with the line\n" +
    '"N passed, N failed".\n\n' +
    "With --webgpu it runs instead the WebGPU proof: notebooks 03 to 06 in quick mode with LAB_TF_BACKEND=webgpu\n" +
    "(Mesa's llvmpipe where there is no GPU) and a cache of their own (a copy of the lab's; --fresh-cache: empty), each\n" +
    "run verified against its settlement; then every recorded figure compared with the wasm run of the same commit and\n" +
    "seed that ./lab test left in .lab/test-runs/ (run here when there is none), under the tolerances of\n" +
    "lib/runner/backend-tolerances.ts. Skipped, saying why, only where Mesa's EGL and GL ES cannot be installed. Ends\n" +
    'with "N passed, N failed" too (", N skipped" when skipped).',
  options: {
    "skip-notebooks": { type: "boolean", doc: "leave out the quick reproduction and the notebooks (minutes each)" },
    webgpu: { type: "boolean", doc: "only the WebGPU proof: notebooks 03-06 on webgpu, figures compared with wasm's" },
    "fresh-cache": { type: "boolean", doc: "with --webgpu: start its cache empty (base models and ground truths computed on webgpu too)" },
  },
  examples: ["./lab test", "./lab test --skip-notebooks", "./lab test --webgpu", "./lab test --webgpu --fresh-cache"],
  async run({ values }) {
    if (values.webgpu && values["skip-notebooks"]) {
      throw new CliError({
        code: "cli/conflicting-options",
        message: "./lab test --webgpu runs notebooks only, and --skip-notebooks leaves them out",
        hint: "keep one of --webgpu and --skip-notebooks",
        fields: { command: "test", options: ["--webgpu", "--skip-notebooks"] },
      });
    }
    if (values["fresh-cache"] && !values.webgpu) {
      throw new CliError({
        code: "cli/conflicting-options",
        message: "./lab test --fresh-cache applies to the WebGPU proof only",
        hint: "add --webgpu, or leave --fresh-cache out",
        fields: { command: "test", options: ["--fresh-cache"] },
      });
    }
    if (values.webgpu) return webGpuProof(values["fresh-cache"]);
    const results: StepResult[] = [];
    const node = process.execPath;
    const bin = (name: string) => fromRoot("node_modules", ".bin", name);
    const timed = stepTimer(results);

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
        const runsDir = TEST_RUNS;
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
    return summary(results);
  },
});
