/**
 * Every `./lab` command, in the order `./lab help` lists them. Adding a command is one file,
 * lib/cli/commands/NAME.ts (its default export `defineCommand({...})`), and one line here.
 * The entry script (`lab`) runs `setup`, `notebook` and `chain` itself, as they exec a program
 * or run before anything is built; their files here give their help (`./lab help notebook` and
 * `./lab notebook --help` alike). Every other command, known or not, comes here.
 */
export type CommandModule = { default: (args: string[]) => Promise<number> };

export interface CommandEntry {
  summary: string;
  /** The command's module (for the commands the entry script runs itself: their help). */
  load: () => Promise<CommandModule>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  run: { summary: "execute notebooks headless into experiments/runs/, each settled on chain", load: () => import("./commands/run.js") },
  test: { summary: 'type-check, lint, unit, contract and notebook tests; ends "N passed, N failed"', load: () => import("./commands/test.js") },
  lint: { summary: "format and lint check (Biome); --fix applies the safe fixes", load: () => import("./commands/lint.js") },
  verify: { summary: "check run folders against their settlement", load: () => import("./commands/verify.js") },
  bench: { summary: "benchmarks in bench/, as tables of ratios", load: () => import("./commands/bench.js") },
  factory: { summary: "fine-tune a LoRA adapter from a Model Factory spec", load: () => import("./commands/factory.js") },
  reproduce: { summary: "re-run experiment specs (all by default), judge their claims, write an HTML and markdown report", load: () => import("./commands/reproduce.js") },
  export: { summary: "every notebook's latest run as HTML and PDF (headless Chromium), with an index, for teaching", load: () => import("./commands/export.js") },
  clean: { summary: "free the caches (base models, gradient store, LM adapter, Factory outputs) and orphaned staging; says how much", load: () => import("./commands/clean.js") },
  serve: { summary: "OpenLoRA: many LoRA adapters on one base model over OpenAI-compatible HTTP on 127.0.0.1", load: () => import("./commands/serve.js") },
  "gpu-bundle": { summary: "self-contained WebGPU check for a bare NVIDIA machine (--try runs it here)", load: () => import("./commands/gpu-bundle.js") },
  notebook: { summary: "Jupyter with the TypeScript kernel on 127.0.0.1 (run by ./lab itself)", load: () => import("./commands/notebook.js") },
  chain: { summary: "a persistent Hardhat node on 127.0.0.1:8545 (run by ./lab itself)", load: () => import("./commands/chain.js") },
  setup: { summary: "only the set-up (run by ./lab itself)", load: () => import("./commands/setup.js") },
};

/** The command list as `./lab help` and an unknown command print it. */
export function commandList(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}  ${entry.summary}`);
  return `usage: ./lab COMMAND [ARGS]   (./lab COMMAND --help for its options and examples)\n\n${rows.join("\n")}\n`;
}
