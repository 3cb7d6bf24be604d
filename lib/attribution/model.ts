/**
 * The generic model interface every attribution method works on: a classifier written as a pure
 * function of one explicit parameter vector, whose trainable parameters all sit in dense blocks
 * (y = x·W + b). For such a block the gradient of example i's value is the outer product of the
 * block's input aᵢ and the signal δᵢ back-propagated to its output, so one forward and one
 * backward pass over a batch yield every per-example gradient (see gradients.ts).
 *
 * Two models implement it: multinomial logistic regression here (convex, with its exact Hessian:
 * the reference the influence methods are checked against), and any Model Factory model, the MLP
 * and the GPT with LoRA or full fine-tuning, through its own TensorFlow.js forward
 * (factory-model.ts).
 */

import type { Rng } from "../random.js";
import { AttributionError } from "./errors.js";
import { matmul, matmulAtB, norm } from "./linalg.js";
import type { LmBaseParams, LmLora } from "./lm-base.js";

/**
 * A labelled batch: x is n×dim row-major, y the class of each row. For a language model x holds
 * n windows of dim token ids and y their next tokens (yDim = dim per row).
 */
export interface Batch {
  x: Float64Array;
  y: Int32Array;
  n: number;
  dim: number;
  /** Targets per row: 1 (a class label) unless given; a language model's window length. */
  yDim?: number;
  /**
   * Language models: the weight of each target position in the example's value (n × yDim). Absent:
   * 1/T each (the mean loss of a training window). A continuation given its prompt: 1 on the
   * continuation's tokens and 0 on the prompt's, so the value is the continuation's −log-likelihood.
   */
  weights?: Float64Array;
}

/** One trainable dense block inside the parameter vector: W (rows×cols, row-major), then b (cols) if bias. */
export interface DenseBlock {
  name: string;
  rows: number;
  cols: number;
  bias: boolean;
  offset: number;
  size: number;
}

/**
 * A block's per-example input aᵢ (n×rows) and back-propagated signal δᵢ (n×cols). A language
 * model's trace holds T positions per example ((n·T)×rows and (n·T)×cols, example-major), and
 * example i's gradient is the sum of its T outer products.
 */
export interface DenseTrace {
  block: DenseBlock;
  input: Float64Array;
  signal: Float64Array;
  /** Positions per example (absent: 1). */
  positions?: number;
}

/**
 * What is differentiated: "loss" = cross-entropy −log p_y; "margin" = TRAK's model output
 * log(p_y / (1 − p_y)) = z_y − logsumexp_{k≠y} z_k.
 */
export type Target = "loss" | "margin";

export interface TraceResult {
  logits: Float64Array;
  /** The target's value per example. */
  values: Float64Array;
  traces: DenseTrace[];
}

/**
 * How a worker rebuilds a model (job-models.ts): the logistic regression, the Factory's
 * one-hidden-layer MLP with every weight trainable, or a LoRA adapter on an lm experiment's base
 * (the base by what picks it, the adapter by its shape; its weights are the parameter vector).
 */
export type ModelRecipe =
  | { kind: "logistic-regression"; inputDim: number; numClasses: number }
  | { kind: "factory-mlp"; inputDim: number; hidden: number; numClasses: number }
  | { kind: "lm-lora"; base: LmBaseParams; lora: LmLora };

/** Examples per forward/backward pass of per-example gradients where neither the caller nor the model says otherwise. */
export const DEFAULT_GRADIENT_CHUNK = 256;

export interface TraceableModel {
  readonly kind: string;
  readonly inputDim: number;
  readonly numClasses: number;
  readonly numParams: number;
  readonly blocks: readonly DenseBlock[];
  /** Seeded initial parameters. */
  init(rng: Rng): Float64Array;
  logits(params: Float64Array, x: Float64Array, n: number): Promise<Float64Array>;
  trace(params: Float64Array, batch: Batch, target: Target): Promise<TraceResult>;
  /**
   * n×numParams per-example gradients of `target`, where the model builds them itself in one
   * batched pass (the TensorFlow.js models do, on their own backend); else gradients.ts forms the
   * outer products of `trace`.
   */
  gradientRows?(params: Float64Array, batch: Batch, target: Target, out?: Float64Array): Promise<Float64Array>;
  /** Examples per batched gradient pass that keep its activations within the backend's memory (absent: DEFAULT_GRADIENT_CHUNK). */
  readonly gradientChunk?: number;
  /** TRAK's out-to-loss weights Qᵢ (absent: 1 − p of the correct class). */
  outToLoss?(params: Float64Array, batch: Batch): Promise<Float64Array>;
  /** Hessian of the mean loss (no regulariser) times v, exact (analytic, or the gradient of the gradient). */
  hvp(params: Float64Array, batch: Batch, v: Float64Array): Promise<Float64Array>;
  /** The full Hessian of the mean loss (no regulariser), where it is cheap to build directly. */
  hessian?(params: Float64Array, batch: Batch): Promise<Float64Array>;
}

export function layoutBlocks(specs: { name: string; rows: number; cols: number; bias: boolean }[]): DenseBlock[] {
  let offset = 0;
  return specs.map((s) => {
    const size = s.rows * s.cols + (s.bias ? s.cols : 0);
    const block = { ...s, offset, size };
    offset += size;
    return block;
  });
}

function checkBatch(model: TraceableModel, batch: Batch): void {
  if (batch.dim !== model.inputDim || batch.x.length !== batch.n * batch.dim || batch.y.length !== batch.n) {
    throw new AttributionError({
      code: "attribution/batch-shape-mismatch",
      message: `batch shape (n=${batch.n}, dim=${batch.dim}, x=${batch.x.length}, y=${batch.y.length}) does not fit ${model.kind} with input ${model.inputDim}`,
      hint: "build the batch with the same feature transform the model was trained with",
      fields: { n: batch.n, dim: batch.dim, x: batch.x.length, y: batch.y.length, model: model.kind, inputDim: model.inputDim },
    });
  }
}

/** z += x·W + b for the block stored at `block.offset` in params. */
function denseForward(params: Float64Array, block: DenseBlock, x: Float64Array, n: number, out: Float64Array, scale = 1): void {
  const W = params.subarray(block.offset, block.offset + block.rows * block.cols);
  const z = matmul(x, W, n, block.rows, block.cols);
  for (let i = 0; i < z.length; i++) out[i] += scale * z[i];
  if (block.bias) {
    const b = params.subarray(block.offset + block.rows * block.cols, block.offset + block.size);
    for (let i = 0; i < n; i++) for (let j = 0; j < block.cols; j++) out[i * block.cols + j] += b[j];
  }
}

/**
 * Per-example target values and d(value)/d(logits). The loss signal is p − e_y; the margin signal
 * is e_y − q with q the softmax over the classes other than y.
 */
export function headSignal(logits: Float64Array, y: Int32Array, n: number, K: number, target: Target): { values: Float64Array; signal: Float64Array; probs: Float64Array } {
  const values = new Float64Array(n);
  const signal = new Float64Array(n * K);
  const probs = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const o = i * K;
    const c = y[i];
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, logits[o + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[o + k] - max);
    for (let k = 0; k < K; k++) probs[o + k] = Math.exp(logits[o + k] - max) / sum;
    if (target === "loss") {
      values[i] = Math.log(sum) + max - logits[o + c];
      for (let k = 0; k < K; k++) signal[o + k] = probs[o + k] - (k === c ? 1 : 0);
    } else {
      let maxO = -Infinity;
      for (let k = 0; k < K; k++) if (k !== c) maxO = Math.max(maxO, logits[o + k]);
      let sumO = 0;
      for (let k = 0; k < K; k++) if (k !== c) sumO += Math.exp(logits[o + k] - maxO);
      values[i] = logits[o + c] - (Math.log(sumO) + maxO);
      for (let k = 0; k < K; k++) signal[o + k] = k === c ? 1 : -Math.exp(logits[o + k] - maxO) / sumO;
    }
  }
  return { values, signal, probs };
}

export function softmaxRows(logits: Float64Array, n: number, K: number): Float64Array {
  const y = new Int32Array(n);
  return headSignal(logits, y, n, K, "loss").probs;
}

/** Multinomial logistic regression: logits = x·W + b. Convex; its Hessian is exact and analytic. */
export class LogisticRegression implements TraceableModel {
  readonly kind = "logistic-regression";
  readonly blocks: DenseBlock[];
  readonly numParams: number;
  constructor(
    readonly inputDim: number,
    readonly numClasses: number,
  ) {
    this.blocks = layoutBlocks([{ name: "dense", rows: inputDim, cols: numClasses, bias: true }]);
    this.numParams = this.blocks[0].size;
  }
  init(): Float64Array {
    return new Float64Array(this.numParams);
  }
  async logits(params: Float64Array, x: Float64Array, n: number): Promise<Float64Array> {
    const z = new Float64Array(n * this.numClasses);
    denseForward(params, this.blocks[0], x, n, z);
    return z;
  }
  async trace(params: Float64Array, batch: Batch, target: Target): Promise<TraceResult> {
    checkBatch(this, batch);
    const logits = await this.logits(params, batch.x, batch.n);
    const { values, signal } = headSignal(logits, batch.y, batch.n, this.numClasses, target);
    return { logits, values, traces: [{ block: this.blocks[0], input: batch.x, signal }] };
  }
  /**
   * The full Hessian of the mean loss, H = (1/n) Σᵢ x̃ᵢx̃ᵢᵀ ⊗ (diag(pᵢ) − pᵢpᵢᵀ), x̃ = (x, 1),
   * built as one weighted Gram matrix X̃ᵀ diag(w_kl) X̃ per class pair (k, l).
   */
  async hessian(params: Float64Array, batch: Batch): Promise<Float64Array> {
    const { n, dim } = batch;
    const K = this.numClasses;
    const D = dim + 1;
    const p = this.numParams;
    const probs = softmaxRows(await this.logits(params, batch.x, n), n, K);
    const H = new Float64Array(p * p);
    // parameter index of (feature a, class k): W is dim×K row-major, then the bias (feature "dim")
    const idx = (a: number, k: number) => (a < dim ? a * K + k : dim * K + k);
    const xt = new Float64Array(D);
    const gram = new Float64Array(D * D);
    for (let k = 0; k < K; k++) {
      for (let l = k; l < K; l++) {
        gram.fill(0);
        for (let i = 0; i < n; i++) {
          const pk = probs[i * K + k];
          const w = (pk * ((k === l ? 1 : 0) - probs[i * K + l])) / n;
          if (w === 0) continue;
          for (let a = 0; a < dim; a++) xt[a] = batch.x[i * dim + a];
          xt[dim] = 1;
          for (let a = 0; a < D; a++) {
            const wa = w * xt[a];
            if (wa === 0) continue;
            for (let b = 0; b < D; b++) gram[a * D + b] += wa * xt[b];
          }
        }
        for (let a = 0; a < D; a++)
          for (let b = 0; b < D; b++) {
            const v = gram[a * D + b];
            H[idx(a, k) * p + idx(b, l)] = v;
            H[idx(a, l) * p + idx(b, k)] = v;
          }
      }
    }
    return H;
  }
  /** H v with H = (1/n) Σᵢ (diag(pᵢ) − pᵢpᵢᵀ) ⊗ x̃ᵢx̃ᵢᵀ, x̃ = (x, 1). */
  async hvp(params: Float64Array, batch: Batch, v: Float64Array): Promise<Float64Array> {
    const { n, dim } = batch;
    const K = this.numClasses;
    const probs = softmaxRows(await this.logits(params, batch.x, n), n, K);
    const u = new Float64Array(n * K);
    denseForward(v, this.blocks[0], batch.x, n, u);
    const s = new Float64Array(n * K);
    for (let i = 0; i < n; i++) {
      let pu = 0;
      for (let k = 0; k < K; k++) pu += probs[i * K + k] * u[i * K + k];
      for (let k = 0; k < K; k++) s[i * K + k] = (probs[i * K + k] * (u[i * K + k] - pu)) / n;
    }
    const out = new Float64Array(this.numParams);
    out.set(matmulAtB(batch.x, s, n, dim, K), 0);
    for (let i = 0; i < n; i++) for (let k = 0; k < K; k++) out[dim * K + k] += s[i * K + k];
    return out;
  }
}

/** Mean gradient over the batch by the ordinary backward pass (Aᵀ·Δ / n), plus l2·θ. */
export async function batchGradient(model: TraceableModel, params: Float64Array, batch: Batch, l2 = 0, target: Target = "loss"): Promise<{ value: number; grad: Float64Array }> {
  const { values, traces } = await model.trace(params, batch, target);
  const grad = new Float64Array(model.numParams);
  const n = batch.n;
  for (const { block, input, signal, positions } of traces) {
    const rowsTraced = n * (positions ?? 1); // a language model's trace holds every position of every example
    const gW = matmulAtB(input, signal, rowsTraced, block.rows, block.cols);
    for (let i = 0; i < gW.length; i++) grad[block.offset + i] = gW[i] / n;
    if (block.bias) {
      const bo = block.offset + block.rows * block.cols;
      for (let i = 0; i < rowsTraced; i++) for (let j = 0; j < block.cols; j++) grad[bo + j] += signal[i * block.cols + j] / n;
    }
  }
  let value = 0;
  for (const v of values) value += v;
  value /= n;
  if (l2 > 0) {
    let sq = 0;
    for (let i = 0; i < params.length; i++) {
      grad[i] += l2 * params[i];
      sq += params[i] * params[i];
    }
    value += 0.5 * l2 * sq;
  }
  return { value, grad };
}

/** Hessian-vector product of the regularised mean loss, (H + l2·I)·v, from the model's exact product. */
export async function hessianVectorProduct(model: TraceableModel, params: Float64Array, batch: Batch, v: Float64Array, l2: number): Promise<Float64Array> {
  const out = await model.hvp(params, batch, v);
  if (l2 > 0) for (let i = 0; i < out.length; i++) out[i] += l2 * v[i];
  return out;
}

/**
 * The same product by central differences of gradients, (∇L(θ + εv) − ∇L(θ − εv)) / 2ε with
 * ε = 1e-4/‖v‖: no solver uses it; it is kept as the baseline the exact product is measured
 * against (its error is the finite step's truncation plus float32 rounding amplified by 1/ε).
 */
export async function finiteDifferenceHvp(model: TraceableModel, params: Float64Array, batch: Batch, v: Float64Array, l2: number): Promise<Float64Array> {
  const eps = 1e-4 / (norm(v) || 1);
  const plus = params.map((p, i) => p + eps * v[i]);
  const minus = params.map((p, i) => p - eps * v[i]);
  const gp = (await batchGradient(model, plus, batch)).grad;
  const gm = (await batchGradient(model, minus, batch)).grad;
  return gp.map((g, i) => (g - gm[i]) / (2 * eps) + l2 * v[i]);
}

/** Accuracy of the model's argmax on a batch. */
export async function accuracy(model: TraceableModel, params: Float64Array, batch: Batch): Promise<number> {
  const z = await model.logits(params, batch.x, batch.n);
  const K = model.numClasses;
  let correct = 0;
  for (let i = 0; i < batch.n; i++) {
    let best = 0;
    for (let k = 1; k < K; k++) if (z[i * K + k] > z[i * K + best]) best = k;
    if (best === batch.y[i]) correct++;
  }
  return correct / batch.n;
}

/** Rows `idx` of a batch. */
export function subset(batch: Batch, idx: ArrayLike<number>): Batch {
  const n = idx.length;
  const yd = batch.yDim ?? 1;
  const x = new Float64Array(n * batch.dim);
  const y = new Int32Array(n * yd);
  const weights = batch.weights ? new Float64Array(n * yd) : undefined;
  for (let i = 0; i < n; i++) {
    x.set(batch.x.subarray(idx[i] * batch.dim, (idx[i] + 1) * batch.dim), i * batch.dim);
    y.set(batch.y.subarray(idx[i] * yd, (idx[i] + 1) * yd), i * yd);
    weights?.set(batch.weights!.subarray(idx[i] * yd, (idx[i] + 1) * yd), i * yd);
  }
  const out: Batch = { x, y, n, dim: batch.dim };
  if (batch.yDim !== undefined) out.yDim = batch.yDim;
  if (weights) out.weights = weights;
  return out;
}
