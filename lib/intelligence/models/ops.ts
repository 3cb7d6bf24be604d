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
    if (opts.training && p > 0) xd = dropout(tf, x2, p, opts.dropoutSeed ?? 0, name, opts.dropoutRows);
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

/**
 * Inverted dropout with a mask drawn from (seed, layer name): reproducible across runs. With
 * `rows` (x holds rows [offset, offset + rows) of a batch of `total`, each example the same number
 * of leading-axis rows), the mask is drawn for the whole batch and this part sliced from it.
 */
export function dropout(tf: Tf, x: Tensor, p: number, seed: number, label: string, rows?: ForwardOptions["dropoutRows"]): Tensor {
  const draw = (shape: number[]) => tf.randomUniform(shape, 0, 1, "float32", labelSeed(seed, label));
  let uniform: Tensor;
  if (rows && rows.rows !== rows.total) {
    const perExample = x.shape[0] / rows.rows;
    uniform = tf.slice(draw([perExample * rows.total, ...x.shape.slice(1)]), [perExample * rows.offset, ...x.shape.slice(1).map(() => 0)], x.shape);
  } else uniform = draw(x.shape);
  const keep = tf.cast(tf.greaterEqual(uniform, p), "float32");
  return tf.div(tf.mul(x, keep), 1 - p);
}

/**
 * Whether a custom gradient's backward pass is itself being recorded: true inside a second-order
 * gradient (tf.grad of a function of tf.grad, as exact Hessian-vector products take). TensorFlow.js
 * runs a custom op's forward off the tape, so the intermediates it saves are constants to a second
 * differentiation; a backward that will be differentiated recomputes them from the op's inputs
 * (which are on the tape) with recorded ops, and is then exact to second order.
 */
function backwardIsRecorded(tf: Tf): boolean {
  return tf.engine().isTapeOn();
}

/**
 * Layer norm over the last axis, (x − μ)/√(σ² + ε)·γ + β, with its gradient written out
 * (dx = r·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ): autodiff of the forward graph costs about
 * three times as many elementwise kernels, each a single-threaded pass on wasm. A first-order
 * backward reuses the forward's x̂ and r; a recorded one (second order) recomputes them from x.
 */
export function layerNorm(tf: Tf, weights: WeightMap, name: string, x: Tensor, eps = 1e-5): Tensor {
  const normalise = (xi: Tensor) => {
    const { mean, variance } = tf.moments(xi, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    return { xhat: tf.mul(tf.sub(xi, mean), rstd), rstd };
  };
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, gamma, beta, save] = args as [Tensor, Tensor, Tensor, GradSaveFunc];
    const { xhat, rstd } = normalise(xi);
    save([xi, gamma, xhat, rstd]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs, g] = saved;
        const { xhat: xh, rstd: r } = backwardIsRecorded(tf) ? normalise(xs) : { xhat: saved[2], rstd: saved[3] };
        const rows = dy.shape.slice(0, -1).map((_, i) => i);
        const gx = tf.mul(dy, g);
        const dx = tf.mul(r, tf.sub(tf.sub(gx, tf.mean(gx, -1, true)), tf.mul(xh, tf.mean(tf.mul(gx, xh), -1, true))));
        return [dx, tf.sum(tf.mul(dy, xh), rows), tf.sum(dy, rows)];
      },
    };
  });
  return f(x, need(weights, weightKey(name)), need(weights, biasKey(name))) as Tensor;
}

/**
 * Softmax over the last axis, with TensorFlow.js's gradient (y·(dy − Σ dy·y)) made differentiable
 * twice: tfjs saves an op's output for its gradient as a copy recorded before the op itself, so a
 * second differentiation sees y as a constant and drops the softmax's curvature. A recorded backward
 * recomputes y from the saved input.
 */
export function softmax(tf: Tf, x: Tensor): Tensor {
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, save] = args as [Tensor, GradSaveFunc];
    const y = tf.softmax(xi);
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const ys = backwardIsRecorded(tf) ? tf.softmax(saved[0]) : saved[1];
        const dyTimesY = tf.mul(dy, ys);
        return [tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, -1, true), ys))];
      },
    };
  });
  return f(x) as Tensor;
}

/** Log-softmax over the last axis, gradient dy − Σdy·exp(y), differentiable twice as `softmax` is. */
export function logSoftmax(tf: Tf, x: Tensor): Tensor {
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, save] = args as [Tensor, GradSaveFunc];
    const y = tf.logSoftmax(xi);
    save([xi, y]);
    return {
      value: y,
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const ys = backwardIsRecorded(tf) ? tf.logSoftmax(saved[0]) : saved[1];
        return [tf.sub(dy, tf.mul(tf.sum(dy, -1, true), tf.exp(ys)))];
      },
    };
  });
  return f(x) as Tensor;
}

/** Cross-entropy of logits [..., k] against integer labels [...]: one value per row. */
export function crossEntropy(tf: Tf, logits: Tensor, labels: Tensor): Tensor {
  const k = logits.shape[logits.shape.length - 1]!;
  const logp = logSoftmax(tf, logits);
  const onehot = tf.oneHot(tf.cast(labels, "int32"), k);
  return tf.neg(tf.sum(tf.mul(logp, onehot), -1));
}

/**
 * GELU, GPT-2's tanh approximation, as x·σ(2u) (= x·½(1 + tanh u)), u = c·(x + 0.044715x³),
 * with x³ as x·x·x (wasm's Pow and Tanh kernels are scalar loops; Sigmoid and Multiply are
 * vectorised) and the derivative written out: σ(2u) + x·σ(2u)(1 − σ(2u))·2c(1 + 3·0.044715x²).
 * A first-order backward reuses the forward's x² and σ; a recorded one (second order) recomputes
 * them from x.
 */
export function gelu(tf: Tf, x: Tensor): Tensor {
  const c2 = 2 * Math.sqrt(2 / Math.PI);
  const k = 0.044715;
  const parts = (xi: Tensor) => {
    const x2 = tf.mul(xi, xi);
    return { x2, s: tf.sigmoid(tf.mul(tf.mul(xi, tf.add(tf.mul(x2, k), 1)), c2)) };
  };
  const f = tf.customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const [xi, save] = args as [Tensor, GradSaveFunc];
    const { x2, s } = parts(xi);
    save([xi, x2, s]);
    return {
      value: tf.mul(xi, s),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xs] = saved;
        const { x2: xx, s: sg } = backwardIsRecorded(tf) ? parts(xs) : { x2: saved[1], s: saved[2] };
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
