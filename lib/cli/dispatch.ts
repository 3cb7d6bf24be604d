import { COMMANDS, commandList } from "./registry.js";

/**
 * A command line that cannot run as given (CliError "cli/...", OverrideError "set/..."), told by
 * code: a command module loaded twice (one copy per module loader) has its own error classes.
 */
function isUsageError(error: unknown): error is Error & { code: string; hint?: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === "string" && /^(cli|set)\//.test(code);
}

/**
 * `./lab COMMAND [ARGS]` after set-up: looks the command up in the registry and runs it.
 * Exit codes: 0 done, 1 failed, 2 a command line that cannot run (unknown command or option,
 * missing argument, a --set refused), always before any work.
 */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? args[0] : undefined;
    if (topic === undefined) {
      process.stdout.write(commandList());
      return 0;
    }
    if (!COMMANDS[topic]) {
      process.stderr.write(`no help on "${topic}": there is no such command\n\n${commandList()}`);
      return 2;
    }
    return runCli([topic, "--help"]);
  }
  const entry = COMMANDS[name];
  if (!entry) {
    process.stderr.write(`unknown command "${name}"\n\n${commandList()}`);
    return 2;
  }
  try {
    return await (await entry.load()).default(args);
  } catch (error) {
    if (isUsageError(error)) {
      console.error(`${error.name} [${error.code}]: ${error.message}${error.hint ? `\n  fix: ${error.hint}` : ""}`);
      return 2;
    }
    throw error;
  }
}
