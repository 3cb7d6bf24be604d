import { expect } from "chai";
import {
  attentionProjections,
  causalBias,
  createGpt,
  createMlp,
  type GptConfig,
  gptBlock,
  gptEmbed,
  gptLmHead,
  gptModel,
  IntelligenceError,
  scaledDotProductAttention,
} from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });
const config: GptConfig = { vocabSize: 11, blockSize: 8, nLayer: 3, nHead: 2, nEmbd: 16 };
const gpt = createGpt(tf, config);

function std(a: ArrayLike<number>): number {
  let s = 0,
    ss = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    ss += a[i] * a[i];
  }
  return Math.sqrt(ss / a.length - (s / a.length) ** 2);
}

describe("GPT", () => {
  it("gptModel types a GPT's config and refuses another kind of model", () => {
    expect(gptModel(gpt).config.blockSize).to.equal(config.blockSize);
    expectCode(() => gptModel(createMlp(tf, { inputSize: 4, hidden: [3], numClasses: 2 })), IntelligenceError, "model/not-gpt", { kind: "mlp" });
  });

  it("refuses a sequence longer than the block size, naming both lengths", () => {
    const w = gpt.init(1);
    const ids = tf.zeros([2, config.blockSize + 1], "int32");
    expect(expectCode(() => gpt.forward(w, ids), IntelligenceError, "model/sequence-too-long").fields).to.deep.equal({ length: 9, blockSize: 8 });
    // a decoder's position offset counts too: 7 cached + 2 new > 8
    expect(expectCode(() => gptEmbed(tf, config, w, tf.zeros([1, 2], "int32"), 7), IntelligenceError, "model/sequence-too-long").fields).to.deep.equal({ length: 9, blockSize: 8 });
  });

  it("refuses a width that heads do not divide", () => {
    expectCode(() => createGpt(tf, { ...config, nEmbd: 15 }), IntelligenceError, "model/bad-config", { nHead: 2 });
  });

  it("initialises as GPT-2: N(0, 0.02²) weights, residual projections scaled by 1/√(2·nLayer), zero biases", () => {
    const w = gpt.init(3);
    const residual = 0.02 / Math.sqrt(2 * config.nLayer);
    const big = createGpt(tf, { vocabSize: 64, blockSize: 32, nLayer: 3, nHead: 4, nEmbd: 64 }).init(3);
    for (const [key, expected] of [
      ["h.0.attn.q_proj.weight", 0.02],
      ["h.1.mlp.fc_in.weight", 0.02],
      ["lm_head.weight", 0.02],
      ["wte.weight", 0.02],
      ["h.0.attn.o_proj.weight", residual],
      ["h.2.mlp.fc_out.weight", residual],
    ] as const) {
      // |std − expected| < 10%, written out: Hardhat's chai matchers, loaded by the contract-facing tests, redefine closeTo for integers
      expect(Math.abs(std(big[key].dataSync()) - expected), key).to.be.below(expected * 0.1);
    }
    expect(Array.from(w["h.0.mlp.fc_out.bias"].dataSync()).every((v) => v === 0)).to.equal(true);
    expect(Array.from(w["h.1.ln_1.weight"].dataSync()).every((v) => v === 1)).to.equal(true);
  });

  it("is the composition of its named parts", () => {
    const w = gpt.init(4);
    const ids = tf.tensor2d(
      [
        [1, 2, 3, 4, 5, 6],
        [0, 10, 9, 8, 7, 6],
      ],
      [2, 6],
      "int32",
    );
    let x = gptEmbed(tf, config, w, ids);
    for (let i = 0; i < config.nLayer; i++) x = gptBlock(tf, config, w, i, x, causalBias(tf, 6));
    const parts = gptLmHead(tf, w, x);
    const whole = gpt.forward(w, ids);
    expect(parts.shape).to.deep.equal([2, 6, 11]);
    expect(tf.max(tf.abs(tf.sub(parts, whole))).dataSync()[0]).to.be.below(1e-6);
  });

  it("attends the last query over cached keys as the full causal pass does (the mask for Tq < Tk)", () => {
    const w = gpt.init(5);
    const x = tf.randomNormal([1, 5, 16], 0, 1, "float32", 9);
    const { q, k, v } = attentionProjections(tf, config, w, 0, x);
    const full = scaledDotProductAttention(tf, q, k, v, causalBias(tf, 5));
    const lastQ = tf.slice(q, [0, 0, 4, 0], [1, 2, 1, 8]);
    const last = scaledDotProductAttention(tf, lastQ, k, v, causalBias(tf, 1, 5));
    expect(tf.max(tf.abs(tf.sub(last, tf.slice(full, [0, 0, 4, 0], [1, 2, 1, 8])))).dataSync()[0]).to.be.below(1e-6);
    // two queries at positions 3 and 4 over 5 keys: position 3 must not see key 4
    const twoQ = tf.slice(q, [0, 0, 3, 0], [1, 2, 2, 8]);
    const two = scaledDotProductAttention(tf, twoQ, k, v, causalBias(tf, 2, 5));
    expect(tf.max(tf.abs(tf.sub(two, tf.slice(full, [0, 0, 3, 0], [1, 2, 2, 8])))).dataSync()[0]).to.be.below(1e-6);
  });
});
