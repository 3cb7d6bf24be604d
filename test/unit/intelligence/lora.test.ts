import type * as tfjs from "@tensorflow/tfjs";
import { expect } from "chai";
import { IntelligenceError } from "../../../lib/intelligence/errors.js";
import {
  createGpt,
  createMlp,
  DEFAULT_OPTIMIZER,
  initLora,
  loraConfig,
  loraForwardOptions,
  loraScaling,
  type Model,
  mergeLora,
  Optimizer,
  trainableParamCount,
  trainStep,
  unmergeLora,
  type WeightMap,
} from "../../../lib/intelligence/index.js";
import { loraAKey, loraBKey, roleOf } from "../../../lib/intelligence/models/peft-keys.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });

function maxAbsDiff(a: tfjs.Tensor, b: tfjs.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Gives B random values so the LoRA term is not zero (as after training). */
function randomizeB(adapter: ReturnType<typeof initLora>, seed: number): void {
  for (const k of Object.keys(adapter.tensors)) {
    if (roleOf(k) === "lora_B") adapter.tensors[k] = tf.randomNormal(adapter.tensors[k].shape, 0, 0.05, "float32", seed++);
    if (roleOf(k) === "lora_magnitude") adapter.tensors[k] = tf.mul(adapter.tensors[k], tf.randomUniform(adapter.tensors[k].shape, 0.8, 1.2, "float32", seed++));
  }
}

const mlp = createMlp(tf, { inputSize: 20, hidden: [16, 12], numClasses: 5 });
const gpt = createGpt(tf, { vocabSize: 11, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 });
const mlpX = tf.randomUniform([7, 20], 0, 1, "float32", 3);
const gptX = tf.tensor2d(
  [
    [1, 2, 3, 4, 5, 6, 7, 8],
    [0, 10, 9, 8, 7, 6, 5, 4],
  ],
  [2, 8],
  "int32",
);

const cases: Array<[string, Model, tfjs.Tensor, string[]]> = [
  ["MLP", mlp, mlpX, ["fc1", "fc2", "head"]],
  ["transformer", gpt, gptX, ["q_proj", "k_proj", "v_proj", "o_proj", "fc_in", "fc_out"]],
];

describe("LoRA", () => {
  for (const [label, model, x, targets] of cases) {
    describe(label, () => {
      const base: WeightMap = model.init(1);

      it("leaves the base output unchanged at initialisation (B = 0)", () => {
        const adapter = initLora(model, base, loraConfig({ r: 4, loraAlpha: 8, targetModules: targets }), 2);
        for (const k of Object.keys(adapter.tensors)) if (roleOf(k) === "lora_B") expect(tf.max(tf.abs(adapter.tensors[k])).dataSync()[0]).to.equal(0);
        const y0 = model.forward(base, x);
        const y1 = model.forward({ ...base, ...adapter.tensors }, x, loraForwardOptions(adapter));
        expect(maxAbsDiff(y0, y1)).to.equal(0);
        // and A is not zero: a wrong init that zeroed both would pass the line above
        const a = adapter.tensors[loraAKey(adapter.modules[0].name)];
        expect(tf.max(tf.abs(a)).dataSync()[0]).to.be.greaterThan(0);
        expect(tf.max(tf.abs(a)).dataSync()[0]).to.be.at.most(1 / Math.sqrt(adapter.modules[0].inFeatures));
      });

      for (const variant of [
        { useDora: false, useRslora: false },
        { useDora: false, useRslora: true },
        { useDora: true, useRslora: false },
      ]) {
        const name = variant.useDora ? "DoRA" : variant.useRslora ? "rsLoRA" : "LoRA";
        it(`${name}: forward with adapter equals forward of merged weights (max error <= 1e-5), and unmerge restores W0`, () => {
          const adapter = initLora(model, base, loraConfig({ r: 3, loraAlpha: 6, targetModules: targets, ...variant }), 5);
          randomizeB(adapter, 9);
          const yLora = model.forward({ ...base, ...adapter.tensors }, x, loraForwardOptions(adapter));
          const merged = mergeLora(model, base, adapter);
          const yMerged = model.forward(merged.weights, x);
          expect(maxAbsDiff(yLora, model.forward(base, x))).to.be.greaterThan(1e-3); // the adapter does something
          expect(maxAbsDiff(yLora, yMerged)).to.be.at.most(1e-5);
          const restored = unmergeLora(model, merged, adapter);
          for (const m of adapter.modules) expect(maxAbsDiff(restored[`${m.name}.weight`], base[`${m.name}.weight`])).to.be.at.most(1e-5);
        });
      }

      it("counts trainable parameters as r·(in + out) per adapted layer", () => {
        const adapter = initLora(model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: targets }), 1);
        const expected = adapter.modules.reduce((s, m) => s + 2 * (m.inFeatures + m.outFeatures), 0);
        expect(trainableParamCount(adapter)).to.equal(expected);
        expect(adapter.modules.length).to.equal(label === "MLP" ? 3 : 12);
      });
    });
  }

  it("scales by alpha/r, or alpha/sqrt(r) with rsLoRA", () => {
    expect(loraScaling({ r: 16, loraAlpha: 32, useRslora: false })).to.equal(2);
    expect(loraScaling({ r: 16, loraAlpha: 32, useRslora: true })).to.equal(8);
  });

  it("picks target modules by name suffix, and refuses a rank larger than the layer", () => {
    const base = gpt.init(1);
    const adapter = initLora(gpt, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["q_proj", "v_proj"] }), 1);
    expect(adapter.modules.map((m) => m.name)).to.deep.equal(["h.0.attn.q_proj", "h.0.attn.v_proj", "h.1.attn.q_proj", "h.1.attn.v_proj"]);
    expectCode(() => initLora(mlp, mlp.init(1), loraConfig({ r: 6, loraAlpha: 4, targetModules: ["head"] }), 1), IntelligenceError, "lora/rank-too-large", { r: 6, module: "head" });
    expectCode(() => initLora(mlp, mlp.init(1), loraConfig({ r: 2, loraAlpha: 4, targetModules: ["nope"] }), 1), IntelligenceError, "lora/no-target-module", { targetModules: ["nope"] });
  });

  it("trains only the adapter: frozen base weights are bit-identical after training, the adapter moved", async () => {
    const base = mlp.init(4);
    const before = Object.fromEntries(Object.entries(base).map(([k, t]) => [k, Float32Array.from(t.dataSync() as Float32Array)]));
    const adapter = initLora(mlp, base, loraConfig({ r: 2, loraAlpha: 4, loraDropout: 0.1, targetModules: ["fc1", "fc2"] }), 3);
    const vars: Record<string, tfjs.Variable> = {};
    for (const [k, t] of Object.entries(adapter.tensors)) vars[k] = tf.variable(t, true);
    const opt = new Optimizer(tf, { ...DEFAULT_OPTIMIZER, lr: 1e-2, lrRatioB: 4 }, vars);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 0, 1], "int32");
    const losses: number[] = [];
    // the step disposes its batch: each gets its own handles on the fixed one
    for (let s = 0; s < 15; s++) losses.push((await trainStep(mlp, base, vars, opt, { x: mlpX.clone(), y: y.clone() }, 1e-2, { ...loraForwardOptions(adapter, true, s) }, s)).loss);
    for (const [k, t] of Object.entries(base)) expect(Buffer.from((t.dataSync() as Float32Array).buffer).equals(Buffer.from(before[k].buffer)), k).to.equal(true);
    expect(tf.max(tf.abs(vars[loraBKey("fc1")])).dataSync()[0]).to.be.greaterThan(0);
    expect(losses[losses.length - 1]).to.be.lessThan(losses[0]);
    opt.dispose();
  });
});
