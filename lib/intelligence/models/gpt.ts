import type { Scalar } from "@tensorflow/tfjs";
import { rng } from "../../random.js";
import { IntelligenceError } from "../errors.js";
import { crossEntropy, gelu, layerNorm, linear, need, softmax } from "./ops.js";
import type { ForwardOptions, LinearModule, Model, Tensor, Tf, WeightMap } from "./types.js";

export interface GptConfig {
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
}

/**
 * A decoder-only transformer in the nanoGPT layout (pre-norm blocks):
 *   x = wte[ids] + wpe[pos]
 *   x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))      per block
 *   logits = lm_head(ln_f(x))
 * Attention projections are separate linear layers (q_proj, k_proj, v_proj, o_proj) so LoRA can
 * target them by name, as PEFT does for LLaMA-style models; the MLP is fc_in, GELU, fc_out.
 *
 * Each part below is a pure function of the weight map, exported so that other forward paths (a
 * KV-cached decoder) are built from the same parts rather than a second copy of the model.
 * Shapes: n examples, T positions, d = nEmbd, h = nHead, dh = d / h, V = vocabSize.
 */

/** Refuses a configuration the model cannot be built with, before any weight is made. */
export function checkGptConfig(config: GptConfig): void {
  for (const field of ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd"] as const) {
    const value = config[field];
    if (!Number.isInteger(value) || value < 1) {
      throw new IntelligenceError({
        code: "model/bad-config",
        message: `GPT config ${field} = ${value} is not a positive integer`,
        hint: `set ${field} to a whole number of at least 1`,
        fields: { field, value },
      });
    }
  }
  if (config.nEmbd % config.nHead !== 0) {
    throw new IntelligenceError({
      code: "model/bad-config",
      message: `nEmbd ${config.nEmbd} is not a multiple of nHead ${config.nHead}`,
      hint: "choose nEmbd divisible by nHead: each head gets nEmbd / nHead channels",
      fields: { field: "nEmbd", nEmbd: config.nEmbd, nHead: config.nHead },
    });
  }
}

/** Refuses a sequence longer than the position table: wpe has blockSize rows. */
export function checkSequenceLength(config: GptConfig, length: number): void {
  if (length > config.blockSize) {
    throw new IntelligenceError({
      code: "model/sequence-too-long",
      message: `a sequence of ${length} tokens is longer than the model's block size ${config.blockSize}`,
      hint: `pass at most ${config.blockSize} tokens (keep the last ${config.blockSize} of a longer context, or cut it into windows)`,
      fields: { length, blockSize: config.blockSize },
    });
  }
}

/** The linear layers by PEFT module name, in forward order (LoRA targets are chosen among these). */
export function gptLinearModules(config: GptConfig): LinearModule[] {
  const { nLayer, nEmbd: d, vocabSize: V } = config;
  const modules: LinearModule[] = [];
  for (let i = 0; i < nLayer; i++) {
    for (const p of ["q_proj", "k_proj", "v_proj", "o_proj"]) modules.push({ name: `h.${i}.attn.${p}`, inFeatures: d, outFeatures: d, bias: true });
    modules.push({ name: `h.${i}.mlp.fc_in`, inFeatures: d, outFeatures: 4 * d, bias: true });
    modules.push({ name: `h.${i}.mlp.fc_out`, inFeatures: 4 * d, outFeatures: d, bias: true });
  }
  modules.push({ name: "lm_head", inFeatures: d, outFeatures: V, bias: false });
  return modules;
}

/** The projections that write into the residual stream: GPT-2 scales their initialisation by depth. */
export function isResidualProjection(name: string): boolean {
  return name.endsWith(".attn.o_proj") || name.endsWith(".mlp.fc_out");
}

/**
 * Token plus position embedding of ids [n, T] whose first position is `start` (a decoder with a
 * KV cache embeds one new token at position start = tokens already cached). Returns [n, T, d].
 * The token lookup is a one-hot matrix product: its gradient needs no scatter kernel.
 */
export function gptEmbed(tf: Tf, config: GptConfig, w: WeightMap, ids: Tensor, start = 0): Tensor {
  const [n, T] = ids.shape as number[];
  checkSequenceLength(config, start + T);
  const { vocabSize: V, nEmbd: d } = config;
  const oneHot = tf.reshape(tf.oneHot(tf.cast(ids, "int32"), V), [n * T, V]); // [n, T, V] -> [n·T, V]
  const tok = tf.reshape(tf.matMul(oneHot, need(w, "wte.weight")), [n, T, d]); // [n·T, d] -> [n, T, d]
  const pos = tf.slice(need(w, "wpe.weight"), [start, 0], [T, d]); // [T, d], broadcast over n
  return tf.add(tok, pos);
}

/** [n, T, d] -> [n, h, T, dh]: each head sees its own dh channels. */
export function splitHeads(tf: Tf, x: Tensor, nHead: number): Tensor {
  const [n, T, d] = x.shape as number[];
  return tf.transpose(tf.reshape(x, [n, T, nHead, d / nHead]), [0, 2, 1, 3]); // [n, T, h, dh] -> [n, h, T, dh]
}

/** [n, h, T, dh] -> [n, T, d]: the heads side by side again. */
export function mergeHeads(tf: Tf, x: Tensor): Tensor {
  const [n, h, T, dh] = x.shape as number[];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [n, T, h * dh]); // [n, T, h, dh] -> [n, T, d]
}

/**
 * Causal mask as an additive bias [Tq, Tk] for queries at positions Tk − Tq … Tk − 1 (the last Tq
 * of Tk keys): 0 where the query may attend (key position ≤ query position), −1e9 after.
 */
export function causalBias(tf: Tf, Tq: number, Tk = Tq): Tensor {
  const a = new Float32Array(Tq * Tk);
  const offset = Tk - Tq;
  for (let t = 0; t < Tq; t++) for (let s = t + offset + 1; s < Tk; s++) a[t * Tk + s] = -1e9;
  return tf.tensor2d(a, [Tq, Tk]);
}

/** softmax(q·kᵀ/√dh + bias)·v on split heads: q [n, h, Tq, dh], k and v [n, h, Tk, dh] -> [n, h, Tq, dh]. */
export function scaledDotProductAttention(tf: Tf, q: Tensor, k: Tensor, v: Tensor, bias: Tensor): Tensor {
  const dh = q.shape[3]!;
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)); // [n, h, Tq, Tk]
  const att = softmax(tf, tf.add(scores, bias));
  return tf.matMul(att, v);
}

/** Queries, keys and values of block i for x [n, T, d], each split into heads [n, h, T, dh]. */
export function attentionProjections(tf: Tf, config: GptConfig, w: WeightMap, i: number, x: Tensor, opts: ForwardOptions = {}): { q: Tensor; k: Tensor; v: Tensor } {
  const project = (p: string) => splitHeads(tf, linear(tf, w, `h.${i}.attn.${p}`, x, opts), config.nHead);
  return { q: project("q_proj"), k: project("k_proj"), v: project("v_proj") };
}

/** The output projection of block i applied to attended heads [n, h, T, dh] -> [n, T, d]. */
export function attentionOutput(tf: Tf, w: WeightMap, i: number, heads: Tensor, opts: ForwardOptions = {}): Tensor {
  return linear(tf, w, `h.${i}.attn.o_proj`, mergeHeads(tf, heads), opts);
}

/** Causal self-attention of block i over x [n, T, d] (already layer-normed) -> [n, T, d]. */
export function gptAttention(tf: Tf, config: GptConfig, w: WeightMap, i: number, x: Tensor, bias: Tensor, opts: ForwardOptions = {}): Tensor {
  const { q, k, v } = attentionProjections(tf, config, w, i, x, opts);
  return attentionOutput(tf, w, i, scaledDotProductAttention(tf, q, k, v, bias), opts);
}

/** The feed-forward part of block i: fc_out(GELU(fc_in(x))), [n, T, d] -> [n, T, 4d] -> [n, T, d]. */
export function gptMlp(tf: Tf, w: WeightMap, i: number, x: Tensor, opts: ForwardOptions = {}): Tensor {
  return linear(tf, w, `h.${i}.mlp.fc_out`, gelu(tf, linear(tf, w, `h.${i}.mlp.fc_in`, x, opts)), opts);
}

/** One pre-norm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(·)). [n, T, d] -> [n, T, d]. */
export function gptBlock(tf: Tf, config: GptConfig, w: WeightMap, i: number, x: Tensor, bias: Tensor, opts: ForwardOptions = {}): Tensor {
  const afterAttention = tf.add(x, gptAttention(tf, config, w, i, layerNorm(tf, w, `h.${i}.ln_1`, x), bias, opts));
  return tf.add(afterAttention, gptMlp(tf, w, i, layerNorm(tf, w, `h.${i}.ln_2`, afterAttention), opts));
}

/** Final layer norm and LM head: [n, T, d] -> logits [n, T, V]. */
export function gptLmHead(tf: Tf, w: WeightMap, x: Tensor, opts: ForwardOptions = {}): Tensor {
  return linear(tf, w, "lm_head", layerNorm(tf, w, "ln_f", x), opts);
}

/**
 * GPT-2's initialisation (Radford et al. 2019, section 2.3; nanoGPT's _init_weights): every linear
 * weight and both embeddings N(0, 0.02²), biases zero, layer norms γ = 1, β = 0, and the residual
 * projections (o_proj, fc_out) N(0, (0.02/√(2·nLayer))²), since each block adds two of them to the
 * residual stream and their sum should not grow with depth. lm_head has its own weight here (not
 * tied to wte), so LoRA can adapt it by name.
 */
export function initGptWeights(tf: Tf, config: GptConfig, seed: number): WeightMap {
  const { nLayer, nEmbd: d, vocabSize: V, blockSize } = config;
  const r = rng(seed).fork("gpt-init");
  const normal = (count: number, std: number) => {
    const a = new Float32Array(count);
    for (let i = 0; i < count; i++) a[i] = r.normal() * std;
    return a;
  };
  const std = 0.02;
  const residualStd = std / Math.sqrt(2 * nLayer);
  const w: WeightMap = {
    "wte.weight": tf.tensor2d(normal(V * d, std), [V, d]),
    "wpe.weight": tf.tensor2d(normal(blockSize * d, std), [blockSize, d]),
    "ln_f.weight": tf.ones([d]),
    "ln_f.bias": tf.zeros([d]),
  };
  for (let i = 0; i < nLayer; i++) {
    for (const ln of ["ln_1", "ln_2"]) {
      w[`h.${i}.${ln}.weight`] = tf.ones([d]);
      w[`h.${i}.${ln}.bias`] = tf.zeros([d]);
    }
  }
  for (const m of gptLinearModules(config)) {
    w[`${m.name}.weight`] = tf.tensor2d(normal(m.outFeatures * m.inFeatures, isResidualProjection(m.name) ? residualStd : std), [m.outFeatures, m.inFeatures]);
    if (m.bias) w[`${m.name}.bias`] = tf.zeros([m.outFeatures]);
  }
  return w;
}

/** The model as the GPT it is (its config typed), refused for any other kind: OpenLoRA and text attribution need one. */
export function gptModel(model: Model): Model<GptConfig> {
  if (model.kind !== "gpt")
    throw new IntelligenceError({
      code: "model/not-gpt",
      message: `a ${model.kind} model where a GPT is needed`,
      hint: "pass a model built by createGpt (a base such as fortunes-gpt, or a Factory run on one)",
      fields: { kind: model.kind },
    });
  return model as Model<GptConfig>;
}

export function createGpt(tf: Tf, config: GptConfig): Model<GptConfig> {
  checkGptConfig(config);
  const { nLayer, nEmbd: d, vocabSize: V, blockSize } = config;
  const linearModules = gptLinearModules(config);
  // the causal mask of each length, built once and kept: a constant of every forward pass
  const masks = new Map<number, Tensor>();
  const maskFor = (T: number): Tensor => {
    let m = masks.get(T);
    if (!m) {
      m = tf.keep(causalBias(tf, T));
      masks.set(T, m);
    }
    return m;
  };
  maskFor(blockSize); // built with the model, so it is not counted as training memory

  const forward = (w: WeightMap, ids: Tensor, opts: ForwardOptions = {}): Tensor => {
    const T = ids.shape[1]!;
    let x = gptEmbed(tf, config, w, ids); // checks T <= blockSize
    for (let i = 0; i < nLayer; i++) x = gptBlock(tf, config, w, i, x, maskFor(T), opts);
    return gptLmHead(tf, w, x, opts);
  };

  const perExampleLoss = (w: WeightMap, ids: Tensor, targets: Tensor, opts?: ForwardOptions): Tensor => {
    const logits = forward(w, ids, opts);
    return tf.mean(crossEntropy(tf, logits, targets), -1);
  };

  return {
    tf,
    kind: "gpt",
    task: "causal-lm",
    config,
    linearModules,
    init: (seed) => initGptWeights(tf, config, seed),
    forward,
    perExampleLoss,
    loss: (w, x, y, opts) => tf.mean(perExampleLoss(w, x, y, opts)) as Scalar, // the mean over every axis is rank 0
    flopsPerExample() {
      const T = blockSize;
      const lin = linearModules.reduce((s, m) => s + 2 * m.inFeatures * m.outFeatures, 0) * T;
      const attn = nLayer * 2 * 2 * T * T * d; // QKᵀ and att·V
      return lin + attn + 2 * T * V * d;
    },
  };
}
