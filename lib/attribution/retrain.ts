/**
 * Training for the attribution experiments: Newton's method to the exact optimum for convex
 * models (so leave-one-out and subset retraining are deterministic functions of the data), and
 * seeded minibatch SGD/Adam for the rest, keeping checkpoints (parameters + learning rate) for TracIn.
 */
import { sha256Hex } from "../files.js";
import { rng as makeRng } from "../random.js";
import { AttributionError, HashMismatchError } from "./errors.js";
import { cholesky, choleskySolve, norm } from "./linalg.js";
import { type Batch, batchGradient, hessianVectorProduct, subset, type TraceableModel } from "./model.js";

/** sha256 of a parameter vector's little-endian float64 bytes: the identity checkpoints are recorded under. */
export function hashParams(params: Float64Array): string {
  return `0x${sha256Hex(new Uint8Array(params.buffer, params.byteOffset, params.byteLength))}`;
}

export interface Checkpoint {
  step: number;
  /** Learning rate in force over the interval this checkpoint closes (TracIn's weight ηᵢ). */
  lr: number;
  params: Float64Array;
  hash: string;
}

export function makeCheckpoint(step: number, lr: number, params: Float64Array): Checkpoint {
  const copy = new Float64Array(params);
  return { step, lr, params: copy, hash: hashParams(copy) };
}

/** Refuses a checkpoint whose parameters no longer match their recorded hash. */
export function verifyCheckpoint(cp: { params: Float64Array; hash: string }, label = "checkpoint"): void {
  const actual = hashParams(cp.params);
  if (actual !== cp.hash) {
    throw new HashMismatchError({
      code: "attribution/checkpoint-hash-mismatch",
      message: `${label} parameters hash to ${actual}, but ${cp.hash} was recorded`,
      hint: "the checkpoint was changed after it was recorded: reload it from the Model Factory or retrain",
      fields: { label, actual, recorded: cp.hash },
    });
  }
}

/** The exact Hessian of the regularised mean loss, column by column from exact HVPs. */
export async function exactHessian(model: TraceableModel, params: Float64Array, batch: Batch, l2: number): Promise<Float64Array> {
  const p = model.numParams;
  if (model.hessian) {
    const H = await model.hessian(params, batch);
    for (let i = 0; i < p; i++) H[i * p + i] += l2;
    return H;
  }
  const H = new Float64Array(p * p);
  const e = new Float64Array(p);
  for (let j = 0; j < p; j++) {
    e.fill(0);
    e[j] = 1;
    const col = await hessianVectorProduct(model, params, batch, e, l2);
    for (let i = 0; i < p; i++) H[i * p + j] = col[i];
  }
  // symmetrise away rounding
  for (let i = 0; i < p; i++) for (let j = i + 1; j < p; j++) H[i * p + j] = H[j * p + i] = 0.5 * (H[i * p + j] + H[j * p + i]);
  return H;
}

/** Newton's method with backtracking on a strongly convex objective (l2 > 0). */
export async function fitNewton(model: TraceableModel, batch: Batch, opts: { l2: number; start?: Float64Array; tol?: number; maxIter?: number }): Promise<Float64Array> {
  if (!(opts.l2 > 0))
    throw new AttributionError({
      code: "attribution/newton-needs-l2",
      message: "Newton training needs l2 > 0",
      hint: "pass a positive l2 so the optimum is unique",
      fields: { l2: opts.l2 },
    });
  let params = opts.start ? new Float64Array(opts.start) : model.init(makeRng(0));
  const tol = opts.tol ?? 1e-10;
  for (let it = 0; it < (opts.maxIter ?? 50); it++) {
    const { value, grad } = await batchGradient(model, params, batch, opts.l2);
    if (norm(grad) < tol) break;
    const H = await exactHessian(model, params, batch, opts.l2);
    const step = choleskySolve(cholesky(H, model.numParams), model.numParams, grad);
    let t = 1;
    for (let k = 0; k < 30; k++) {
      const cand = params.map((p, i) => p - t * step[i]);
      if ((await batchGradient(model, cand, batch, opts.l2)).value <= value + 1e-12) {
        params = cand;
        break;
      }
      t /= 2;
    }
  }
  return params;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  l2: number;
  seed: number;
  /** Keep a checkpoint at the end of every `checkpointEvery` epochs (TracIn-CP). */
  checkpointEvery?: number;
  /** Starting parameters (else the model's seeded init). */
  start?: Float64Array;
}

export interface TrainResult {
  params: Float64Array;
  checkpoints: Checkpoint[];
  lossHistory: number[];
}

/** Seeded minibatch training with Adam; the same seed and data give bit-identical parameters. */
export async function trainModel(model: TraceableModel, batch: Batch, opts: TrainOptions): Promise<TrainResult> {
  const r = makeRng(opts.seed);
  let params = opts.start ? new Float64Array(opts.start) : model.init(r.fork("init"));
  const order = r.fork("order");
  const m = new Float64Array(model.numParams);
  const v = new Float64Array(model.numParams);
  const b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8;
  let t = 0;
  const checkpoints: Checkpoint[] = [];
  const lossHistory: number[] = [];
  const idx = Array.from({ length: batch.n }, (_, i) => i);
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    order.shuffle(idx);
    let epochLoss = 0;
    for (let s = 0; s < batch.n; s += opts.batchSize) {
      const mb = subset(batch, idx.slice(s, s + opts.batchSize));
      const { value, grad } = await batchGradient(model, params, mb, opts.l2);
      epochLoss += value * mb.n;
      t++;
      for (let i = 0; i < params.length; i++) {
        m[i] = b1 * m[i] + (1 - b1) * grad[i];
        v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i];
        params[i] -= (opts.lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
      }
    }
    lossHistory.push(epochLoss / batch.n);
    if (opts.checkpointEvery && (epoch + 1) % opts.checkpointEvery === 0) checkpoints.push(makeCheckpoint(t, opts.lr, params));
  }
  params = new Float64Array(params);
  return { params, checkpoints, lossHistory };
}
