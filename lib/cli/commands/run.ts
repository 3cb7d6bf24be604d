import { problemParagraph } from "../../errors.js";
import { parseRunArgs, runAll, summaryTable, type RunOutcome } from "../../runner/run.js";

/**
 * ./lab run [NAME...] [--quick] [--set key=value ...]: executes notebooks headless and settles each
 * run. A problem found before the first cell (a notebook, a parameter, the chain) is one paragraph
 * and exit code 2.
 */
export default async function main(args: string[]): Promise<number> {
  let options;
  let outcomes: RunOutcome[];
  try {
    options = parseRunArgs(args);
    outcomes = await runAll(options);
  } catch (error) {
    console.error(problemParagraph(error));
    return 2;
  }
  console.log(`\n${summaryTable(outcomes)}`);
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`\n${outcomes.length - failed} notebook(s) ran, ${failed} failed; run folders in ${options.runsDir}`);
  return failed === 0 ? 0 : 1;
}
