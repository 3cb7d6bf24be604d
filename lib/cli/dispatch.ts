import { describeError } from "../errors.js";
import { OverrideError } from "../overrides.js";
import { CliError } from "./command.js";
import { COMMANDS, commandList } from "./registry.js";

/**
 * `./lab COMMAND [ARGS]` after set-up: looks the command up in the registry and runs it.
 * Exit codes: 0 done, 1 failed, 2 a command line that cannot run (unknown command or option,
 * missing argument, a --set refused), always before any work.
 */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? args[0] : undefined;
    if (topic && COMMANDS[topic]?.load) return runCli([topic, "--help"]);
    process.stdout.write(commandList());
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`unknown command "${name}"\n\n${commandList()}`);
    return 2;
  }
  if (!entry.load) {
    process.stderr.write(`"${name}" is run by the entry script: ./lab ${name}\n`);
    return 2;
  }
  try {
    return await (await entry.load()).default(args);
  } catch (error) {
    if (error instanceof CliError || error instanceof OverrideError) {
      console.error(describeError(error));
      return 2;
    }
    throw error;
  }
}
