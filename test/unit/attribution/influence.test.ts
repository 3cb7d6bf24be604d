import { expect } from "chai";
import { AttributionError, HashMismatchError } from "../../../lib/attribution/errors.js";
import { pearson } from "../../../lib/attribution/evaluation/stats.js";
import { attributionMlp, trainMlp } from "../../../lib/attribution/factory-train.js";
import { sampleFashion } from "../../../lib/attribution/fmnist-features.js";
import { cholesky, conjugateGradient } from "../../../lib/attribution/linalg.js";
import { type AttributionTask, CGInfluence, DataInf, ExactInfluence, GradDot, LiSSAInfluence, type Scores, TRAK, TracInCP } from "../../../lib/attribution/methods/index.js";
import { type Batch, hessianVectorProduct, LogisticRegression, subset } from "../../../lib/attribution/model.js";
import { fitNewton, hashParams } from "../../../lib/attribution/retrain.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });

describe("attribution: influence methods on a small convex problem", function () {
  this.timeout(60_000);
  const train = sampleFashion("train", { n: 100, seed: 1, classes: [0, 1, 7], pool: 7 });
  const test = sampleFashion("test", { n: 8, seed: 2, classes: [0, 1, 7], pool: 7 });
  const model = new LogisticRegression(train.dim, 3);
  const l2 = 1e-2;
  let params: Float64Array;
  let task: AttributionTask;
  let exact: Scores;
  before(async () => {
    params = await fitNewton(model, train, { l2 });
    task = { model, params, train, test, l2, seed: 1 };
    exact = await new ExactInfluence().attribute(task);
  });

  it("exact influence matches actual leave-one-out retraining (Pearson >= 0.9)", async () => {
    const base = (await model.trace(params, test, "loss")).values;
    const predicted: number[] = [];
    const actual: number[] = [];
    for (let i = 0; i < train.n; i++) {
      const keep = Array.from({ length: train.n }, (_, j) => j).filter((j) => j !== i);
      const loo = await fitNewton(model, subset(train, keep), { l2, start: params });
      const after = (await model.trace(loo, test, "loss")).values;
      for (let t = 0; t < test.n; t++) {
        // removing a helpful example (score > 0) raises the test loss by about score / n
        predicted.push(exact.data[t * train.n + i] / train.n);
        actual.push(after[t] - base[t]);
      }
    }
    const r = pearson(predicted, actual);
    expect(r).to.be.at.least(0.9);
  });

  it("conjugate gradient reproduces the exact inverse-Hessian products", async () => {
    const cg = await new CGInfluence({ tol: 1e-12 }).attribute(task);
    for (let i = 0; i < cg.data.length; i++) expect(cg.data[i]).to.be.closeTo(exact.data[i], 1e-6 * (1 + Math.abs(exact.data[i])));
  });

  it("CG refuses an indefinite damped Hessian, naming a damping under which the Hessian is positive definite", async () => {
    // a small MLP a few SGD epochs in is away from a strict minimum: its Hessian is indefinite
    const run = await trainMlp(attributionMlp(tf, train.dim, 4, 3), train, { epochs: 3, batchSize: 25, lr: 0.05, weightDecay: 0, seed: 2, optimizer: "sgd" });
    const mlpTask: AttributionTask = { model: run.model, params: run.params, train, test, l2: 1e-6, seed: 1 };
    const p = run.model.numParams;
    // the damped Hessian built column by column, symmetrised: Cholesky is the independent judge of definiteness
    const hessianAt = async (l2: number) => {
      const M = new Float64Array(p * p);
      for (let c = 0; c < p; c++) {
        const e = new Float64Array(p);
        e[c] = 1;
        const col = await hessianVectorProduct(run.model, run.params, train, e, l2);
        for (let r = 0; r < p; r++) M[r * p + c] += col[r] / 2;
        for (let r = 0; r < p; r++) M[c * p + r] += col[r] / 2;
      }
      return M;
    };
    const indefinite = await hessianAt(mlpTask.l2);
    expectCode(() => cholesky(indefinite, p), AttributionError, "linalg/not-positive-definite");
    const { fields } = await expectCodeAsync(new CGInfluence().attribute(mlpTask), AttributionError, "influence/indefinite-hessian", { l2: 1e-6 });
    expect(fields.smallestEigenvalue as number).to.be.below(0);
    const suggested = fields.suggestedL2 as number;
    const damped = await hessianAt(suggested);
    expect(() => cholesky(damped, p), "the suggested damping makes the Hessian positive definite").to.not.throw();
    const scores = await new CGInfluence().attribute({ ...mlpTask, l2: suggested });
    expect(scores.data.every(Number.isFinite)).to.equal(true);
  });

  it("LiSSA refuses an indefinite damped Hessian before spending its iterations, naming a damping that makes it positive definite", async () => {
    // the same MLP three SGD epochs in: away from a strict minimum, its Hessian has negative curvature
    const run = await trainMlp(attributionMlp(tf, train.dim, 4, 3), train, { epochs: 3, batchSize: 25, lr: 0.05, weightDecay: 0, seed: 2, optimizer: "sgd" });
    const mlpTask: AttributionTask = { model: run.model, params: run.params, train, test, l2: 1e-6, seed: 1 };
    const depth = 200;
    const { fields } = await expectCodeAsync(new LiSSAInfluence({ depth, repeats: 1, seed: 3 }).attribute(mlpTask), AttributionError, "influence/indefinite-hessian", { l2: 1e-6, chain: 0 });
    expect(fields.curvature as number).to.be.at.most(0);
    expect(fields.iteration as number).to.be.below(depth - 1);
    const suggested = fields.suggestedL2 as number;
    expect(suggested).to.be.at.least(2 * Math.abs(fields.curvature as number));
    const p = run.model.numParams;
    const damped = new Float64Array(p * p);
    for (let c = 0; c < p; c++) {
      const e = new Float64Array(p);
      e[c] = 1;
      const col = await hessianVectorProduct(run.model, run.params, train, e, suggested);
      for (let r = 0; r < p; r++) damped[r * p + c] = col[r];
    }
    expect(() => cholesky(damped, p), "the suggested damping makes the Hessian positive definite").to.not.throw();
  });

  it("LiSSA stops a series that grows past what a converging one can reach", async () => {
    // logistic regression with its Hessian replaced by an explicit operator: I on the whole training
    // set, which sets LiSSA's scale to 1.1, but 30·I on its minibatches, so each step multiplies
    // the iterate by 1 − 30/1.1
    const steep = Object.assign(Object.create(model) as LogisticRegression, { hvp: async (_p: Float64Array, b: Batch, v: Float64Array) => v.map((x) => (b.n === train.n ? 1 : 30) * x) });
    const { fields } = await expectCodeAsync(
      new LiSSAInfluence({ depth: 50, batchSize: 10, repeats: 1, seed: 1 }).attribute({ ...task, model: steep, l2: 0 }),
      AttributionError,
      "influence/lissa-diverged",
      {
        chain: 0,
        batchSize: 10,
      },
    );
    expect(fields.scale as number).to.be.closeTo(1.1, 1e-9);
    expect(fields.iteration as number).to.be.below(49);
  });

  it("conjugate gradient stops on a non-finite product or a negative curvature instead of returning NaN", async () => {
    const overflowing = async (v: Float64Array) => v.map((x) => x * Number.MAX_VALUE * 10);
    await expectCodeAsync(conjugateGradient(overflowing, Float64Array.from([1, 1])), AttributionError, "cg/diverged", { iteration: 0 });
    const indefinite = async (v: Float64Array) => Float64Array.from([v[0], -0.5 * v[1]]);
    const { fields } = await expectCodeAsync(conjugateGradient(indefinite, Float64Array.from([0, 1])), AttributionError, "cg/negative-curvature", { iteration: 0 });
    expect(fields.rayleigh).to.equal(-0.5);
  });

  it("LiSSA converges towards exact influence, and the same seed gives identical scores", async () => {
    const a = await new LiSSAInfluence({ depth: 300, seed: 5 }).attribute(task);
    const b = await new LiSSAInfluence({ depth: 300, seed: 5 }).attribute(task);
    expect(a.data).to.deep.equal(b.data);
    expect(pearson(Array.from(a.data), Array.from(exact.data))).to.be.at.least(0.98);
  });

  it("TRAK and Grad-Dot are deterministic under a seed; TRAK's projection seed matters", async () => {
    const t1 = await new TRAK({ projectionDim: 24, seed: 3 }).attribute(task);
    const t2 = await new TRAK({ projectionDim: 24, seed: 3 }).attribute(task);
    const t3 = await new TRAK({ projectionDim: 24, seed: 4 }).attribute(task);
    expect(t1.data).to.deep.equal(t2.data);
    expect(t1.data).to.not.deep.equal(t3.data);
    expect((await new GradDot().attribute(task)).data).to.deep.equal((await new GradDot().attribute(task)).data);
  });

  it("a model whose parameters do not match the recorded hash is refused", async () => {
    const tampered = new Float64Array(params);
    tampered[3] += 1e-6;
    for (const m of [new ExactInfluence(), new DataInf(), new GradDot()]) {
      await expectCodeAsync(m.attribute({ ...task, params: tampered, paramsHash: hashParams(params) }), HashMismatchError, "attribution/params-hash-mismatch");
    }
  });

  it("TracIn-CP sums learning-rate-weighted dot products over verified checkpoints", async () => {
    const run = await trainMlp(attributionMlp(tf, train.dim, 8, 3), train, { epochs: 4, batchSize: 25, lr: 0.05, weightDecay: 0, seed: 2, optimizer: "sgd", checkpointEvery: 2 });
    expect(run.checkpoints).to.have.length(2);
    const t = { model: run.model, params: run.params, train, test, l2: 1e-3, checkpoints: run.checkpoints };
    const tracin = await new TracInCP().attribute(t);
    const manual = new Float64Array(tracin.data.length);
    for (const cp of run.checkpoints) {
      const s = await new GradDot().attribute({ ...t, params: cp.params });
      for (let i = 0; i < manual.length; i++) manual[i] += cp.lr * s.data[i];
    }
    for (let i = 0; i < manual.length; i++) expect(tracin.data[i]).to.be.closeTo(manual[i], 1e-9 * (1 + Math.abs(manual[i])));
    const bad = run.checkpoints.map((c) => ({ ...c, params: new Float64Array(c.params) }));
    bad[1].params[0] += 1;
    const refused = await expectCodeAsync(new TracInCP().attribute({ ...t, checkpoints: bad }), HashMismatchError, "attribution/checkpoint-hash-mismatch", { recorded: bad[1].hash });
    expect(refused.fields.label).to.match(/^checkpoint 1 /);
  });
});

describe("attribution: determinism", () => {
  it("the same seed trains bit-identical parameters and gives identical TracIn scores; another seed does not", async () => {
    const train = sampleFashion("train", { n: 60, seed: 4, classes: [0, 1, 7], pool: 7 });
    const test = sampleFashion("test", { n: 4, seed: 5, classes: [0, 1, 7], pool: 7 });
    const mlp = attributionMlp(tf, train.dim, 6, 3);
    const opts = { epochs: 3, batchSize: 20, lr: 0.01, weightDecay: 1e-3, seed: 11, checkpointEvery: 1 };
    const a = await trainMlp(mlp, train, opts),
      b = await trainMlp(mlp, train, opts),
      c = await trainMlp(mlp, train, { ...opts, seed: 12 });
    expect(a.params).to.deep.equal(b.params);
    expect(a.params).to.not.deep.equal(c.params);
    expect(a.checkpoints.map((cp) => cp.hash)).to.deep.equal(b.checkpoints.map((cp) => cp.hash));
    const score = async (r: typeof a) => (await new TracInCP().attribute({ model: r.model, params: r.params, train, test, l2: 1e-3, checkpoints: r.checkpoints })).data;
    expect(await score(a)).to.deep.equal(await score(b));
  });
});

describe("attribution: exact Hessian", () => {
  it("logistic regression's direct Hessian equals its columns of exact Hessian-vector products", async () => {
    const train = sampleFashion("train", { n: 40, seed: 3, classes: [0, 1, 7], pool: 14 });
    const model = new LogisticRegression(train.dim, 3);
    const params = Float64Array.from({ length: model.numParams }, (_, i) => Math.sin(i));
    const H = await model.hessian(params, train);
    const p = model.numParams;
    for (let j = 0; j < p; j++) {
      const e = new Float64Array(p);
      e[j] = 1;
      const col = await model.hvp(params, train, e);
      for (let i = 0; i < p; i++) expect(H[i * p + j]).to.be.closeTo(col[i], 1e-12);
    }
  });
});
