import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { datanetIdentification, ngramTfidfScores } from "../../../lib/attribution/evaluation/index.js";
import { FactoryModel, lmBatch } from "../../../lib/attribution/factory-model.js";
import { buildLmDatanets, continuationBatch, type LmDatanetParams, lmAttribution } from "../../../lib/attribution/lm-experiment.js";
import { DataInf, GradDot } from "../../../lib/attribution/methods/index.js";
import { hasCode } from "../../../lib/errors.js";
import { baseModel, fortunesTokenizer, loadOrPretrainBase } from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";

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

  it("identification reads test × window scores with higher = more helpful: a window's own text, as a test point, ranks that window first", async () => {
    // guards the orientation of the score matrix, the sign convention and the window labels the
    // metric compares: a transposed matrix, a flipped sign or windows out of step with their
    // datanets would all move the window itself off the top of its own row
    const { tf } = await initTf({ quiet: true });
    const model = baseModel(tf, "fortunes-gpt");
    const base = loadOrPretrainBase(tf, "fortunes-gpt", { mode: "quick", seed: 1 });
    const T = (model.config as { blockSize: number }).blockSize;
    const tok = fortunesTokenizer();
    const dn = buildLmDatanets(tiny, T, (s) => tok.encode(s));
    const fm = new FactoryModel({ model, weights: base.weights, trainable: ["lm_head.weight"] });
    const params = fm.packWeights(base.weights);
    const train = lmBatch(dn.data.x, dn.data.y, dn.data.n, T);
    // one window of each datanet: its first half as the prompt, the rest of its T + 1 ids as the continuation
    const picks = [0, 1, 2].map((d) => dn.datanetOf.indexOf(d));
    const test = continuationBatch(
      picks.map((i) => {
        const ids = Int32Array.from([...dn.data.x.subarray(i * T, (i + 1) * T), dn.data.y[(i + 1) * T - 1]]);
        return { prompt: ids.slice(0, T / 2), continuation: ids.slice(T / 2) };
      }),
      T,
    );
    const testDatanet = Int32Array.from(picks.map((i) => dn.datanetOf[i]));
    for (const method of [new GradDot({ cosine: true }), new DataInf()]) {
      const s = method.attribute({ model: fm, params, train, test, l2: 0 });
      expect([s.nTest, s.nTrain], method.name).to.deep.equal([picks.length, dn.data.n]);
      picks.forEach((i, t) => {
        const rowScores = Array.from(s.data.subarray(t * s.nTrain, (t + 1) * s.nTrain));
        expect(rowScores.indexOf(Math.max(...rowScores)), `${method.name}, test ${t}`).to.equal(i);
      });
      const r = datanetIdentification(s, dn.datanetOf, testDatanet);
      expect(Number.isFinite(r.auc)).to.equal(true);
    }
  });

  it("the n-gram text baseline scores identical texts 1, shares nothing with disjoint ones, and refuses a bad order by code", () => {
    const s = ngramTfidfScores(["the cat sat", "Q:  why?", "zzzz"], ["the cat sat", "xyxy"], 3);
    expect([s.nTest, s.nTrain]).to.deep.equal([2, 3]);
    expect(s.data[0]).to.be.closeTo(1, 1e-12);
    expect(Array.from(s.data.subarray(3))).to.deep.equal([0, 0, 0]);
    try {
      ngramTfidfScores(["a"], ["a"], 0);
      expect.fail("order 0 accepted");
    } catch (e) {
      expect(hasCode(e, "attribution/ngram-order")).to.equal(true);
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
