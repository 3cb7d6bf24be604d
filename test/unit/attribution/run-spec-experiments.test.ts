import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { loadAttributionSpec, runSpecExperiments } from "../../../lib/attribution/experiments/registry.js";

describe("attribution: specs run one after another", function () {
  this.timeout(300_000);

  it("reports each spec as it starts, each line its experiment logs under its name, and the total at the end; the report changes no number", async () => {
    const logreg = loadAttributionSpec("logreg-fmnist");
    // the spec's own experiment, shrunk further, under two names; the gradient store is a fresh folder
    const tiny = { ...logreg.quick, nTrain: 80, nTest: 6, ldsSubsets: 6, trakModels: 2, trakDim: 32, looExamples: 6, counterfactualK: 5, counterfactualTests: 2, lissaDepth: 10, lissaRepeats: 2 };
    const specs = ["first", "second"].map((name) => ({ ...logreg, name, quick: { ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "spec-progress-")) } }));
    const reported: Array<[number, number, string | undefined]> = [];
    const logged: string[] = [];
    const measured = await runSpecExperiments(specs, { quick: true, log: (line) => logged.push(line), onProgress: (done, total, stage) => reported.push([done, total, stage]) });
    // each spec: its name as it starts, then every line its experiment logs, under its name, in order
    const lines = logged.map((l) => l.trim());
    const second = reported.findIndex(([done]) => done === 1);
    expect(second - 1).to.be.greaterThan(2);
    expect(reported[0]).to.deep.equal([0, 2, "first"]);
    expect(reported.slice(1, second)).to.deep.equal(lines.slice(0, second - 1).map((l) => [0, 2, `first: ${l}`]));
    expect(reported[second]).to.deep.equal([1, 2, "second"]);
    expect(reported.slice(second + 1, -1)).to.deep.equal(lines.slice(second - 1).map((l) => [1, 2, `second: ${l}`]));
    expect(reported.at(-1)).to.deep.equal([2, 2, undefined]);
    const stable = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.includes("seconds") && !k.startsWith("gradient_sets")));
    const unreported = await runSpecExperiments([{ ...specs[0], quick: { ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "spec-progress-")) } }], { quick: true });
    expect(stable(measured.first)).to.deep.equal(stable(unreported.first));
    expect(stable(measured.second)).to.deep.equal(stable(measured.first));
  });
});
