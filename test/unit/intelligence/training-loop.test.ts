import type * as tfjs from "@tensorflow/tfjs";
import { expect } from "chai";
import { IntelligenceError, NonFiniteLossError } from "../../../lib/intelligence/errors.js";
import {
  batchIndices,
  batchTensors,
  createGpt,
  createMlp,
  DEFAULT_OPTIMIZER,
  defaultMicroBatchRows,
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
  WASM_MICRO_BATCH_TOKENS,
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

  describe("gradient accumulation", () => {
    /** One plain-SGD step (the update is lr × the gradient, so any error in the gradient shows) of `batchSize` rows. */
    async function sgdStep(
      model: typeof mlp | ReturnType<typeof tinyGpt>,
      start: () => { base: WeightMap; start: WeightMap; forward: ReturnType<typeof loraForwardOptions> },
      stepData: TrainData,
      batchSize: number,
      microBatchRows?: number,
    ) {
      const { base, start: init, forward } = start();
      const before = hostValues(await readTensorMap(init));
      const trainable = trainableVariables(tf, init);
      const { lastLoss: loss } = await runTrainingLoop({
        model,
        frozen: base,
        trainable,
        optimizer: { ...DEFAULT_OPTIMIZER, name: "sgd", lr: 1 },
        data: stepData,
        batchSize,
        microBatchRows,
        seed: 7,
        steps: 1,
        forward,
        dropout: true,
      });
      const after = hostValues(await readTensorMap(trainable));
      for (const v of Object.values(trainable)) v.dispose();
      return { loss, update: Object.fromEntries(Object.keys(after).map((k) => [k, after[k].map((v, i) => v - before[k][i])])) };
    }

    /** The largest difference of two updates, relative to the largest entry of the first. */
    function relativeDifference(a: Record<string, Float32Array>, b: Record<string, Float32Array>): number {
      let diff = 0;
      let scale = 0;
      for (const k of Object.keys(a)) {
        for (let i = 0; i < a[k].length; i++) {
          diff = Math.max(diff, Math.abs(a[k][i] - b[k][i]));
          scale = Math.max(scale, Math.abs(a[k][i]));
        }
      }
      return diff / scale;
    }

    it("a batch of 16 accumulated over 2 × 8 rows takes the unaccumulated step to float32 rounding, LoRA dropout masks included", async () => {
      const whole = await sgdStep(mlp, lora, data, 16, Number.POSITIVE_INFINITY);
      const accumulated = await sgdStep(mlp, lora, data, 16, 8);
      // written out: Hardhat's chai matchers, loaded by the contract-facing tests, redefine closeTo for integers
      expect(Math.abs(accumulated.loss - whole.loss)).to.be.at.most(1e-6 * whole.loss);
      // a sum unweighted by rows would double the update; masks drawn per micro-batch move it by about 10%
      expect(relativeDifference(whole.update, accumulated.update)).to.be.below(1e-5);
    });

    it("uneven micro-batches (10 rows as 8 + 2) weigh each by its rows", async () => {
      const whole = await sgdStep(mlp, lora, data, 10, Number.POSITIVE_INFINITY);
      const accumulated = await sgdStep(mlp, lora, data, 10, 8);
      expect(Math.abs(accumulated.loss - whole.loss)).to.be.at.most(1e-6 * whole.loss);
      // equal weights (½ each) would move the update by tens of percent
      expect(relativeDifference(whole.update, accumulated.update)).to.be.below(1e-5);
    });

    it("a language model's step (mean over rows × positions) accumulates over 3 + 3 + 2 windows", async () => {
      const gpt = tinyGpt();
      const r = rng(11);
      const T = 8;
      const n = 12;
      const ids = Int32Array.from({ length: n * (T + 1) }, () => r.int(13));
      const windows: TrainData = {
        x: Int32Array.from({ length: n * T }, (_, i) => ids[Math.floor(i / T) * (T + 1) + (i % T)]),
        y: Int32Array.from({ length: n * T }, (_, i) => ids[Math.floor(i / T) * (T + 1) + (i % T) + 1]),
        n,
        xShape: [T],
        yShape: [T],
      };
      const gptLora = () => {
        const base = gpt.init(2);
        const adapter = initLora(gpt, base, loraConfig({ r: 2, loraAlpha: 4, loraDropout: 0.1, targetModules: ["v_proj", "fc_out", "lm_head"] }), 5);
        return { base, start: adapter.tensors, forward: loraForwardOptions(adapter) };
      };
      const whole = await sgdStep(gpt, gptLora, windows, 8, Number.POSITIVE_INFINITY);
      const accumulated = await sgdStep(gpt, gptLora, windows, 8, 3);
      expect(Math.abs(accumulated.loss - whole.loss)).to.be.at.most(1e-6 * whole.loss);
      expect(relativeDifference(whole.update, accumulated.update)).to.be.below(1e-5);
    });

    it("a language model's loss mask: a document padded in its row trains as its own tokens alone, whatever the padding holds", async () => {
      const gpt = tinyGpt();
      const T = 8;
      const doc = [3, 7, 1, 12, 5]; // 5 ids: 4 targets
      /** One row: the document left-aligned, the rest `pad`, the mask on its 4 targets. */
      const padded = (pad: number): TrainData => {
        const ids = [...doc, ...new Array(T + 1 - doc.length).fill(pad)];
        return {
          x: Int32Array.from(ids.slice(0, T)),
          y: Int32Array.from(ids.slice(1)),
          n: 1,
          xShape: [T],
          yShape: [T],
          lossMask: Float32Array.from({ length: T }, (_, t) => (t < doc.length - 1 ? 1 : 0)),
        };
      };
      // the same document as a row of its own length (the model reads any length up to its block), no mask
      const own: TrainData = { x: Int32Array.from(doc.slice(0, -1)), y: Int32Array.from(doc.slice(1)), n: 1, xShape: [doc.length - 1], yShape: [doc.length - 1] };
      const gptLora = () => {
        const base = gpt.init(2);
        const adapter = initLora(gpt, base, loraConfig({ r: 2, loraAlpha: 4, loraDropout: 0, targetModules: ["v_proj", "fc_out", "lm_head"] }), 5);
        return { base, start: adapter.tensors, forward: loraForwardOptions(adapter) };
      };
      const zeros = await sgdStep(gpt, gptLora, padded(0), 1);
      const nines = await sgdStep(gpt, gptLora, padded(9), 1);
      const unpadded = await sgdStep(gpt, gptLora, own, 1);
      // causal attention: the padding after the document changes none of its positions, and the mask drops its own
      expect(nines.loss).to.equal(zeros.loss);
      expect(relativeDifference(zeros.update, nines.update)).to.equal(0);
      expect(Math.abs(zeros.loss - unpadded.loss)).to.be.at.most(1e-6 * unpadded.loss);
      expect(relativeDifference(unpadded.update, zeros.update)).to.be.below(1e-5);
      // without the mask the padding's targets count: another loss
      const { lossMask: _, ...unmasked } = padded(0);
      expect(Math.abs((await sgdStep(gpt, gptLora, unmasked, 1)).loss - zeros.loss)).to.be.above(1e-3);
    });

    it("by default accumulates only on wasm, over micro-batches of WASM_MICRO_BATCH_TOKENS tokens: 8 windows of 256, the whole batch of every smaller run", () => {
      const lm = (T: number): TrainData => ({ x: new Int32Array(0), y: new Int32Array(0), n: 0, xShape: [T], yShape: [T] });
      expect(WASM_MICRO_BATCH_TOKENS).to.equal(2048);
      expect(defaultMicroBatchRows("wasm", lm(256))).to.equal(8);
      expect(defaultMicroBatchRows("wasm", lm(48))).to.equal(42);
      expect(defaultMicroBatchRows("wasm", data)).to.equal(2048);
      expect(defaultMicroBatchRows("webgpu", lm(256))).to.equal(Number.POSITIVE_INFINITY);
    });

    it("refuses a micro-batch that is not a whole number of rows ≥ 1, by code", async () => {
      const trainable = trainableVariables(tf, mlp.init(1));
      const spec: TrainingLoopSpec = { model: mlp, frozen: {}, trainable, optimizer, data, batchSize: 8, microBatchRows: 0, seed: 1, steps: 1 };
      await expectCodeAsync(runTrainingLoop(spec), IntelligenceError, "train/bad-micro-batch", { microBatchRows: 0 });
      for (const v of Object.values(trainable) as tfjs.Variable[]) v.dispose();
    });
  });
});

function tinyGpt() {
  return createGpt(tf, { vocabSize: 13, blockSize: 8, nLayer: 1, nHead: 2, nEmbd: 16 });
}
