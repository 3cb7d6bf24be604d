// Runs `./lab run ARGS` in this process, with progress lines every 200 ms: the runner a test can kill.
import { parseRunCommandLine } from "../../lib/cli/commands/run.js";
import { runAll } from "../../lib/runner/run-notebooks.js";

const options = { ...parseRunCommandLine(process.argv.slice(2)), progress: { intervalMs: 200 } };
console.log(`runner ${process.pid}`);
runAll(options).then((outcomes) => {
  process.exitCode = outcomes.every((o) => o.ok) ? 0 : 1;
});
