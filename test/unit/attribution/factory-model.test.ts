import type * as tfjs from "@tensorflow/tfjs";
import { expect } from "chai";
import { continuationExample, FactoryModel, lmBatch } from "../../../lib/attribution/factory-model.js";
import { perExampleGradients, row } from "../../../lib/attribution/gradients.js";
import { type Batch, batchGradient, type Target } from "../../../lib/attribution/model.js";
import { LabError } from "../../../lib/errors.js";
import { createGpt, createMlp, type ForwardOptions, initLora, loraConfig, loraForwardOptions, type Model, type WeightMap } from "../../../lib/intelligence/index.js";
import { loraAKey, roleOf } from "../../../lib/intelligence/models/peft-keys.js";
import { rng } from "../../../lib/random.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });

/** LoRA B starts at zero; seeded values make every path carry gradient, as after training. */
function trainedAdapter(model: Model, base: WeightMap, targets: string[], seed: number): { tensors: WeightMap; fwd: ForwardOptions } {
  const adapter = initLora(model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: targets }), seed);
  const r = rng(seed + 1);
  for (const k of Object.keys(adapter.tensors))
    if (roleOf(k) === "lora_B") {
      const t = adapter.tensors[k];
      adapter.tensors[k] = tf.tensor(
        Array.from({ length: t.size }, () => 0.3 * r.normal()),
        t.shape,
      );
    }
  return { tensors: adapter.tensors, fwd: loraForwardOptions(adapter) };
}

/**
 * The reference: for each example alone, tf.grads of its value with respect to the trainable
 * tensors, laid out as the model's parameter vector (Wᵀ per block, then bias).
 */
function loopGradients(
  fm: FactoryModel,
  model: Model,
  weights: WeightMap,
  fwd: ForwardOptions,
  batch: Batch,
  _target: Target,
  value: (logits: tfjs.Tensor, y: tfjs.Tensor, w?: tfjs.Tensor) => tfjs.Tensor,
): Float64Array {
  const keys = fm.blocks.flatMap((b) => (b.bias ? [b.name, b.name.replace(/\.weight$/, ".bias")] : [b.name]));
  const out = new Float64Array(batch.n * fm.numParams);
  const T = batch.yDim ?? 1;
  for (let i = 0; i < batch.n; i++) {
    tf.tidy(() => {
      const xi =
        T > 1
          ? tf.tensor2d(Int32Array.from(batch.x.subarray(i * T, (i + 1) * T)), [1, T], "int32")
          : tf.tensor2d(Float32Array.from(batch.x.subarray(i * batch.dim, (i + 1) * batch.dim)), [1, batch.dim]);
      const yi = T > 1 ? tf.tensor2d(batch.y.subarray(i * T, (i + 1) * T), [1, T], "int32") : tf.tensor1d([batch.y[i]], "int32");
      const wi = T > 1 ? tf.tensor2d(Float32Array.from(batch.weights ? batch.weights.subarray(i * T, (i + 1) * T) : new Float64Array(T).fill(1 / T)), [1, T]) : undefined;
      const grads = tf.grads((...ts: tfjs.Tensor[]) => tf.sum(value(model.forward({ ...weights, ...Object.fromEntries(keys.map((k, j) => [k, ts[j]])) }, xi, fwd), yi, wi)) as tfjs.Scalar)(
        keys.map((k) => weights[k]),
      );
      let j = 0;
      for (const b of fm.blocks) {
        const g = grads[j++].dataSync(); // PEFT [out, in]
        for (let o = 0; o < b.cols; o++) for (let a = 0; a < b.rows; a++) out[i * fm.numParams + b.offset + a * b.cols + o] = g[o * b.rows + a];
        if (b.bias) out.set(grads[j++].dataSync(), i * fm.numParams + b.offset + b.rows * b.cols);
      }
    });
  }
  return out;
}

const crossEntropy = (logits: tfjs.Tensor, y: tfjs.Tensor, w?: tfjs.Tensor) => {
  const ce = tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits as never), tf.oneHot(tf.cast(y, "int32") as never, logits.shape[logits.shape.length - 1]!)), -1));
  return w ? tf.sum(tf.mul(ce, w), -1) : ce;
};
const margin = (logits: tfjs.Tensor, y: tfjs.Tensor, w?: tfjs.Tensor) => {
  const K = logits.shape[logits.shape.length - 1]!;
  const oh = tf.oneHot(tf.cast(y, "int32") as never, K);
  const p = tf.sum(tf.mul(tf.softmax(logits as never), oh), -1);
  const m = tf.sub(tf.log(p), tf.log(tf.sub(1, p)));
  return w ? tf.sum(tf.mul(m, w), -1) : m;
};

function maxRelativeError(got: Float64Array, want: Float64Array, n: number, p: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    let d = 0,
      s = 0;
    for (let j = 0; j < p; j++) {
      d += (got[i * p + j] - want[i * p + j]) ** 2;
      s += want[i * p + j] ** 2;
    }
    worst = Math.max(worst, Math.sqrt(d / s));
  }
  return worst;
}

const mlp = createMlp(tf, { inputSize: 12, hidden: [8, 6], numClasses: 4 });
const mlpBase = mlp.init(3);
const gpt = createGpt(tf, { vocabSize: 13, blockSize: 10, nLayer: 2, nHead: 2, nEmbd: 16 });
const gptBase = gpt.init(4);
const r = rng(11);
const mlpBatch: Batch = { n: 6, dim: 12, x: Float64Array.from({ length: 72 }, () => r.next()), y: Int32Array.from({ length: 6 }, () => r.int(4)) };
const windows = lmBatch(
  Array.from({ length: 50 }, () => r.int(13)),
  Array.from({ length: 50 }, () => r.int(13)),
  5,
  10,
);
const c1 = continuationExample([1, 2, 3, 4, 5, 6, 7], [8, 9, 10, 11], 10);
const c2 = continuationExample([3, 2], [5, 5, 6], 10); // short prompt: left-padded with zero weights
const continuations = lmBatch([...c1.x, ...c2.x], [...c1.y, ...c2.y], 2, 10, Float64Array.from([...c1.weights, ...c2.weights]));

describe("attribution: per-example gradients of Model Factory models in one batched pass", () => {
  const cases: Array<[string, Model, WeightMap, string[] | "full", Batch]> = [
    ["MLP, LoRA on every layer", mlp, mlpBase, ["fc1", "fc2", "head"], mlpBatch],
    ["MLP, full fine-tuning", mlp, mlpBase, "full", mlpBatch],
    ["GPT, LoRA on v_proj, fc_out, lm_head (training windows)", gpt, gptBase, ["v_proj", "fc_out", "lm_head"], windows],
    ["GPT, LoRA on q/k/v/o (continuations given prompts)", gpt, gptBase, ["q_proj", "k_proj", "v_proj", "o_proj"], continuations],
    ["GPT, every linear weight and bias (continuations given prompts)", gpt, gptBase, "full", continuations],
  ];
  for (const [label, model, base, targets, batch] of cases) {
    it(`${label}: equal a per-example tf.grads loop (relative error ≤ 1e-4), loss and margin`, async function () {
      this.timeout(60_000);
      let weights: WeightMap = base,
        fwd: ForwardOptions = {},
        trainable: string[];
      if (targets === "full") trainable = model.linearModules.flatMap((m) => [`${m.name}.weight`, ...(m.bias ? [`${m.name}.bias`] : [])]);
      else {
        const a = trainedAdapter(model, base, targets, 5);
        weights = { ...base, ...a.tensors };
        fwd = a.fwd;
        trainable = Object.keys(a.tensors);
      }
      const fm = new FactoryModel({ model, weights, trainable, forwardOptions: fwd });
      const params = await fm.readParams(weights);
      for (const [target, value] of [
        ["loss", crossEntropy],
        ["margin", margin],
      ] as const) {
        const G = await perExampleGradients(fm, params, batch, { target, chunk: 4 });
        const want = loopGradients(fm, model, weights, fwd, batch, target, value);
        expect(maxRelativeError(G.data, want, batch.n, fm.numParams), target).to.be.below(1e-4);
      }
      // the trace (input and signal per position) gives the same mean gradient
      const G = await perExampleGradients(fm, params, batch);
      const mean = (await batchGradient(fm, params, batch)).grad;
      let d = 0,
        s = 0;
      for (let j = 0; j < fm.numParams; j++) {
        let m = 0;
        for (let i = 0; i < batch.n; i++) m += row(G, i)[j] / batch.n;
        d += (m - mean[j]) ** 2;
        s += m * m;
      }
      expect(Math.sqrt(d / s)).to.be.below(1e-4);
    });
  }

  it("a continuation's value is its −log-likelihood given the prompt: prompt positions carry no weight", async () => {
    const fm = new FactoryModel({ model: gpt, weights: gptBase, trainable: ["lm_head.weight"] });
    const params = await fm.readParams(gptBase);
    const v = await fm.evaluate(params, continuations);
    const logp = tf.tidy(() => tf.logSoftmax(gpt.forward(gptBase, tf.tensor2d(Int32Array.from(c1.x), [1, 10], "int32")) as tfjs.Tensor3D));
    const logits = (await logp.array()) as number[][][];
    logp.dispose();
    let nll = 0;
    for (let t = 6; t < 10; t++) nll -= logits[0][t][c1.y[t]];
    expect(Array.from(c1.y.slice(6))).to.deep.equal([8, 9, 10, 11]);
    expect(v[0]).to.be.closeTo(nll, 1e-4);
  });

  it("TRAK's out-to-loss weights over more windows than one forward pass takes equal each window's own", async () => {
    const fm = new FactoryModel({ model: gpt, weights: gptBase, trainable: ["lm_head.weight"] });
    const params = await fm.readParams(gptBase);
    const n = 150; // three passes of 64 rows, the last one short
    const many = lmBatch(
      Array.from({ length: n * 10 }, () => r.int(13)),
      Array.from({ length: n * 10 }, () => r.int(13)),
      n,
      10,
    );
    const q = await fm.outToLoss(params, many);
    expect(q.length).to.equal(n);
    for (const i of [0, 63, 64, 127, 128, n - 1]) {
      const one = lmBatch(many.x.subarray(i * 10, (i + 1) * 10), many.y.subarray(i * 10, (i + 1) * 10), 1, 10);
      expect(q[i], `window ${i}`).to.be.closeTo((await fm.outToLoss(params, one))[0], 1e-6);
    }
  });

  it("refuses DoRA, half an adapter, non-dense tensors and batches of the wrong shape, by code", async () => {
    expectCode(() => new FactoryModel({ model: mlp, weights: mlpBase, trainable: ["fc1.weight"], forwardOptions: { lora: { scaling: 1, dora: true } } }), LabError, "attribution/dora-unsupported");
    const a = trainedAdapter(mlp, mlpBase, ["fc1"], 2);
    expectCode(() => new FactoryModel({ model: mlp, weights: { ...mlpBase, ...a.tensors }, trainable: [loraAKey("fc1")], forwardOptions: a.fwd }), LabError, "attribution/half-adapter");
    expectCode(() => new FactoryModel({ model: gpt, weights: gptBase, trainable: ["wte.weight"] }), LabError, "attribution/not-dense");
    const fm = new FactoryModel({ model: gpt, weights: gptBase, trainable: ["lm_head.weight"] });
    await expectCodeAsync(perExampleGradients(fm, await fm.readParams(gptBase), mlpBatch), LabError, "attribution/batch-shape", { positions: 10 });
    expectCode(() => continuationExample([1], Array(11).fill(2), 10), LabError, "attribution/continuation-too-long");
  });
});

describe("attribution: the per-example loop the benchmarks time", () => {
  it("gives the batched pass's rows on the GPT to float32 rounding (relative error ≤ 1e-5 per example), loss and margin, and the pass leaves no tensor behind", async () => {
    const a = trainedAdapter(gpt, gptBase, ["v_proj", "fc_out", "lm_head"], 9);
    const weights = { ...gptBase, ...a.tensors };
    const fm = new FactoryModel({ model: gpt, weights, trainable: Object.keys(a.tensors), forwardOptions: a.fwd });
    const params = await fm.readParams(weights);
    const s = rng(13);
    const six = lmBatch(
      Array.from({ length: 60 }, () => s.int(13)),
      Array.from({ length: 60 }, () => s.int(13)),
      6,
      10,
    );
    for (const target of ["loss", "margin"] as const) {
      const before = tf.memory().numTensors;
      const batched = await fm.gradientRows(params, six, target);
      expect(tf.memory().numTensors, "tensors left by the batched pass").to.equal(before);
      expect(maxRelativeError(batched, await fm.gradientRowsByLoop(params, six, target), six.n, fm.numParams), target).to.be.below(1e-5);
    }
  });

  it("gives the batched pass's rows", async () => {
    const a = trainedAdapter(gpt, gptBase, ["v_proj", "lm_head"], 7);
    const weights = { ...gptBase, ...a.tensors };
    const fm = new FactoryModel({ model: gpt, weights, trainable: Object.keys(a.tensors), forwardOptions: a.fwd });
    const params = await fm.readParams(weights);
    const batched = await fm.gradientRows(params, continuations, "loss");
    expect(maxRelativeError(await fm.gradientRowsByLoop(params, continuations, "loss"), batched, continuations.n, fm.numParams)).to.be.below(1e-4);
  });
});
