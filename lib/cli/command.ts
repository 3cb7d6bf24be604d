import { parseArgs } from "node:util";
import { LabError } from "../errors.js";

/**
 * One `./lab` command: its options (parsed by `node:util` parseArgs, strictly), its help (usage,
 * options, examples; `--help` and `-h` on every command) and what it runs. A command file's
 * default export is `defineCommand({...})`, which is itself `(args: string[]) => Promise<number>`.
 */
export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
  /** How the value is written in the help, e.g. "key=value". */
  value?: string;
  doc: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

/** The parsed values: a string option is a string (a list when `multiple`), a flag a boolean. */
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K]["type"] extends "boolean" ? boolean : O[K]["multiple"] extends true ? string[] : string | undefined;
};

export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  name: string;
  /** What follows `./lab NAME` in the usage line, e.g. "[NAME...] [--quick]". */
  usage: string;
  /** A paragraph on what the command does. */
  description: string;
  options: O;
  /** How many positional arguments it takes (default none), and their name for errors. */
  positionals?: { name: string; min?: number; max?: number };
  examples: string[];
  /** More help, built when asked for (a spec's field list). */
  details?: () => string | Promise<string>;
  run(input: { values: OptionValues<O>; positionals: string[] }): Promise<number>;
}

export interface Command {
  (args: string[]): Promise<number>;
  spec: CommandSpec;
}

/** A command line that cannot be run as given: an unknown option, a missing argument. Exit 2. */
export class CliError extends LabError {}

const HELP: OptionSpec = { type: "boolean", short: "h", doc: "this help" };

function quoted(message: string): string {
  return /'([^']+)'/.exec(message)?.[1] ?? "";
}

/** parseArgs' refusals as structured errors that name the command and point at its help. */
function cliError(name: string, error: unknown): CliError {
  const code = (error as { code?: string }).code ?? "";
  const message = (error as Error).message ?? String(error);
  const argument = quoted(message);
  const hint = `see ./lab ${name} --help`;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return new CliError({ code: "cli/unknown-option", message: `./lab ${name} has no option ${argument}`, hint, fields: { command: name, option: argument } });
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return new CliError({ code: "cli/bad-option-value", message: `./lab ${name}: ${message.split(".")[0]}`, hint, fields: { command: name, option: argument } });
  }
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    return new CliError({ code: "cli/unexpected-argument", message: `./lab ${name} takes no argument "${argument}"`, hint, fields: { command: name, argument } });
  }
  return new CliError({ code: "cli/unparsable", message: `./lab ${name}: ${message}`, hint, fields: { command: name } });
}

/** A negative number: "-5", "-0.5", "-1e3". */
const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/**
 * The arguments with a negative number after an option that takes a value joined to it
 * (`--cell-timeout -5` → `--cell-timeout=-5`): parseArgs would read "-5" as an option and call the
 * line ambiguous; joined, the command itself judges the value and says what it takes.
 */
export function withNegativeValues(args: readonly string[], options: OptionSpecs): string[] {
  const takesValue = new Set<string>();
  for (const [key, o] of Object.entries(options)) {
    if (o.type !== "string") continue;
    takesValue.add(`--${key}`);
    if (o.short) takesValue.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    if (takesValue.has(arg) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      out.push(arg.startsWith("--") ? `${arg}=${next}` : `${arg}${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Parses `args` for `spec`: values and positionals, or a CliError before anything runs. */
export function parseCommandArgs<O extends OptionSpecs>(spec: CommandSpec<O>, args: string[]): { values: OptionValues<O> & { help: boolean }; positionals: string[] } {
  const config = Object.fromEntries(
    Object.entries({ ...spec.options, help: HELP }).map(([key, o]) => [key, { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...(o.short ? { short: o.short } : {}) }]),
  );
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: withNegativeValues(args, spec.options), options: config, allowPositionals: spec.positionals !== undefined, strict: true });
  } catch (error) {
    throw cliError(spec.name, error);
  }
  const values: Record<string, unknown> = {};
  for (const [key, o] of Object.entries({ ...spec.options, help: HELP })) {
    const v = parsed.values[key];
    values[key] = o.type === "boolean" ? v === true : o.multiple ? ((v as string[] | undefined) ?? []) : v;
  }
  const { positionals } = parsed;
  if (values.help !== true && spec.positionals) {
    const { name, min = 0, max = Number.POSITIVE_INFINITY } = spec.positionals;
    if (positionals.length < min) {
      throw new CliError({
        code: "cli/missing-argument",
        message: `./lab ${spec.name} needs ${name}`,
        hint: `usage: ./lab ${spec.name} ${spec.usage}`,
        fields: { command: spec.name, argument: name },
      });
    }
    if (positionals.length > max) {
      throw new CliError({
        code: "cli/unexpected-argument",
        message: `./lab ${spec.name} takes ${max === 1 ? "one" : `at most ${max}`} ${name}, got ${positionals.length}`,
        hint: `usage: ./lab ${spec.name} ${spec.usage}`,
        fields: { command: spec.name, argument: positionals[max] },
      });
    }
  }
  return { values: values as OptionValues<O> & { help: boolean }, positionals };
}

/** The help of a command: usage, what it does, its options and examples. */
export async function helpText(spec: CommandSpec): Promise<string> {
  const options = Object.entries({ ...spec.options, help: HELP }).map(([key, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${key}${o.type === "string" ? ` ${o.value ?? "VALUE"}` : ""}`;
    return `  ${flag.padEnd(28)} ${o.doc}${o.multiple ? " (repeatable)" : ""}`;
  });
  const parts = [`usage: ./lab ${spec.name}${spec.usage ? ` ${spec.usage}` : ""}`, spec.description, `options:\n${options.join("\n")}`, `examples:\n${spec.examples.map((e) => `  ${e}`).join("\n")}`];
  if (spec.details) parts.push(await spec.details());
  return `${parts.join("\n\n")}\n`;
}

/** Makes a command from its spec: parses, answers --help, and runs. */
export function defineCommand<O extends OptionSpecs>(spec: CommandSpec<O>): Command {
  const command = async (args: string[]): Promise<number> => {
    const { values, positionals } = parseCommandArgs(spec, args);
    if (values.help) {
      process.stdout.write(await helpText(spec as unknown as CommandSpec));
      return 0;
    }
    return spec.run({ values, positionals });
  };
  return Object.assign(command, { spec: spec as unknown as CommandSpec });
}

/**
 * A command the entry script (`lab`) runs itself, because it execs a program of its own (Jupyter,
 * Hardhat) or runs before anything is built: here only for its help. Reached through the CLI
 * otherwise, it says how to start it, with exit code 2.
 */
export function entryScriptCommand(spec: Omit<CommandSpec, "run">): Command {
  return defineCommand({
    ...spec,
    async run() {
      process.stderr.write(`./lab ${spec.name} is started by the entry script: run ./lab ${spec.name}\n`);
      return 2;
    },
  });
}
