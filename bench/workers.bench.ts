/**
 * The attribution methods' independent work on worker threads (lib/worker-pool.ts), one worker
 * against every core, in one run, at the sizes of the experiments that spend it:
 *  - LiSSA's repeats (independent chains) on logreg-fmnist's logistic regression (its depth and
 *    repeats, its test set's inverse-Hessian products);
 *  - TRAK's ensemble members' features on mlp-fmnist's MLP (its members, projection and ridge;
 *    the members here are re-trainings under other seeds, as the experiment's);
 *  - the shards of one per-example gradient set of that MLP (opt-in: GradientOptions.pool);
 *  - TRAK's members' features on lm-datanets' LoRA adapter of the GPT (its members,
 *    projection, windows and test points cut to the held-out windows' count; each worker rebuilds
 *    the adapter on the base it loads from the base-model cache).
 * Each row checks that the scores are bit-identical for both counts.
 */
import { availableParallelism } from "node:os";
import { resolveTrakRidge } from "../lib/attribution/experiments/context.js";
import { buildLmDatanets, type LmDatanetParams, lmRetrainJob, loadAttributionSpec } from "../lib/attribution/experiments/index.js";
import { lmBatch } from "../lib/attribution/factory-model.js";
import { attributionMlp, trainMlp } from "../lib/attribution/factory-train.js";
import { sampleFashion } from "../lib/attribution/fmnist-features.js";
import { perExampleGradients } from "../lib/attribution/gradients.js";
import { lmAdapterModel, lmLoraRecipe } from "../lib/attribution/job-models.js";
import { heldLmBase } from "../lib/attribution/lm-base.js";
import { type AttributionTask, LiSSAInfluence, TRAK } from "../lib/attribution/methods/index.js";
import { LogisticRegression, subset } from "../lib/attribution/model.js";
import { fitNewton } from "../lib/attribution/retrain.js";
import { printTable } from "../lib/bench/bench-tables.js";
import { experimentParams } from "../lib/experiments/index.js";
import { initTf } from "../lib/tf/index.js";

const quick = process.argv.includes("--quick");
const cores = availableParallelism();
const { tf } = await initTf({ quiet: true });

type Logreg = { seed: number; nTrain: number; nTest: number; pool: number; l2: number; lissaDepth: number; lissaRepeats: number };
type Mlp = {
  seed: number;
  nTrain: number;
  nTest: number;
  pool: number;
  hidden: number;
  l2: number;
  epochs: number;
  batchSize: number;
  lr: number;
  trakModels: number;
  trakDim: number;
  trakRidge: number | "objective";
};

const sameBits = (a: Float64Array, b: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** Wall seconds and the answer of `run` on one worker and on every core. */
async function oneAndAll(run: (workers: number) => Promise<Float64Array>): Promise<{ one: number; all: number; identical: boolean }> {
  const timed = async (workers: number) => {
    const t0 = performance.now();
    const out = await run(workers);
    return { s: (performance.now() - t0) / 1000, out };
  };
  const one = await timed(1);
  const all = await timed(cores);
  return { one: one.s, all: all.s, identical: sameBits(one.out, all.out) };
}

type Row = Record<string, string | number>;
const rows: Row[] = [];
const record = (work: string, jobs: number, r: { one: number; all: number; identical: boolean }) =>
  rows.push({ work, jobs, "1 worker (s)": r.one, [`${cores} workers (s)`]: r.all, gain: r.one / r.all, scores: r.identical ? "identical" : "DIFFERENT" });

// LiSSA on logreg-fmnist's logistic regression
{
  const p = experimentParams<Logreg>(loadAttributionSpec("logreg-fmnist"), { quick });
  const train = sampleFashion("train", { n: p.nTrain, seed: p.seed, pool: p.pool });
  const test = sampleFashion("test", { n: p.nTest, seed: p.seed + 1, pool: p.pool });
  const model = new LogisticRegression(train.dim, 10);
  const task: AttributionTask = { model, params: await fitNewton(model, train, { l2: p.l2 }), train, test, l2: p.l2, seed: p.seed };
  const r = await oneAndAll(async (workers) => (await new LiSSAInfluence({ depth: p.lissaDepth, repeats: p.lissaRepeats, seed: p.seed, pool: { workers } }).attribute(task)).data);
  record(`LiSSA chains, logreg-fmnist (depth ${p.lissaDepth}, ${p.nTrain} × ${p.nTest})`, p.lissaRepeats, r);
}

// TRAK's members and a gradient set's shards on mlp-fmnist's MLP
{
  const p = experimentParams<Mlp>(loadAttributionSpec("mlp-fmnist"), { quick });
  const train = sampleFashion("train", { n: p.nTrain, seed: p.seed, pool: p.pool });
  const test = sampleFashion("test", { n: p.nTest, seed: p.seed + 1, pool: p.pool });
  const trainMember = (seed: number) => trainMlp(attributionMlp(tf, train.dim, p.hidden, 10), train, { epochs: p.epochs, batchSize: p.batchSize, lr: p.lr, weightDecay: p.l2, seed });
  const members = [];
  for (let m = 0; m < p.trakModels; m++) members.push(await trainMember(p.seed + m));
  const model = members[0].model;
  const task: AttributionTask = { model, params: members[0].params, train, test, l2: p.l2, seed: p.seed, ensemble: members.map((m) => ({ params: m.params })) };
  const ridge = resolveTrakRidge(p.trakRidge, train.n, p.l2, model.numParams, p.trakDim);
  const trak = await oneAndAll(async (workers) => (await new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge, pool: { workers } }).attribute(task)).data);
  record(`TRAK members, mlp-fmnist (projection ${p.trakDim}, ${p.nTrain} × ${p.nTest})`, p.trakModels, trak);
  const chunk = 64;
  const shards = await oneAndAll(async (workers) => (await perExampleGradients(model, task.params, train, { chunk, pool: { workers } })).data);
  record(`per-example gradient shards, mlp-fmnist MLP (${model.numParams} parameters, ${p.nTrain} rows)`, Math.ceil(p.nTrain / chunk), shards);
}

// TRAK's members on lm-datanets' LoRA adapter of the GPT (five members at full size)
{
  const p = experimentParams<LmDatanetParams>(loadAttributionSpec("lm-datanets"), { quick });
  const { tokenizer, blockSize: T } = await heldLmBase(tf, p);
  const dn = buildLmDatanets(p, T, (s) => tokenizer.encode(s));
  // the members: LoRA runs under the experiment's seeds (its re-training job, in this process)
  const members = [];
  for (let m = 0; m < p.trakModels; m++) members.push({ params: await lmRetrainJob({ p, data: dn.data, seed: p.seed + m }) });
  const fm = await lmAdapterModel(tf, lmLoraRecipe(p, p.lora));
  const train = lmBatch(dn.data.x, dn.data.y, dn.data.n, T);
  const nTest = dn.heldOut.flat().length;
  const test = subset(
    train,
    Array.from({ length: nTest }, (_, i) => Math.floor((i * train.n) / nTest)),
  );
  const task: AttributionTask = { model: fm, params: members[0].params, train, test, l2: 0, seed: p.seed, ensemble: members };
  const trak = await oneAndAll(async (workers) => (await new TRAK({ projectionDim: p.trakDim, seed: p.seed, ridge: p.trakRidge, pool: { workers } }).attribute(task)).data);
  record(`TRAK members, lm-datanets LoRA adapter (${fm.numParams} parameters, projection ${p.trakDim}, ${train.n} windows × ${nTest})`, p.trakModels, trak);
}

printTable(`Independent attribution work on 1 worker and on ${cores} (wall seconds; each worker starts fresh: Node, its modules, TensorFlow.js)`, rows);
