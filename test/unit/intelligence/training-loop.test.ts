import type * as tfjs from "@tensorflow/tfjs";
import { expect } from "chai";
import { NonFiniteLossError } from "../../../lib/intelligence/errors.js";
import {
  batchIndices,
  batchTensors,
  createMlp,
  DEFAULT_OPTIMIZER,
  initLora,
  learningRate,
  loraConfig,
  loraForwardOptions,
  Optimizer,
  type OptimizerConfig,
  runTrainingLoop,
  type ScheduleConfig,
  type TrainData,
  type TrainingLoopSpec,
  trainableVariables,
  trainStep,
  type WeightMap,
} from "../../../lib/intelligence/index.js";
import { rng } from "../../../lib/random.js";
import { initTf } from "../../../lib/tf/index.js";
import { readTensorMap } from "../../../lib/tf/read-back.js";
import { expectCodeAsync } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });

const mlp = createMlp(tf, { inputSize: 6, hidden: [8], numClasses: 3 });

/** 30 seeded examples of 6 features and 3 classes. */
function syntheticData(): TrainData {
  const r = rng(5);
  const n = 30;
  return { x: Float32Array.from({ length: n * 6 }, () => r.normal()), y: Int32Array.from({ length: n }, (_, i) => i % 3), n, xShape: [6], yShape: [] };
}

const data = syntheticData();
const optimizer: OptimizerConfig = { ...DEFAULT_OPTIMIZER, lr: 2e-2, weightDecay: 1e-3 };
const schedule: ScheduleConfig = { kind: "cosine", warmupSteps: 2 };
const rows = [1, 2, 3, 5, 8, 13, 21, 22, 23, 24, 25, 29];

/** A LoRA adapter with dropout on a seeded base: the loop's forward options and dropout seeding both matter. */
function lora(): { base: WeightMap; start: WeightMap; forward: ReturnType<typeof loraForwardOptions> } {
  const base = mlp.init(3);
  const adapter = initLora(mlp, base, loraConfig({ r: 2, loraAlpha: 4, loraDropout: 0.2, targetModules: ["fc1", "head"] }), 4);
  return { base, start: adapter.tensors, forward: loraForwardOptions(adapter) };
}

/** The steps written out by hand: schedule, seeded batch within the rows, dropout seed, one optimizer step each. */
async function referenceRun(steps: number): Promise<{ losses: number[]; weights: Record<string, Float32Array> }> {
  const { base, start, forward } = lora();
  const vars = trainableVariables(tf, start);
  const opt = new Optimizer(tf, optimizer, vars);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const lr = learningRate(optimizer.lr, schedule, step, steps);
    const idx = batchIndices(rows.length, 4, 7, step).map((i) => rows[i]);
    const fwd = { ...forward, training: true, dropoutSeed: (7 * 1000003 + step) >>> 0 };
    losses.push((await trainStep(mlp, base, vars, opt, batchTensors(mlp, data, idx), lr, fwd, step)).loss);
  }
  opt.dispose();
  return { losses, weights: hostValues(await readTensorMap(vars)) };
}

function hostValues(map: Record<string, { data: Float32Array }>): Record<string, Float32Array> {
  return Object.fromEntries(Object.entries(map).map(([k, t]) => [k, t.data]));
}

/** The same run through runTrainingLoop, with `extra` on top of its spec. */
async function loopRun(steps: number, extra: Partial<TrainingLoopSpec> = {}) {
  const { base, start, forward } = lora();
  const trainable = trainableVariables(tf, start);
  const losses: number[] = [];
  const spec: TrainingLoopSpec = {
    model: mlp,
    frozen: base,
    trainable,
    optimizer,
    data,
    rows,
    batchSize: 4,
    seed: 7,
    steps,
    schedule,
    forward,
    dropout: true,
    onStep: (r) => void losses.push(r.loss),
  };
  const result = await runTrainingLoop({ ...spec, ...extra });
  return { losses, result, trainable, weights: hostValues(await readTensorMap(trainable)) };
}

function bitsEqual(a: Record<string, Float32Array>, b: Record<string, Float32Array>): boolean {
  return Object.keys(a).length === Object.keys(b).length && Object.keys(a).every((k) => Buffer.from(a[k].buffer).equals(Buffer.from(b[k].buffer)));
}

describe("the training loop (lib/intelligence/training-loop.ts)", () => {
  it("gives the losses and weights of the hand-written step sequence, bit for bit", async () => {
    const reference = await referenceRun(9);
    const loop = await loopRun(9);
    expect(loop.losses).to.deep.equal(reference.losses);
    expect(loop.result.lastLoss).to.equal(reference.losses[8]);
    expect(bitsEqual(loop.weights, reference.weights)).to.equal(true);
    expect(reference.losses[8]).to.be.lessThan(reference.losses[0]);
  });

  it("trains bit-identical weights for equal seeds and different ones for another seed", async () => {
    const a = await loopRun(6);
    const b = await loopRun(6);
    const c = await loopRun(6, { seed: 8 });
    expect(bitsEqual(a.weights, b.weights)).to.equal(true);
    expect(bitsEqual(a.weights, c.weights)).to.equal(false);
  });

  it("keeps host copies every keepEvery steps, equal to the weights of a run that ends there", async () => {
    const kept = (await loopRun(9, { keepEvery: 3 })).result.kept;
    expect(kept.map((k) => k.step)).to.deep.equal([3, 6, 9]);
    expect(kept.map((k) => k.lr)).to.deep.equal([2, 5, 8].map((s) => learningRate(optimizer.lr, schedule, s, 9)));
    const full = await referenceRun(9);
    expect(bitsEqual(hostValues(kept[2].tensors), full.weights)).to.equal(true);
  });

  it("stops before the step shouldStop names, and a run resumed from there with its optimizer ends where an unbroken one does", async () => {
    const { base, start, forward } = lora();
    const trainable = trainableVariables(tf, start);
    const opt = new Optimizer(tf, optimizer, trainable);
    const spec: TrainingLoopSpec = { model: mlp, frozen: base, trainable, optimizer: opt, data, rows, batchSize: 4, seed: 7, steps: 9, schedule, forward, dropout: true };
    const first = await runTrainingLoop({ ...spec, shouldStop: ({ stepsRun }) => stepsRun >= 4 });
    expect(first.stoppedAt).to.equal(4);
    const rest = await runTrainingLoop({ ...spec, startStep: 4 });
    expect(rest.stoppedAt).to.equal(undefined);
    expect(opt.step, "the caller's optimizer is kept and advanced").to.equal(9);
    expect(bitsEqual(hostValues(await readTensorMap(trainable)), (await referenceRun(9)).weights)).to.equal(true);
    opt.dispose();
  });

  it("refuses a loss that is not finite by code, naming the step", async () => {
    const trainable = trainableVariables(tf, mlp.init(1));
    const poisoned: TrainData = { ...data, x: Float32Array.from(data.x, (v, i) => (i === 0 ? Number.NaN : v)) };
    const spec: TrainingLoopSpec = { model: mlp, frozen: {}, trainable, optimizer, data: poisoned, batchSize: data.n, seed: 1, steps: 3 };
    await expectCodeAsync(runTrainingLoop(spec), NonFiniteLossError, "train/non-finite-loss", { step: 0 });
    for (const v of Object.values(trainable) as tfjs.Variable[]) v.dispose();
  });
});
