import { problemParagraph } from "../../errors.js";
import { OverrideError, splitSetPair } from "../../overrides.js";
import { type RunOptions, type RunOutcome, runAll, runsDir, summaryTable } from "../../runner/run-notebooks.js";
import { CliError, type CommandSpec, defineCommand, parseCommandArgs } from "../command.js";

const options = {
  quick: { type: "boolean", doc: "quick mode (--set quick=true): the small runs CI makes" },
  set: { type: "string", multiple: true, value: "key=value", doc: "override a parameter of the notebooks' `parameters` cell, typed by its default" },
  "cell-timeout": { type: "string", value: "SECONDS", doc: "seconds a single cell may run (default 1800)" },
} as const;

/** The run's options from the parsed command line; `--set` pairs are split here and typed per notebook. */
export function runOptions(values: { quick: boolean; set: string[]; "cell-timeout"?: string }, names: string[]): RunOptions {
  const sets: Record<string, string> = {};
  for (const pair of values.set) {
    const [key, value] = splitSetPair(pair);
    if (key in sets) throw new OverrideError({ code: "set/repeated-key", message: `--set ${key} is given twice`, hint: `keep one --set ${key}=...`, fields: { key, where: "./lab run" } });
    sets[key] = value;
  }
  const timeout = values["cell-timeout"] === undefined ? 1800 : Number(values["cell-timeout"]);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new CliError({
      code: "cli/bad-option-value",
      message: `--cell-timeout must be a positive number of seconds, got "${values["cell-timeout"]}"`,
      hint: "e.g. --cell-timeout 900",
      fields: { command: "run", option: "--cell-timeout" },
    });
  }
  return { names, quick: values.quick, sets, cellTimeoutS: timeout, runsDir: runsDir() };
}

const command = defineCommand({
  name: "run",
  usage: "[NAME...] [--quick] [--set key=value ...] [--cell-timeout SECONDS]",
  description:
    "Executes the named notebooks (00, 00-tour or tour; all by default) headless, in order. Each run that\n" +
    "finishes and settles lands in experiments/runs/RUN-ID/; a failed one leaves nothing. Every --set key\n" +
    "and value is checked against the notebooks' parameters, and the chain (LAB_RPC_URL: a URL answering within\n" +
    "5 s, LAB_CHAIN_ID, a usable key) before anything runs; a problem there is one paragraph and exit code 2.",
  options,
  positionals: { name: "NAME" },
  examples: ["./lab run", "./lab run 05 --quick", "./lab run 01 03 --set seed=7"],
  async run({ values, positionals }) {
    const run = runOptions(values, positionals);
    let outcomes: RunOutcome[];
    try {
      outcomes = await runAll(run);
    } catch (error) {
      // runAll throws only from its preflight, before the first cell: what is wrong and the fix.
      console.error(problemParagraph(error));
      return 2;
    }
    console.log(`\n${summaryTable(outcomes)}`);
    const failed = outcomes.filter((o) => !o.ok).length;
    console.log(`\n${outcomes.length - failed} notebook(s) ran, ${failed} failed; run folders in ${run.runsDir}`);
    return failed === 0 ? 0 : 1;
  },
});

/** `./lab run`'s command line as run options: what the command runs, for tests and callers. */
export function parseRunCommandLine(args: string[]): RunOptions {
  const { values, positionals } = parseCommandArgs(command.spec as unknown as CommandSpec<typeof options>, args);
  return runOptions(values, positionals);
}

export default command;
