import { expect } from "chai";
import {
  counterfactualRemoval,
  datanetIdentification,
  flipLabels,
  identificationConfusion,
  lds,
  ldsGroundTruth,
  looCorrelation,
  pearson,
  ranks,
  rocAuc,
  sampleSubsets,
  spearman,
} from "../../../lib/attribution/evaluation/index.js";
import type { Scores } from "../../../lib/attribution/methods/attributor.js";

const S = (rows: number[][]): Scores => ({ method: "test", nTest: rows.length, nTrain: rows[0].length, data: Float64Array.from(rows.flat()) });

describe("attribution: evaluation metrics", () => {
  it("ranks average ties; Spearman and Pearson match hand values", () => {
    expect(Array.from(ranks([10, 20, 20, 5]))).to.deep.equal([2, 3.5, 3.5, 1]);
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).to.be.closeTo(1, 1e-15);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).to.be.closeTo(-1, 1e-15);
    // x = 1..5, y = 2, 4, 5, 4, 5: r = 6 / sqrt(10 · 6)
    expect(pearson([1, 2, 3, 4, 5], [2, 4, 5, 4, 5])).to.be.closeTo(6 / Math.sqrt(60), 1e-12);
  });
  it("ROC AUC is the Mann–Whitney statistic with ties counted half", () => {
    expect(rocAuc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])).to.equal(1);
    expect(rocAuc([0.9, 0.8, 0.3, 0.1], [0, 0, 1, 1])).to.equal(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 0])).to.equal(0.5);
    expect(rocAuc([0.9, 0.2, 0.5, 0.1], [1, 1, 0, 0])).to.equal(0.75);
  });
  it("LDS is 1 for an attribution whose subset sums rank the outputs exactly, and seeded subsets are half-size and reproducible", async () => {
    const subsets = sampleSubsets(20, 12, 0.5, 3);
    expect(subsets.every((s) => s.length === 10)).to.equal(true);
    expect(sampleSubsets(20, 12, 0.5, 3)).to.deep.equal(subsets);
    const tau = Array.from({ length: 20 }, (_, i) => Math.sin(i + 1));
    const gt = await ldsGroundTruth(subsets, (s) => Float64Array.of([...s].reduce((a, i) => a + tau[i], 0) ** 3));
    expect(lds(S([tau]), gt).lds).to.be.closeTo(1, 1e-12);
    expect(lds(S([tau.map((v) => -v)]), gt).lds).to.be.closeTo(-1, 1e-12);
  });
  it("LOO correlation compares scores with the output lost when each example is removed", () => {
    const looOutputs = [0.5, 0.9, 0.1].map((v) => Float64Array.of(v));
    expect(looCorrelation(S([[0.5, 0.1, 0.9]]), looOutputs, Float64Array.of(1)).corr).to.be.closeTo(1, 1e-12);
  });
  it("datanet identification: AUC and DataInf's top-|D| recall", () => {
    const r = datanetIdentification(S([[5, 4, 1, 3, 0]]), Int32Array.from([0, 0, 1, 1, 1]), Int32Array.from([0]));
    expect(r.auc).to.equal(1);
    expect(r.recall).to.equal(1);
    const r2 = datanetIdentification(S([[5, 1, 4, 0, 0]]), Int32Array.from([0, 0, 1, 1, 1]), Int32Array.from([0]));
    expect(r2.recall).to.equal(0.5);
  });
  it("identification confusion: each test point counted under the datanet whose examples score highest on average", () => {
    // datanets 0 (two examples), 1 (three) and 2 (one); means per test: [4.5, 1.33, 2], [3, 4, 0], [0.5, 1, 6], [1, 0, 0]
    const scores = S([
      [5, 4, 1, 3, 0, 2],
      [3, 3, 4, 4, 4, 0],
      [0, 1, 1, 1, 1, 6],
      [1, 1, 0, 0, 0, 0],
    ]);
    const counts = identificationConfusion(scores, Int32Array.from([0, 0, 1, 1, 1, 2]), Int32Array.from([0, 0, 2, 1]), 3);
    expect(counts).to.deep.equal([
      [1, 1, 0],
      [1, 0, 0],
      [0, 0, 1],
    ]);
  });
  it("label flips hit exactly 10% of examples, always to another class", () => {
    const batch = { n: 50, dim: 1, x: new Float64Array(50), y: Int32Array.from({ length: 50 }, (_, i) => i % 10) };
    const { batch: noisy, flipped } = flipLabels(batch, 10, 0.1, 1);
    expect(flipped.reduce((a, b) => a + b, 0)).to.equal(5);
    for (let i = 0; i < 50; i++) expect(noisy.y[i] !== batch.y[i]).to.equal(flipped[i] === 1);
  });
  it("counterfactual removal drops the top-k scored examples", async () => {
    const removed: number[][] = [];
    const r = await counterfactualRemoval(
      S([[0.1, 0.9, 0.5, 0.7]]),
      2,
      [0],
      async (rm) => {
        removed.push(rm);
        return rm.length;
      },
      () => 0,
      1,
    );
    expect(removed[0]).to.deep.equal([1, 3]);
    expect(r.topK).to.equal(2);
  });
});
