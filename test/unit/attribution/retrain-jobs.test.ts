import { expect } from "chai";
import { sampleSubsets } from "../../../lib/attribution/evaluation/index.js";
import { sampleFashion } from "../../../lib/attribution/fmnist-features.js";
import { type RetrainSpec, retrainAll } from "../../../lib/attribution/retrain-jobs.js";
import { LabError } from "../../../lib/errors.js";
import { expectCodeAsync } from "../expect-code.js";

/** The bits of each vector, so that equal means bit-identical (not merely close). */
const bits = (vs: Float64Array[]) => vs.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex"));

describe("attribution: re-trainings on worker threads (lib/attribution/retrain-jobs.ts)", function () {
  this.timeout(300_000);
  const sample = sampleFashion("train", { n: 60, seed: 1, classes: [0, 1, 7], pool: 7 });
  const train = { x: sample.x, y: sample.y, n: sample.n, dim: sample.dim };
  const subsets = sampleSubsets(train.n, 4, 0.5, 1);

  it("an LDS set of Newton refits of the logistic regression is bit-identical for 1 and 2 workers", async () => {
    const specs: RetrainSpec[] = subsets.map((rows) => ({ model: { kind: "logistic-regression", inputDim: train.dim, numClasses: 10 }, train, rows, fit: { method: "newton", l2: 0.01 } }));
    const one = await retrainAll(specs, { workers: 1 });
    const two = await retrainAll(specs, { workers: 2 });
    expect(bits(two)).to.deep.equal(bits(one));
    expect(new Set(bits(one)).size).to.equal(subsets.length, "each subset gives its own model");
  });

  it("an LDS set of the Factory MLP's seeded re-trainings (TensorFlow.js in each worker) is bit-identical for 1 and 2 workers", async () => {
    const options = { epochs: 2, batchSize: 10, lr: 0.01, weightDecay: 0.001, seed: 5 };
    const specs: RetrainSpec[] = subsets.map((rows) => ({ model: { kind: "factory-mlp", inputDim: train.dim, hidden: 8, numClasses: 10 }, train, rows, fit: { method: "factory", options } }));
    const one = await retrainAll(specs, { workers: 1 });
    const two = await retrainAll(specs, { workers: 2 });
    expect(bits(two)).to.deep.equal(bits(one));
    expect(one[0].length).to.equal(train.dim * 8 + 8 + 8 * 10 + 10);
  });

  it("refuses a fit the model has not, naming both, from a worker as in process", async () => {
    const spec: RetrainSpec = {
      model: { kind: "logistic-regression", inputDim: train.dim, numClasses: 10 },
      train,
      fit: { method: "factory", options: { epochs: 1, batchSize: 10, lr: 0.01, weightDecay: 0, seed: 1 } },
    };
    for (const workers of [1, 2]) await expectCodeAsync(retrainAll([spec, spec], { workers }), LabError, "attribution/no-such-fit", { model: "logistic-regression", fit: "factory" });
  });
});
