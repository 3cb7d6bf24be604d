import { rng } from "../../random.js";
import { crossEntropy, gelu, kaimingUniform, layerNorm, linear, need } from "./ops.js";
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
 * Token embedding is a one-hot matrix product: its gradient needs no scatter kernel.
 */
export function createGpt(tf: Tf, config: GptConfig): Model<GptConfig> {
  const { nLayer, nEmbd: d, vocabSize: V, blockSize, nHead } = config;
  if (d % nHead !== 0) throw new RangeError(`nEmbd ${d} is not a multiple of nHead ${nHead}`);
  const linearModules: LinearModule[] = [];
  for (let i = 0; i < nLayer; i++) {
    for (const p of ["q_proj", "k_proj", "v_proj", "o_proj"]) linearModules.push({ name: `h.${i}.attn.${p}`, inFeatures: d, outFeatures: d, bias: true });
    linearModules.push({ name: `h.${i}.mlp.fc_in`, inFeatures: d, outFeatures: 4 * d, bias: true });
    linearModules.push({ name: `h.${i}.mlp.fc_out`, inFeatures: 4 * d, outFeatures: d, bias: true });
  }
  linearModules.push({ name: "lm_head", inFeatures: d, outFeatures: V, bias: false });
  const dh = d / nHead;
  // causal mask as an additive bias (0 where position t may attend to s <= t, -1e9 after),
  // built once per length and kept: it is a constant of every forward pass
  const masks = new Map<number, Tensor>();
  const causalBias = (T: number): Tensor => {
    let m = masks.get(T);
    if (!m) {
      const a = new Float32Array(T * T);
      for (let t = 0; t < T; t++) for (let s = t + 1; s < T; s++) a[t * T + s] = -1e9;
      m = tf.keep(tf.tensor2d(a, [T, T]));
      masks.set(T, m);
    }
    return m;
  };
  causalBias(blockSize); // built with the model, so it is not counted as training memory

  const attention = (w: WeightMap, i: number, x: Tensor, opts: ForwardOptions): Tensor => {
    const [n, T] = x.shape as number[];
    const split = (t: Tensor) => tf.transpose(tf.reshape(t, [n, T, nHead, dh]), [0, 2, 1, 3]);
    const q = split(linear(tf, w, `h.${i}.attn.q_proj`, x, opts));
    const k = split(linear(tf, w, `h.${i}.attn.k_proj`, x, opts));
    const v = split(linear(tf, w, `h.${i}.attn.v_proj`, x, opts));
    const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh));
    const masked = tf.add(scores, causalBias(T));
    const att = tf.softmax(masked as any);
    const out = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [n, T, d]);
    return linear(tf, w, `h.${i}.attn.o_proj`, out, opts);
  };

  const forward = (w: WeightMap, ids: Tensor, opts: ForwardOptions = {}): Tensor => {
    const [n, T] = ids.shape as number[];
    const tok = tf.reshape(tf.matMul(tf.reshape(tf.oneHot(tf.cast(ids, "int32") as any, V), [n * T, V]), need(w, "wte.weight")), [n, T, d]);
    const pos = tf.slice(need(w, "wpe.weight"), [0, 0], [T, d]);
    let x: Tensor = tf.add(tok, pos);
    for (let i = 0; i < nLayer; i++) {
      x = tf.add(x, attention(w, i, layerNorm(tf, w, `h.${i}.ln_1`, x), opts));
      const hmid = gelu(tf, linear(tf, w, `h.${i}.mlp.fc_in`, layerNorm(tf, w, `h.${i}.ln_2`, x), opts));
      x = tf.add(x, linear(tf, w, `h.${i}.mlp.fc_out`, hmid, opts));
    }
    return linear(tf, w, "lm_head", layerNorm(tf, w, "ln_f", x), opts);
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
    init(seed) {
      const r = rng(seed).fork("gpt-init");
      const normal = (count: number, std: number) => {
        const a = new Float32Array(count);
        for (let i = 0; i < count; i++) a[i] = r.normal() * std;
        return a;
      };
      const w: WeightMap = {
        "wte.weight": tf.tensor2d(normal(V * d, 0.02), [V, d]),
        "wpe.weight": tf.tensor2d(normal(blockSize * d, 0.02), [blockSize, d]),
        "ln_f.weight": tf.ones([d]),
        "ln_f.bias": tf.zeros([d]),
      };
      for (let i = 0; i < nLayer; i++) {
        for (const ln of ["ln_1", "ln_2"]) {
          w[`h.${i}.${ln}.weight`] = tf.ones([d]);
          w[`h.${i}.${ln}.bias`] = tf.zeros([d]);
        }
      }
      for (const m of linearModules) {
        w[`${m.name}.weight`] = tf.tensor2d(kaimingUniform(() => r.next(), m.outFeatures, m.inFeatures), [m.outFeatures, m.inFeatures]);
        if (m.bias) w[`${m.name}.bias`] = tf.zeros([m.outFeatures]);
      }
      return w;
    },
    forward,
    perExampleLoss,
    loss: (w, x, y, opts) => tf.mean(perExampleLoss(w, x, y, opts)) as any,
    flopsPerExample() {
      const T = blockSize;
      const lin = linearModules.reduce((s, m) => s + 2 * m.inFeatures * m.outFeatures, 0) * T;
      const attn = nLayer * 2 * 2 * T * T * d; // QKᵀ and att·V
      return lin + attn + 2 * T * V * d;
    },
  };
}
