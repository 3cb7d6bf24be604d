import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { fromRoot } from "../../../lib/files.js";
import { WEBGPU_VS_WASM } from "../../../lib/runner/backend-tolerances.js";
import { CompareError, compareFigures, compareRunFolders, flattenFigures, type ToleranceTable } from "../../../lib/runner/compare-runs.js";
import { expectCode } from "../expect-code.js";

const NB = "09-example";

/** A table for the constructed runs below: one line per kind of rule. */
const TABLE: ToleranceTable = {
  [NB]: [
    { figures: ["samples", "keyFigures.samples"], rule: { kind: "equal", why: "a count" } },
    { figures: ["accuracy", "keyFigures.accuracy"], rule: { kind: "close", abs: 0.01, why: "training drift" } },
    { figures: ["loss"], rule: { kind: "close", rel: 0.01, why: "relative drift" } },
    { figures: ["seconds"], rule: { kind: "excluded", why: "a timing" } },
    { figures: ["rows[*].value"], where: { metric: "rank" }, rule: { kind: "equal", why: "a ranking" } },
    { figures: ["rows[*].value"], rule: { kind: "close", abs: 0.05, why: "a score" } },
    { figures: ["coverage[*]"], rule: { kind: "close", abs: 0.1, why: "sampled text" } },
  ],
};

const reference = () => ({
  samples: 1500,
  accuracy: 0.726,
  loss: 2.5,
  seconds: 12.5,
  top: "sneaker",
  holds: true,
  rows: [
    { metric: "lds", value: 0.91, verdict: "met" },
    { metric: "rank", value: 3, verdict: "met" },
  ],
  coverage: [0.4, 0.5],
  keyFigures: { samples: 1500, accuracy: 0.726 },
});

const verdicts = (c: ReturnType<typeof compareFigures>) => Object.fromEntries(c.figures.map((f) => [f.figure, f.verdict]));

describe("comparing two runs' recorded figures (lib/runner/compare-runs.ts)", () => {
  it("names every leaf by its path, arrays by index and by [*], and keeps the row a table cell sits in", () => {
    const figures = flattenFigures({ a: 1, b: { c: "x" }, rows: [{ metric: "m", v: 2 }], list: [0.5] });
    expect(figures.map((f) => [f.path, f.pattern])).to.deep.equal([
      ["a", "a"],
      ["b.c", "b.c"],
      ["rows[0].metric", "rows[*].metric"],
      ["rows[0].v", "rows[*].v"],
      ["list[0]", "list[*]"],
    ]);
    expect(figures[3].row).to.deep.equal({ metric: "m", v: 2 });
    expect(figures[4].row).to.equal(undefined);
  });

  it("agrees with itself on every figure but the excluded one", () => {
    const c = compareFigures(NB, reference(), reference(), TABLE);
    expect(c.failed).to.equal(0);
    expect(c.excluded).to.equal(1);
    expect(c.agreed).to.equal(c.figures.length - 1);
    expect(c.unusedRules).to.deep.equal([]);
  });

  it("lets a float move within its stated absolute or relative tolerance and fails it beyond", () => {
    const within = { ...reference(), accuracy: 0.735, loss: 2.52, coverage: [0.49, 0.41] };
    expect(compareFigures(NB, reference(), within, TABLE).failed).to.equal(0);
    const beyond = { ...reference(), accuracy: 0.7375, loss: 2.53 };
    const c = compareFigures(NB, reference(), beyond, TABLE);
    expect(verdicts(c)).to.include({ accuracy: "differs", loss: "differs", "keyFigures.accuracy": "agrees" });
    const accuracy = c.figures.find((f) => f.figure === "accuracy")!;
    expect(accuracy.difference).to.be.closeTo(0.0115, 1e-12);
    expect(accuracy.allowed).to.equal(0.01);
    expect(c.figures.find((f) => f.figure === "loss")!.allowed).to.be.closeTo(0.025, 1e-12);
  });

  it("requires discrete figures to be identical: counts, strings, booleans, a ranking in a table row", () => {
    const changed = { ...reference(), samples: 1501, top: "sandal", holds: false };
    changed.rows = [
      { metric: "lds", value: 0.93, verdict: "met" },
      { metric: "rank", value: 4, verdict: "MISSED" },
    ];
    const c = compareFigures(NB, reference(), changed, TABLE);
    expect(verdicts(c)).to.include({
      samples: "differs",
      top: "differs",
      holds: "differs",
      "rows[0].value": "agrees",
      "rows[1].value": "differs",
      "rows[1].verdict": "differs",
    });
    expect(c.failed).to.equal(5);
  });

  it("ignores an excluded figure whatever its value, and says why", () => {
    const c = compareFigures(NB, reference(), { ...reference(), seconds: 900 }, TABLE);
    const seconds = c.figures.find((f) => f.figure === "seconds")!;
    expect([seconds.verdict, seconds.rule?.why]).to.deep.equal(["excluded", "a timing"]);
    expect(c.failed).to.equal(0);
  });

  it("fails a figure one run recorded and the other did not, either way", () => {
    const { loss: _, ...withoutLoss } = reference();
    const c = compareFigures(NB, reference(), { ...withoutLoss, coverage: [0.4, 0.5, 0.6] }, TABLE);
    expect(verdicts(c)).to.include({ loss: "missing", "coverage[2]": "unexpected" });
    expect(c.failed).to.equal(2);
  });

  it("fails a number no tolerance line covers, and a line that covers no recorded figure", () => {
    const c = compareFigures(NB, { ...reference(), perplexity: 12 }, { ...reference(), perplexity: 12 }, TABLE);
    expect(verdicts(c)).to.include({ perplexity: "no-tolerance" });
    const { samples: _, keyFigures: __, ...noSamples } = reference();
    const staler = compareFigures(NB, noSamples, noSamples, TABLE);
    expect(staler.unusedRules.map((l) => l.figures)).to.deep.equal([["samples", "keyFigures.samples"]]);
    expect(staler.failed).to.equal(1);
  });

  it("does not take a number and its string form for the same value", () => {
    const c = compareFigures(NB, reference(), { ...reference(), samples: "1500" as unknown as number }, TABLE);
    expect(verdicts(c).samples).to.equal("differs");
  });

  describe("run folders", () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "lab-compare-"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const land = (name: string, manifest: Record<string, unknown>, values: Record<string, unknown>) => {
      const run = join(dir, name);
      mkdirSync(run);
      writeFileSync(join(run, "manifest.json"), JSON.stringify({ notebook: NB, runId: name, tfBackend: "wasm", seed: 42, parameters: { quick: true, seed: 42 }, ...manifest }));
      writeFileSync(join(run, "results.json"), JSON.stringify({ notebook: NB, runId: name, values }));
      return run;
    };

    it("compares the figures of a wasm and a webgpu run of the same notebook, seed and parameters", () => {
      const wasm = land("a", {}, reference());
      const webgpu = land("b", { tfBackend: "webgpu", parameters: { seed: 42, quick: true } }, { ...reference(), accuracy: 0.73 });
      const c = compareRunFolders(wasm, webgpu, TABLE, { reference: "wasm", candidate: "webgpu" });
      expect([c.notebook, c.failed, c.excluded]).to.deep.equal([NB, 0, 1]);
    });

    it("refuses runs with another seed, of another notebook, on the wrong backend, or a folder that is no run", () => {
      const wasm = land("a", {}, reference());
      const otherSeed = land("b", { tfBackend: "webgpu", seed: 7, parameters: { quick: true, seed: 7 } }, reference());
      expectCode(() => compareRunFolders(wasm, otherSeed, TABLE, { reference: "wasm", candidate: "webgpu" }), CompareError, "compare/different-parameters", { notebook: NB });
      const otherNotebook = land("c", { notebook: "08-other", tfBackend: "webgpu" }, reference());
      expectCode(() => compareRunFolders(wasm, otherNotebook, TABLE, { reference: "wasm", candidate: "webgpu" }), CompareError, "compare/different-notebooks");
      const alsoWasm = land("d", {}, reference());
      expectCode(() => compareRunFolders(wasm, alsoWasm, TABLE, { reference: "wasm", candidate: "webgpu" }), CompareError, "compare/wrong-backend", {
        side: "candidate",
        backend: "wasm",
        wanted: "webgpu",
      });
      expectCode(() => compareRunFolders(wasm, join(dir, "absent"), TABLE, { reference: "wasm", candidate: "webgpu" }), CompareError, "compare/not-a-run", { file: "manifest.json" });
    });
  });
});

describe("the WebGPU-vs-wasm tolerance table (lib/runner/backend-tolerances.ts)", () => {
  it("covers notebooks 03 to 06, each line with a reason and each close rule with a positive bound", () => {
    expect(Object.keys(WEBGPU_VS_WASM)).to.deep.equal(["03-model-factory-lora", "04-openlora-serving", "05-proof-of-attribution", "06-end-to-end"]);
    for (const [notebook, lines] of Object.entries(WEBGPU_VS_WASM)) {
      for (const line of lines) {
        expect(line.rule.why.length, `${notebook} ${line.figures}: a reason`).to.be.greaterThan(10);
        if (line.rule.kind === "close") expect(Math.max(line.rule.abs ?? 0, line.rule.rel ?? 0), `${notebook} ${line.figures}`).to.be.greaterThan(0);
      }
    }
  });

  it("lists no figure twice unless the later line is the general one after row-specific lines", () => {
    for (const [notebook, lines] of Object.entries(WEBGPU_VS_WASM)) {
      const general = lines.filter((l) => !l.where).flatMap((l) => l.figures);
      expect(
        general.filter((f, i) => general.indexOf(f) !== i),
        notebook,
      ).to.deep.equal([]);
      // a row-specific line after the general line for the same figure would never apply
      lines.forEach((line, i) => {
        if (!line.where) return;
        const generalBefore = lines.slice(0, i).some((l) => !l.where && l.figures.some((f) => line.figures.includes(f)));
        expect(generalBefore, `${notebook} ${line.figures} where ${JSON.stringify(line.where)}`).to.equal(false);
      });
    }
  });

  // results.json of each notebook in quick mode on wasm, seed 42, as ./lab run landed them
  const recorded = (stem: string) => JSON.parse(readFileSync(fromRoot("test", "fixtures", "wasm-quick-results", `${stem.slice(0, 2)}.json`), "utf8")).values;

  for (const notebook of Object.keys(WEBGPU_VS_WASM)) {
    it(`states a tolerance for every numeric figure ${notebook} records, and names no figure it does not record`, () => {
      const c = compareFigures(notebook, recorded(notebook), recorded(notebook), WEBGPU_VS_WASM);
      expect(c.figures.filter((f) => f.verdict === "no-tolerance").map((f) => f.figure)).to.deep.equal([]);
      expect(c.unusedRules.map((l) => l.figures)).to.deep.equal([]);
      expect(c.failed).to.equal(0);
    });
  }

  it("passes every float figure under a tolerance that moved in the last bits, as another summation order moves them", () => {
    for (const notebook of Object.keys(WEBGPU_VS_WASM)) {
      const nudged = JSON.parse(JSON.stringify(recorded(notebook), (_key, v) => (typeof v === "number" && !Number.isInteger(v) ? v * (1 + 1e-6) : v)));
      const c = compareFigures(notebook, recorded(notebook), nudged, WEBGPU_VS_WASM);
      expect(
        c.figures.filter((f) => f.rule?.kind === "close" && f.verdict !== "agrees").map((f) => f.figure),
        notebook,
      ).to.deep.equal([]);
    }
  });
});
