import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { loadAttributionSpec, runSpecExperiments } from "../../../lib/attribution/experiments/registry.js";

describe("attribution: specs run one after another", function () {
  this.timeout(300_000);

  it("reports each spec as it starts and the total at the end, and the report changes no number", async () => {
    const logreg = loadAttributionSpec("logreg-fmnist");
    // the spec's own experiment, shrunk further, under two names; the gradient store is a fresh folder
    const tiny = { ...logreg.quick, nTrain: 80, nTest: 6, ldsSubsets: 6, trakModels: 2, trakDim: 32, looExamples: 6, counterfactualK: 5, counterfactualTests: 2, lissaDepth: 10, lissaRepeats: 2 };
    const specs = ["first", "second"].map((name) => ({ ...logreg, name, quick: { ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "spec-progress-")) } }));
    const reported: Array<[number, number, string | undefined]> = [];
    const measured = await runSpecExperiments(specs, { quick: true, onProgress: (done, total, stage) => reported.push([done, total, stage]) });
    expect(reported).to.deep.equal([
      [0, 2, "first"],
      [1, 2, "second"],
      [2, 2, undefined],
    ]);
    const stable = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.includes("seconds") && !k.startsWith("gradient_sets")));
    const unreported = await runSpecExperiments([{ ...specs[0], quick: { ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "spec-progress-")) } }], { quick: true });
    expect(stable(measured.first)).to.deep.equal(stable(unreported.first));
    expect(stable(measured.second)).to.deep.equal(stable(measured.first));
  });
});
