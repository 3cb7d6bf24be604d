import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describeError } from "../errors.js";

/**
 * `./lab <command> [args]` after set-up: each command is the module lib/cli/commands/<command>.ts,
 * so adding a command is adding one file.
 */
const commandsDir = join(dirname(fileURLToPath(import.meta.url)), "commands");

function available(): string[] {
  return readdirSync(commandsDir).filter((f) => f.endsWith(".js")).map((f) => f.replace(/\.js$/, "")).sort();
}

async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  if (!command || !existsSync(join(commandsDir, `${command}.js`))) {
    console.error(`${command ? `unknown command "${command}". ` : ""}commands: ${available().join(", ")}`);
    return 2;
  }
  const module = (await import(join(commandsDir, `${command}.js`))) as { default: (args: string[]) => Promise<number> };
  return module.default(args);
}

main().then(
  (code) => { process.exitCode = code; },
  (error) => { console.error(describeError(error)); process.exitCode = 1; },
);
