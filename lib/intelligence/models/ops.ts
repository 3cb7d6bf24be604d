import type { GradSaveFunc } from "@tensorflow/tfjs";
import { IntelligenceError } from "../errors.js";
import { biasKey, doraMagnitudeKey, loraAKey, loraBKey, weightKey } from "./peft-keys.js";
import type { ForwardOptions, Tensor, Tf, WeightMap } from "./types.js";

export function need(weights: WeightMap, key: string): Tensor {
  const t = weights[key];
  if (!t)
    throw new IntelligenceError({
      code: "model/missing-weight",
      message: `weight "${key}" is missing from the weight map`,
      hint: "load the base checkpoint the model was built for (model.init or loadCheckpoint)",
      fields: { weight: key },
    });
  return t;
}

/** An identity whose gradient is zero (DoRA treats the weight norm as a constant). */
export function stopGradient(tf: Tf, x: Tensor): Tensor {
  // tfjs types each argument of a custom gradient as Tensor | GradSaveFunc; the inputs come first
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => ({ value: tf.clone(args[0] as Tensor), gradFunc: (dy: Tensor) => tf.zerosLike(dy) }));
  return f(x) as Tensor;
}

/** Row norms of a [out, in] matrix: DoRA's per-output-feature weight norm. */
export function rowNorm(tf: Tf, w: Tensor): Tensor {
  return tf.sqrt(tf.sum(tf.square(w), 1));
}

/**
 * y = x·W0ᵀ + b, plus the LoRA term (α/r)·B·A·dropout(x) when the map holds adapter tensors
 * for this module, and with DoRA the per-row magnitude rescaling PEFT applies:
 *   y = (m/‖W0 + s·B·A‖ − 1)·(x·W0ᵀ) + (m/‖W0 + s·B·A‖)·s·B·A·dropout(x) + x·W0ᵀ + b
 * (the norm is a constant for the gradient, as in the DoRA paper, section 4.3).
 */
export function linear(tf: Tf, weights: WeightMap, name: string, x: Tensor, opts: ForwardOptions = {}): Tensor {
  const inShape = x.shape;
  const x2 = inShape.length === 2 ? x : tf.reshape(x, [-1, inShape[inShape.length - 1]]);
  const w = need(weights, weightKey(name));
  // each dense product passes the capture hook, if any: its input and the gradient at its output
  // are the two factors of that weight's per-example gradient
  const tap = (key: string, input: Tensor, output: Tensor) => (opts.capture ? opts.capture.tap(key, input, output) : output);
  let y = tap(weightKey(name), x2, tf.matMul(x2, w, false, true));
  const a = opts.lora ? weights[loraAKey(name)] : undefined;
  const b = opts.lora ? weights[loraBKey(name)] : undefined;
  if (a && b && opts.lora) {
    const s = opts.lora.scaling;
    let xd = x2;
    const p = opts.loraDropout ?? 0;
    if (opts.training && p > 0) xd = dropout(tf, x2, p, opts.dropoutSeed ?? 0, name);
    const down = tap(loraAKey(name), xd, tf.matMul(xd, a, false, true)); // [N, r]
    const loraOut = tf.mul(tap(loraBKey(name), down, tf.matMul(down, b, false, true)), s);
    if (opts.lora.dora) {
      const m = need(weights, doraMagnitudeKey(name));
      const merged = tf.add(w, tf.mul(tf.matMul(b, a), s));
      const scale = tf.div(m, stopGradient(tf, rowNorm(tf, merged))); // [out]
      y = tf.add(tf.add(tf.mul(y, tf.sub(scale, 1)), tf.mul(loraOut, scale)), y);
    } else {
      y = tf.add(y, loraOut);
    }
  }
  const bias = weights[biasKey(name)];
  if (bias) y = tf.add(y, bias);
  if (inShape.length === 2) return y;
  return tf.reshape(y, [...inShape.slice(0, -1), y.shape[1]!]);
}

function labelSeed(seed: number, label: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Inverted dropout with a mask drawn from (seed, layer name): reproducible across runs. */
export function dropout(tf: Tf, x: Tensor, p: number, seed: number, label: string): Tensor {
  const keep = tf.cast(tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, "float32", labelSeed(seed, label)), p), "float32");
  return tf.div(tf.mul(x, keep), 1 - p);
}

/**
 * Layer norm over the last axis, (x − μ)/√(σ² + ε)·γ + β, with its gradient written out
 * (dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ): autodiff of the forward graph costs about
 * three times as many elementwise kernels, each a single-threaded pass on wasm.
 */
export function layerNorm(tf: Tf, weights: WeightMap, name: string, x: Tensor, eps = 1e-5): Tensor {
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, gamma, beta, save] = args as [Tensor, Tensor, Tensor, GradSaveFunc];
    const { mean, variance } = tf.moments(xi, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(tf.sub(xi, mean), rstd);
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xh, r, g] = saved;
        const rows = dy.shape.slice(0, -1).map((_, i) => i);
        const gx = tf.mul(dy, g);
        const dx = tf.mul(r, tf.sub(tf.sub(gx, tf.mean(gx, -1, true)), tf.mul(xh, tf.mean(tf.mul(gx, xh), -1, true))));
        return [dx, tf.sum(tf.mul(dy, xh), rows), tf.sum(dy, rows)];
      },
    };
  });
  return f(x, need(weights, weightKey(name)), need(weights, biasKey(name))) as Tensor;
}

/** Per-row cross-entropy of logits [n, k] against integer labels [n]. */
export function crossEntropy(tf: Tf, logits: Tensor, labels: Tensor): Tensor {
  const k = logits.shape[logits.shape.length - 1]!;
  const logp = tf.logSoftmax(logits);
  const onehot = tf.oneHot(tf.cast(labels, "int32"), k);
  return tf.neg(tf.sum(tf.mul(logp, onehot), -1));
}

/**
 * GELU, GPT-2's tanh approximation, as x·σ(2u) (= x·½(1 + tanh u)), u = c·(x + 0.044715x³),
 * with x³ as x·x·x (wasm's Pow and Tanh kernels are scalar loops; Sigmoid and Multiply are
 * vectorised) and the derivative written out: σ(2u) + x·σ(2u)(1 − σ(2u))·2c(1 + 3·0.044715x²).
 */
export function gelu(tf: Tf, x: Tensor): Tensor {
  const c2 = 2 * Math.sqrt(2 / Math.PI);
  const k = 0.044715;
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, save] = args as [Tensor, GradSaveFunc];
    const x2 = tf.mul(xi, xi);
    const s = tf.sigmoid(tf.mul(tf.mul(xi, tf.add(tf.mul(x2, k), 1)), c2));
    save([xi, x2, s]);
    return {
      value: tf.mul(xi, s),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs, xx, sg] = saved;
        const du = tf.mul(tf.add(tf.mul(xx, 3 * k), 1), c2);
        const d = tf.add(sg, tf.mul(tf.mul(tf.mul(xs, sg), tf.sub(1, sg)), du));
        return [tf.mul(dy, d)];
      },
    };
  });
  return f(x) as Tensor;
}

/** PyTorch nn.Linear's default init: U(−1/√in, 1/√in) for weight and bias. */
export function kaimingUniform(rand: () => number, out: number, inF: number): Float32Array {
  const bound = 1 / Math.sqrt(inF);
  const data = new Float32Array(out * inF);
  for (let i = 0; i < data.length; i++) data[i] = (2 * rand() - 1) * bound;
  return data;
}
