import { parseRunArgs, runAll, summaryTable } from "../../runner/run.js";

/** ./lab run [NAME...] [--quick] [--set key=value ...]: executes notebooks headless and settles each run. */
export default async function main(args: string[]): Promise<number> {
  const options = parseRunArgs(args);
  const outcomes = await runAll(options);
  console.log(`\n${summaryTable(outcomes)}`);
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`\n${outcomes.length - failed} notebook(s) ran, ${failed} failed; run folders in ${options.runsDir}`);
  return failed === 0 ? 0 : 1;
}
