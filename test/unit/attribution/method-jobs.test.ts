import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { buildLmDatanets, lmRetrainJob } from "../../../lib/attribution/experiments/index.js";
import { FactoryModel, lmBatch } from "../../../lib/attribution/factory-model.js";
import { attributionMlp, trainLoraMlp, trainMlp } from "../../../lib/attribution/factory-train.js";
import { sampleFashion } from "../../../lib/attribution/fmnist-features.js";
import { GradientStore, perExampleGradients } from "../../../lib/attribution/gradients.js";
import { lmAdapterModel, lmLoraRecipe, recipeOf } from "../../../lib/attribution/job-models.js";
import { loadLmBase } from "../../../lib/attribution/lm-base.js";
import { type AttributionTask, LiSSAInfluence, TRAK } from "../../../lib/attribution/methods/index.js";
import { LogisticRegression, subset } from "../../../lib/attribution/model.js";
import { fitNewton } from "../../../lib/attribution/retrain.js";
import { LabError } from "../../../lib/errors.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCodeAsync } from "../expect-code.js";
import { tinyLmParams } from "./fixtures.js";

const { tf } = await initTf({ quiet: true });

/** The bits of a vector, so that equal means bit-identical (not merely close). */
const bits = (v: Float64Array) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");

/**
 * LiSSA's chains, TRAK's ensemble members and the shards of a per-example gradient set run as
 * worker jobs (lib/worker-pool.ts): with two workers the numbers are those of one, bit for bit,
 * for the logistic regression (plain JavaScript in each worker) and the Factory MLP (TensorFlow.js
 * in each worker, rebuilt from its recipe).
 */
describe("attribution: methods' independent work on worker threads", function () {
  this.timeout(300_000);
  const train = sampleFashion("train", { n: 120, seed: 1, classes: [0, 1, 7], pool: 7 });
  const test = sampleFashion("test", { n: 4, seed: 2, classes: [0, 1, 7], pool: 7 });
  const logreg = new LogisticRegression(train.dim, 3);
  let logregTask: AttributionTask;
  let mlpTask: AttributionTask;
  before(async () => {
    const params = await fitNewton(logreg, train, { l2: 1e-2 });
    logregTask = { model: logreg, params, train, test, l2: 1e-2, seed: 1, ensemble: [{ params }, { params: params.map((x) => x * 0.9) }, { params: params.map((x) => x * 1.1) }] };
    const options = { epochs: 2, batchSize: 20, lr: 0.05, weightDecay: 0, seed: 2 };
    const [a, b] = [await trainMlp(attributionMlp(tf, train.dim, 6, 3), train, options), await trainMlp(attributionMlp(tf, train.dim, 6, 3), train, { ...options, seed: 3 })];
    mlpTask = { model: a.model, params: a.params, train, test, l2: 0.5, seed: 1, ensemble: [{ params: a.params }, { params: b.params }] };
  });

  it("a model has a recipe where a worker can rebuild it: the logistic regression and the fully trained Factory MLP, not the Factory MLP's LoRA adapter", async () => {
    expect(recipeOf(logreg)).to.deep.equal({ kind: "logistic-regression", inputDim: train.dim, numClasses: 3 });
    expect(recipeOf(mlpTask.model)).to.deep.equal({ kind: "factory-mlp", inputDim: train.dim, hidden: 6, numClasses: 3 });
    const base = await trainMlp(attributionMlp(tf, train.dim, 6, 3), train, { epochs: 1, batchSize: 20, lr: 0.05, weightDecay: 0, seed: 2 });
    const lora = await trainLoraMlp(base.model.model, base.weights, train, { r: 2, alpha: 4, targets: ["fc1"] }, { epochs: 1, batchSize: 20, lr: 0.05, weightDecay: 0, seed: 2 });
    expect(lora.model).to.be.instanceOf(FactoryModel);
    expect(recipeOf(lora.model)).to.equal(undefined);
  });

  it("LiSSA's repeats (independent chains) give bit-identical scores for 1 and 2 workers", async () => {
    const lissa = (depth: number, workers: number, repeats = 3) => new LiSSAInfluence({ depth, repeats, batchSize: 30, seed: 4, pool: { workers } });
    const one = await lissa(40, 1).attribute(logregTask);
    expect(bits((await lissa(40, 2).attribute(logregTask)).data)).to.equal(bits(one.data));
    expect(bits(await lissa(40, 2).selfInfluence(logregTask))).to.equal(bits(await lissa(40, 1).selfInfluence(logregTask)));
    // the chains differ: one chain alone gives other scores
    expect(bits((await lissa(40, 1, 1).attribute(logregTask)).data)).to.not.equal(bits(one.data));
    // the Factory MLP: TensorFlow.js Hessian-vector products in each worker
    expect(bits((await lissa(4, 2).attribute(mlpTask)).data)).to.equal(bits((await lissa(4, 1).attribute(mlpTask)).data));
  });

  it("TRAK's ensemble members give bit-identical scores and self-influence for 1 and 2 workers, with a gradient store too", async () => {
    for (const task of [logregTask, mlpTask]) {
      const trak = (workers: number) => new TRAK({ projectionDim: 16, seed: 1, ridge: 1e-3, pool: { workers } });
      const one = await trak(1).attribute(task);
      const two = await trak(2).attribute(task);
      expect(two.method).to.equal(`trak-${task.ensemble!.length}`);
      expect(bits(two.data)).to.equal(bits(one.data));
      expect(bits(await trak(2).selfInfluence(task))).to.equal(bits(await trak(1).selfInfluence(task)));
      // with a gradient store: the members it lacks run on the workers and it keeps their sets; read back, the same scores
      const gradients = new GradientStore(mkdtempSync(join(tmpdir(), "trak-jobs-")));
      expect(bits((await trak(2).attribute({ ...task, gradients })).data)).to.equal(bits(one.data));
      expect(gradients.misses).to.equal(2 * task.ensemble!.length);
      expect(bits((await trak(2).attribute({ ...task, gradients })).data)).to.equal(bits(one.data));
      expect(gradients.hits).to.equal(2 * task.ensemble!.length);
    }
  });

  it("an lm experiment's LoRA adapter has a recipe: TRAK's members on the GPT, rebuilt on the base in each worker, give bit-identical scores for 1 and 2 workers", async () => {
    const p = { ...tinyLmParams, lora: { r: 1, alpha: 2, targets: ["v_proj", "lm_head"] }, steps: 2 };
    const { tokenizer, blockSize: T } = await loadLmBase(tf, p);
    const dn = buildLmDatanets(p, T, (s) => tokenizer.encode(s));
    // two members: LoRA runs of the experiment under two seeds (its re-training job, here in this process)
    const members = [await lmRetrainJob({ p, data: dn.data, seed: 3 }), await lmRetrainJob({ p, data: dn.data, seed: 4 })];
    // the attributed model as a worker rebuilds it: the base and an adapter of the run's shape, whose factors the members' vectors replace
    const fm = await lmAdapterModel(tf, lmLoraRecipe(p, p.lora));
    expect(recipeOf(fm)).to.deep.equal({ kind: "lm-lora", base: { pretrain: "quick", baseSeed: 1 }, lora: p.lora });
    const train = lmBatch(dn.data.x, dn.data.y, dn.data.n, T);
    const task: AttributionTask = { model: fm, params: members[0], train, test: subset(train, [0, 3, 7]), l2: 0, seed: 1, ensemble: members.map((params) => ({ params })) };
    const trak = (workers: number) => new TRAK({ projectionDim: 8, seed: 1, ridge: 1e-3, pool: { workers } });
    const one = await trak(1).attribute(task);
    expect(bits((await trak(2).attribute(task)).data)).to.equal(bits(one.data));
    expect(bits(await trak(2).selfInfluence(task))).to.equal(bits(await trak(1).selfInfluence(task)));
    // the members differ, and so do the scores of one member alone
    expect(bits(members[1])).to.not.equal(bits(members[0]));
    expect(bits((await trak(1).attribute({ ...task, ensemble: [{ params: members[0] }] })).data)).to.not.equal(bits(one.data));
  });

  it("a worker's refusal reaches the caller with its code and fields: TRAK's singular ΦᵀΦ", async () => {
    const trak = new TRAK({ projectionDim: 200, seed: 1, pool: { workers: 2 } });
    await expectCodeAsync(trak.attribute(logregTask), LabError, "trak/singular-gram", { projectionDim: 200, nTrain: train.n, ridge: 0 });
  });

  it("per-example gradient shards are bit-identical on 1 and 2 workers and in process, projected or not", async () => {
    for (const task of [logregTask, mlpTask]) {
      for (const projection of [undefined, { kind: "rademacher" as const, dim: 12, seed: 5 }]) {
        const grads = async (pool?: { workers: number }) => (await perExampleGradients(task.model, task.params, train, { chunk: 50, projection, pool })).data;
        const here = await grads();
        expect(bits(await grads({ workers: 1 }))).to.equal(bits(here));
        expect(bits(await grads({ workers: 2 }))).to.equal(bits(here));
      }
    }
  });
});
