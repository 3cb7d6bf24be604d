import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { CliError, type Command, defineCommand, parseCommandArgs } from "../../../lib/cli/command.js";
import { lintReport, readLintReport } from "../../../lib/cli/commands/lint.js";
import { runCli } from "../../../lib/cli/dispatch.js";
import { COMMANDS } from "../../../lib/cli/registry.js";
import { fromRoot } from "../../../lib/files.js";

/** Runs `f` with stdout and stderr captured. */
async function captured(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const write = { out: process.stdout.write, err: process.stderr.write, log: console.log, error: console.error };
  let out = "";
  let err = "";
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    err += chunk;
    return true;
  }) as typeof process.stderr.write;
  console.log = (...a: unknown[]) => {
    out += `${a.join(" ")}\n`;
  };
  console.error = (...a: unknown[]) => {
    err += `${a.join(" ")}\n`;
  };
  try {
    return { code: await f(), out, err };
  } finally {
    process.stdout.write = write.out;
    process.stderr.write = write.err;
    console.log = write.log;
    console.error = write.error;
  }
}

describe("./lab CLI: registry, parsing, help", function () {
  this.timeout(60_000);

  it("registers every command file, each under its own name, and each a defined command", async () => {
    const files = readdirSync(fromRoot("lib", "cli", "commands"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => f.replace(/\.ts$/, ""));
    const registered = Object.entries(COMMANDS)
      .filter(([, e]) => e.load)
      .map(([name]) => name);
    expect(registered.sort()).to.deep.equal(files.sort());
    for (const name of registered) {
      const command = (await COMMANDS[name].load!()).default as Command;
      expect(command.spec?.name, name).to.equal(name);
    }
  });

  it("answers --help on every command with usage, options and examples", async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      if (!entry.load) continue;
      const { code, out } = await captured(() => runCli([name, "--help"]));
      expect(code, name).to.equal(0);
      expect(out, name).to.match(new RegExp(`^usage: \\./lab ${name}`));
      expect(out, name).to.contain("options:").and.contain("-h, --help").and.contain("examples:\n  ./lab ");
      const spec = ((await entry.load()).default as Command).spec;
      for (const option of Object.keys(spec.options)) expect(out, `${name} --${option}`).to.contain(`--${option}`);
      expect((await captured(() => runCli([name, "-h"]))).out).to.equal(out);
      expect((await captured(() => runCli(["help", name]))).out).to.equal(out);
    }
  });

  it("lists the commands on help and on an unknown command, which exits 2", async () => {
    const help = await captured(() => runCli([]));
    expect(help.code).to.equal(0);
    for (const name of Object.keys(COMMANDS)) expect(help.out).to.contain(`  ${name} `);
    const unknown = await captured(() => runCli(["nonesuch"]));
    expect(unknown.code).to.equal(2);
    expect(unknown.err).to.contain('unknown command "nonesuch"').and.contain("  reproduce ");
    expect((await captured(() => runCli(["notebook"]))).code).to.equal(2);
    const topic = await captured(() => runCli(["help", "frob"]));
    expect(topic.code).to.equal(2);
    expect(topic.err).to.contain("frob");
  });

  it("exits 2 before any work on an unknown option, a missing argument or a refused --set", async () => {
    expect((await captured(() => runCli(["run", "--fast"]))).code).to.equal(2);
    expect((await captured(() => runCli(["reproduce", "--quik"]))).code).to.equal(2);
    const refused = await captured(() => runCli(["reproduce", "logreg-fmnist", "--set", "spec=x.yaml"]));
    expect(refused.code).to.equal(2);
    expect(refused.err).to.contain("[set/unknown-key]");
    expect((await captured(() => runCli(["reproduce", "logreg-fmnist", "--set", "nTrain=many"]))).err).to.contain("[set/wrong-type]");
    expect((await captured(() => runCli(["factory", "experiments/factory/fmnist-lora.yaml", "--set", "training.stepz=3"]))).err).to.contain("[set/unknown-key]");
    expect((await captured(() => runCli(["factory", "experiments/factory/fmnist-lora.yaml", "--set", "lora.r=2.5"]))).err).to.contain("[set/wrong-type]");
  });

  it("parses options with parseArgs and refuses by code", () => {
    const spec = defineCommand({
      name: "demo",
      usage: "NAME [--flag] [--set k=v ...]",
      description: "a demo",
      options: { flag: { type: "boolean", doc: "a flag" }, set: { type: "string", multiple: true, doc: "pairs" }, out: { type: "string", doc: "a path" } },
      positionals: { name: "NAME", min: 1, max: 1 },
      examples: ["./lab demo x"],
      run: async () => 0,
    }).spec;
    expect(parseCommandArgs(spec, ["x", "--set", "a=1", "--set=b=2", "--flag"])).to.deep.equal({ values: { flag: true, set: ["a=1", "b=2"], out: undefined, help: false }, positionals: ["x"] });
    expect(parseCommandArgs(spec, ["x"]).values).to.deep.equal({ flag: false, set: [], out: undefined, help: false });
    const refusal = (args: string[]) => {
      try {
        parseCommandArgs(spec, args);
      } catch (error) {
        expect(error).to.be.instanceOf(CliError);
        if (error instanceof CliError) return { code: error.code, fields: error.fields };
      }
      throw new Error("expected a refusal");
    };
    expect(refusal(["x", "--nope"])).to.deep.equal({ code: "cli/unknown-option", fields: { command: "demo", option: "--nope" } });
    expect(refusal(["x", "--out"]).code).to.equal("cli/bad-option-value");
    expect(refusal([])).to.deep.equal({ code: "cli/missing-argument", fields: { command: "demo", argument: "NAME" } });
    expect(refusal(["x", "y"])).to.deep.equal({ code: "cli/unexpected-argument", fields: { command: "demo", argument: "y" } });
    // A negative number after an option that takes a value is that value, not an option.
    expect(parseCommandArgs(spec, ["x", "--out", "-5"]).values.out).to.equal("-5");
    expect(parseCommandArgs(spec, ["x", "--set", "-1.5e3"]).values.set).to.deep.equal(["-1.5e3"]);
    expect(refusal(["x", "--flag", "-5"]).code, "a flag takes no value").to.equal("cli/unknown-option");
  });
});

describe("./lab lint and the lint step of ./lab test", function () {
  this.timeout(60_000);

  it("counts files that fail and the rules they break from Biome's report", () => {
    const report = readLintReport(
      JSON.stringify({
        summary: { changed: 0, unchanged: 4 },
        diagnostics: [
          { severity: "warning", category: "lint/suspicious/noExplicitAny", location: { path: "a.ts" } },
          { severity: "error", category: "format", location: { path: "a.ts" } },
          { severity: "error", category: "format", location: { path: "b.ts" } },
          { severity: "information", category: "lint/style/useTemplate", location: { path: "c.ts" } },
        ],
      }),
    );
    expect(report.checked).to.equal(4);
    expect([...report.failing.entries()]).to.deep.equal([
      ["a.ts", ["lint/suspicious/noExplicitAny", "format"]],
      ["b.ts", ["format"]],
    ]);
    expect(report.byRule.get("format")).to.equal(2);
  });

  it("runs Biome with the project's settings: a clean file passes, a mis-formatted one and an `any` fail", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-lint-"));
    // the project's settings, with the project's file list replaced by this folder's files
    const settings = readFileSync(fromRoot("biome.jsonc"), "utf8")
      .replace(/"files": \{[^}]*\}/, '"files": { "includes": ["*.ts"] }')
      .replace(/"vcs": \{[^}]*\}/, '"vcs": { "enabled": false }');
    writeFileSync(join(dir, "biome.jsonc"), settings);
    writeFileSync(join(dir, "clean.ts"), 'export const greeting = "hello";\n');
    writeFileSync(join(dir, "spaced.ts"), "export  const x = 1\n");
    writeFileSync(join(dir, "typed.ts"), "export const y: any = 1;\n");
    const report = lintReport({ cwd: dir });
    expect([...report.failing.keys()].sort()).to.deep.equal(["spaced.ts", "typed.ts"]);
    expect(report.failing.get("typed.ts")).to.deep.equal(["lint/suspicious/noExplicitAny"]);
    expect(report.failing.get("spaced.ts")).to.include("format");
  });
});
