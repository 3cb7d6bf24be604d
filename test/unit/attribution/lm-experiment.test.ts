import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { buildLmDatanets, type LmDatanetParams, lmAttribution } from "../../../lib/attribution/lm-experiment.js";
import { fortunesTokenizer } from "../../../lib/intelligence/index.js";

const tiny: LmDatanetParams = {
  seed: 3,
  pretrain: "quick",
  baseSeed: 1,
  documentsPerDatanet: 4,
  heldOutPerDatanet: 2,
  stride: 24,
  lora: { r: 1, alpha: 2, targets: ["lm_head"] },
  steps: 4,
  batchSize: 8,
  lr: 0.01,
  warmupSteps: 1,
  checkpointEvery: 2,
  promptChars: 8,
  continuationChars: 8,
  generatedPerDatanet: 1,
  temperature: 0.6,
  trakModels: 1,
  trakDim: 8,
  trakRidge: 0,
  ldsSubsets: 2,
  counterfactualK: 2,
  counterfactualTests: 1,
  matchMinLength: 4,
  topDocuments: 2,
};

describe("attribution: the language-model experiment", function () {
  this.timeout(300_000);

  it("cuts each datanet's documents into windows that remember their document, contributor and datanet", () => {
    const tok = fortunesTokenizer();
    const dn = buildLmDatanets(tiny, 48, (s) => tok.encode(s));
    expect(dn.datanets).to.deep.equal(["fortunes-fortunes", "fortunes-literature", "fortunes-riddles"]);
    expect(dn.documents).to.have.length(12);
    expect(dn.heldOut.map((h) => h.length)).to.deep.equal([2, 2, 2]);
    for (const held of dn.heldOut) for (const doc of held) expect(dn.documents.some((d) => d.text === doc)).to.equal(false);
    for (let i = 0; i < dn.data.n; i++) {
      const doc = dn.documents[dn.documentOf[i]];
      expect(doc.datanet).to.equal(dn.datanetOf[i]);
      expect(doc.contributor).to.equal(dn.contributorOf[i]);
      expect(dn.contributors[dn.contributorOf[i]].startsWith(["fortunes", "literature", "riddles"][dn.datanetOf[i]])).to.equal(true);
    }
  });

  it("scores every window by every method, rolls up to shares, and reproduces under its seed", async () => {
    const a = await lmAttribution({ ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "lm-exp-")) });
    const b = await lmAttribution({ ...tiny, gradientStore: mkdtempSync(join(tmpdir(), "lm-exp-")) });
    for (const k of ["datainf", "tracin_cp", "trak", "grad_cos"]) {
      expect(a.identificationScores[k].nTrain).to.equal(a.metrics.train_windows);
      expect(a.metrics[`auc_${k}`]).to.be.within(0, 1);
      expect(Number.isFinite(a.metrics[`lds_${k}`])).to.equal(true);
      const shares = a.rollups[k].datanets.map((d) => d.weight);
      const total = shares.reduce((s, v) => s + v, 0);
      expect(total === 0 || Math.abs(total - 1) < 1e-9).to.equal(true);
    }
    for (const g of a.generated) expect(g.continuation).to.have.length(tiny.continuationChars);
    for (const key of Object.keys(a.metrics).filter((k) => !k.includes("seconds") && !k.startsWith("gradient_sets"))) expect(b.metrics[key], key).to.equal(a.metrics[key]);
  });
});
