import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { ATTRIBUTION_EXPERIMENTS } from "../../../lib/attribution/experiments/registry.js";
import { metricSource } from "../../../lib/attribution/metric-sources.js";
import { runCli } from "../../../lib/cli/dispatch.js";
import { listExperimentSpecs } from "../../../lib/experiments/index.js";
import { fromRoot } from "../../../lib/files.js";
import { OverrideError } from "../../../lib/overrides.js";
import { planReproduction, ReproduceError, type Reproduction, reproduce } from "../../../lib/runner/reproduce-experiments.js";
import { externalResources } from "../../../lib/runner/run-notebooks.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const FIXTURE = fromRoot("test", "fixtures", "experiments", "tiny-logreg.yaml");
const NETWORK_URL = /\b(?:https?|wss?|ftp):\/\/|(?:src|href)\s*=\s*["']\/\//i;

/** Runs `f` with console output swallowed (the experiments log every step). */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const { log, error } = console;
  console.log = () => {};
  console.error = () => {};
  try {
    return await f();
  } finally {
    console.log = log;
    console.error = error;
  }
}

/** The numbers of a run that do not depend on the clock or on what the caches held. */
function numbers(r: Reproduction): Record<string, number> {
  const metrics = r.experiments[0].metrics;
  return Object.fromEntries(Object.entries(metrics).filter(([k]) => !/seconds|^gradient_sets_/.test(k)));
}

describe("./lab reproduce (lib/runner/reproduce-experiments.ts) on a test-size experiment spec", function () {
  this.timeout(240_000);
  const saved = { LAB_CACHE_DIR: process.env.LAB_CACHE_DIR, LAB_GRADIENT_STORE: process.env.LAB_GRADIENT_STORE, LAB_STEP_CACHE: process.env.LAB_STEP_CACHE };
  let work: string;

  before(() => {
    work = mkdtempSync(join(tmpdir(), "lab-reproduce-test-"));
    process.env.LAB_CACHE_DIR = join(work, "cache");
    process.env.LAB_GRADIENT_STORE = join(work, "gradients");
    delete process.env.LAB_STEP_CACHE;
  });
  after(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it("fails on a deliberately wrong claim, and its report shows that claim failed and the others passed, with no network URL", async () => {
    const spec = parseYaml(readFileSync(FIXTURE, "utf8"));
    const wrong = spec.claims.findIndex((c: { metric: string }) => c.metric === "test_accuracy");
    spec.claims[wrong] = { metric: "test_accuracy", value: 0.95, tolerance: 0.01 };
    const file = join(work, "tiny-logreg-wrong.yaml");
    writeFileSync(file, stringifyYaml(spec));
    const out = join(work, "wrong");
    const code = await quietly(() => runCli(["reproduce", file, "--out", out]));
    expect(code).to.equal(1);
    expect(readdirSync(out).sort()).to.deep.equal(["figures", "report.html", "report.md", "results.json"]);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as Reproduction;
    expect(results.passed).to.equal(false);
    expect(results.failures).to.equal(1);
    const claims = results.experiments[0].claims;
    expect(claims.filter((c) => !c.holds).map((c) => c.metric)).to.deep.equal(["test_accuracy"]);
    expect(claims.filter((c) => c.holds)).to.have.length(spec.claims.length - 1);

    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).to.match(/\*\*FAIL: 1 failure/);
    expect(md).to.match(/^\| test_accuracy \| 0\.6 \| 0\.95 ± 0\.01 \| -35\.00 \| FAIL \|/m);
    expect(md).to.match(/^\| lds_influence_exact \| [\d.]+ \| [\d.]+ ± [\d.]+ \| (?:[-+][\d.]+|0\.00) \| pass \|/m);
    expect(md).to.match(/^\| lds_influence_exact \|.*\| lds\(\) in lib\/attribution\/evaluation\/lds\.ts \|$/m);
    const html = readFileSync(join(out, "report.html"), "utf8");
    expect(html).to.contain("<title>Reproduction").and.contain(": FAIL</title>");
    expect(html).to.match(/<td>test_accuracy<\/td><td>0\.6<\/td><td>0\.95 ± 0\.01<\/td><td>-35\.00<\/td><td class="FAIL">FAIL<\/td>/);
    expect(html).to.contain("<svg").and.contain("measured − claimed, in tolerances");
    expect(html).to.contain("package-lock.json sha256").and.contain("load average");

    for (const text of [md, html]) expect(text).not.to.match(NETWORK_URL);
    expect(externalResources(html)).to.deep.equal([]);
  });

  it("gives the same numbers on a second reproduction with the step cache, read from it, and the same again bypassing it", async () => {
    const plans = () => planReproduction({ names: [FIXTURE], quick: true, sets: [] });
    const first = await quietly(() => reproduce(plans(), { quick: true, useCache: true, out: join(work, "cached-1") }));
    const second = await quietly(() => reproduce(plans(), { quick: true, useCache: true, out: join(work, "cached-2") }));
    const bypassed = await quietly(() => reproduce(plans(), { quick: true, useCache: false, out: join(work, "bypassed") }));
    expect(first.reproduction.passed, "the quick claims hold").to.equal(true);
    expect(first.reproduction.experiments[0].cache).to.include({ mode: "use", computed: 2, read: 0 });
    expect(second.reproduction.experiments[0].cache).to.include({ mode: "use", computed: 0, read: 2 });
    expect(bypassed.reproduction.experiments[0].cache).to.include({ mode: "bypass", computed: 2, read: 0, matched: 2 });
    expect(bypassed.reproduction.experiments[0].cache.differed).to.deep.equal([]);
    expect(numbers(second.reproduction)).to.deep.equal(numbers(first.reproduction));
    expect(numbers(bypassed.reproduction)).to.deep.equal(numbers(first.reproduction));
    expect(readFileSync(join(work, "bypassed", "report.md"), "utf8")).to.contain("step cache bypassed: 2 step(s) recomputed; 2 had a cached value, 2 equal");
  });

  it("runs experiments in lanes, one per worker, with the numbers of one worker, gathered in plan order, each lane's lines named", async () => {
    const second = join(work, "tiny-logreg-seed-5.yaml");
    writeFileSync(
      second,
      readFileSync(FIXTURE, "utf8")
        .replace(/^name: .*$/m, "name: tiny-logreg-seed-5")
        .replace(/^(\s*)seed: \d+/m, "$1seed: 5"),
    );
    const byWorkers: Record<number, { reproduction: Reproduction; lines: string[] }> = {};
    const saved = process.env.LAB_WORKERS;
    try {
      for (const workers of [1, 2]) {
        process.env.LAB_WORKERS = String(workers);
        const lines: string[] = [];
        const plans = planReproduction({ names: [FIXTURE, second], quick: true, sets: [] });
        const { reproduction } = await reproduce(plans, { quick: true, useCache: false, out: join(work, `lanes-${workers}`) }, (line) => lines.push(line));
        byWorkers[workers] = { reproduction, lines };
      }
    } finally {
      if (saved === undefined) delete process.env.LAB_WORKERS;
      else process.env.LAB_WORKERS = saved;
    }
    const [one, two] = [byWorkers[1], byWorkers[2]];
    expect(two.reproduction.experiments.map((o) => o.experiment)).to.deep.equal(["tiny-logreg", "tiny-logreg-seed-5"]);
    for (const i of [0, 1]) {
      const numbersOf = (r: Reproduction) => Object.fromEntries(Object.entries(r.experiments[i].metrics).filter(([k]) => !/seconds|^gradient_sets_/.test(k)));
      expect(numbersOf(two.reproduction), two.reproduction.experiments[i].experiment).to.deep.equal(numbersOf(one.reproduction));
      expect(two.reproduction.experiments[i].claims.map((c) => c.holds)).to.deep.equal(one.reproduction.experiments[i].claims.map((c) => c.holds));
    }
    expect(numbers(two.reproduction)).to.not.deep.equal(
      Object.fromEntries(Object.entries(two.reproduction.experiments[1].metrics).filter(([k]) => !/seconds|^gradient_sets_/.test(k))),
      "the two specs differ",
    );
    expect(one.lines.filter((l) => l.startsWith("▶ ")).length, "one lane: the lines as before").to.equal(2);
    for (const name of ["tiny-logreg", "tiny-logreg-seed-5"]) {
      const own = two.lines.filter((l) => l.startsWith(`${name.padEnd("tiny-logreg-seed-5".length)} │ `));
      expect(own[0], name).to.contain(`▶ ${name} (`);
      expect(own.at(-1), name).to.match(new RegExp(`[✓✗] ${name} in [\\d.]+ s: \\d+ of \\d+ claims hold`));
    }
  });

  it("judges the quick claims in quick mode and only shows values under --set", async () => {
    const { plans } = planReproduction({ names: [FIXTURE], quick: true, sets: ["seed=4"] });
    expect(plans[0].judged).to.equal(false);
    expect(plans[0].params).to.include({ seed: 4, nTrain: 40 });
    expect(planReproduction({ names: [FIXTURE], quick: false, sets: [] }).plans[0].params).to.include({ seed: 3, nTrain: 60 });
  });

  it("counts an experiment that stops as a failure and goes on with the next, the report naming the error", async () => {
    const stopping = join(work, "stops.yaml");
    writeFileSync(
      stopping,
      stringifyYaml({
        kind: "experiment",
        name: "stops",
        runner: "factory-contributors",
        params: { seed: 1, spec: "test/fixtures/experiments/no-such-factory-spec.yaml", scale: 0.1, steps: 1, batchSize: 8, pretrain: "quick", nTest: 1 },
        claims: [{ metric: "test_accuracy", value: 0.5, tolerance: 0.5 }],
      }),
    );
    const out = join(work, "stops");
    const { reproduction } = await quietly(() => reproduce(planReproduction({ names: [stopping, FIXTURE], quick: true, sets: [] }), { quick: true, useCache: true, out }));
    expect(reproduction.experiments.map((o) => [o.experiment, o.error === undefined])).to.deep.equal([
      ["stops", false],
      ["tiny-logreg", true],
    ]);
    expect(reproduction.passed).to.equal(false);
    expect(readFileSync(join(out, "report.md"), "utf8"))
      .to.contain("| stops | 0 shown |")
      .and.contain("FAIL (stopped)")
      .and.contain("The experiment stopped with an error:");
  });

  it("knows where every claimed metric of every spec under experiments/ is computed", () => {
    for (const spec of listExperimentSpecs()) {
      for (const claim of [...spec.claims, ...spec.quickClaims]) expect(metricSource(claim.metric, spec.runner), `${spec.name}: ${claim.metric}`).to.not.equal(undefined);
    }
    expect(metricSource("test_accuracy", "factory-contributors")?.computedBy).to.equal("runFactory() in lib/intelligence/factory/fine-tune.ts");
    expect(metricSource("test_accuracy", "logreg-fmnist")?.computedBy).to.equal("accuracy() in lib/attribution/model.ts");
  });

  it("names, for every declared metric of every experiment, a function that exists where it says", async () => {
    for (const [name, definition] of ATTRIBUTION_EXPERIMENTS) {
      for (const [key, decl] of Object.entries(definition.metrics)) {
        const { export: exported, module } = decl.computedBy;
        const where = `${name}.${key}: ${exported} in ${module}`;
        expect(existsSync(fromRoot(module)), where).to.equal(true);
        const loaded: Record<string, unknown> = await import(fromRoot(module));
        const [owner, method] = exported.split(".");
        expect(loaded[owner], where).to.be.a("function");
        if (method) expect((loaded[owner] as { prototype: Record<string, unknown> }).prototype[method], where).to.be.a("function");
      }
    }
  });

  it("refuses a spec whose runner is no experiment, before anything runs", () => {
    const file = join(work, "no-runner.yaml");
    writeFileSync(file, readFileSync(FIXTURE, "utf8").replace("runner: logreg-fmnist", "runner: logreg-mnist"));
    expectCode(() => planReproduction({ names: [file], quick: false, sets: [] }), ReproduceError, "reproduce/unknown-runner", { runner: "logreg-mnist" });
  });

  it("refuses to write over an existing reproduction folder, before anything runs", async () => {
    const out = join(work, "taken");
    mkdirSync(out);
    const logged: string[] = [];
    await expectCodeAsync(
      reproduce(planReproduction({ names: [FIXTURE], quick: true, sets: [] }), { quick: true, useCache: true, out }, (line) => logged.push(line)),
      ReproduceError,
      "reproduce/out-exists",
      { out },
    );
    expect(logged, "refused before the experiment ran").to.deep.equal([]);
  });

  it("refuses a --set key that no selected experiment has, before anything runs", () => {
    expectCode(() => planReproduction({ names: [FIXTURE], quick: false, sets: ["epochs=3"] }), OverrideError, "set/unknown-key", { key: "epochs" });
  });
});
