/**
 * Any Model Factory model, as the attribution methods see it: the Intelligence layer's own
 * TensorFlow.js model (the MLP or the GPT) with its trainable tensors (LoRA factors, or every
 * linear weight and bias for full fine-tuning) flattened into one parameter vector, the rest of the
 * weights frozen at the base model.
 *
 * Per-example gradients come from one batched pass. The forward runs with a capture hook in
 * `linear` (ops.ts): each dense product y = x·Wᵀ of a trainable weight records its input x and
 * adds a zero probe z to y; the backward differentiates Σᵢ vᵢ with respect to the probes alone, so
 * it yields δ = ∂(Σᵢ vᵢ)/∂y and builds no weight gradient. The examples are independent, so δ's
 * rows for example i are ∂vᵢ/∂y, and example i's gradient is
 *
 *   ∂vᵢ/∂W = Σₜ xᵢₜ ⊗ δᵢₜ      (t over the positions of a window; one position for a classifier)
 *
 * for a language model one batched matrix product [n, in, T]·[n, T, out] per block on the model's
 * own backend (a classifier's single outer product is written on the host, skipping the inputs a
 * ReLU left at zero). LoRA's A and B are
 * dense products too: A's input is the layer input, B's input is A's output (before the α/r scale,
 * which δ of B's product carries).
 *
 * Values vᵢ ("target"): "loss" is the cross-entropy; for a language model Σₜ wᵢₜ·CEᵢₜ with the
 * batch's position weights (1/T by default: a training window's mean loss; 1 on a continuation
 * and 0 on its prompt: the continuation's −log-likelihood given the prompt). "margin" is TRAK's
 * log(p/(1 − p)) of the correct class, per token for a language model, weighted the same way.
 *
 * Layout of the parameter vector: per trainable weight a block of rows = in, cols = out holding Wᵀ
 * (the attribution layer's x·W convention; PEFT stores [out, in]), then its bias where trainable.
 */
import type * as tfjs from "@tensorflow/tfjs";
import { crossEntropy } from "../intelligence/models/ops.js";
import { biasKey, loraAKey, loraBKey, roleOf, weightKey } from "../intelligence/models/peft-keys.js";
import type { ForwardOptions, LinearCapture, Model, Tensor, Tf, WeightMap } from "../intelligence/models/types.js";
import type { Rng } from "../random.js";
import { readFloats, readTensorMap } from "../tf/read-back.js";
import { AttributionError } from "./errors.js";
import { type Batch, DEFAULT_GRADIENT_CHUNK, type DenseBlock, type DenseTrace, layoutBlocks, type ModelRecipe, subset, type Target, type TraceableModel, type TraceResult } from "./model.js";
import { type Checkpoint, makeCheckpoint } from "./retrain.js";

/** A tensor as the Factory stores it (checkpoint ArrayMap entries, or a HostTensor read back from the device). */
export interface ArrayTensor {
  shape: number[];
  data: ArrayLike<number>;
}

/** One trainable dense product: the PEFT key of its weight, and where it sits in the vector. */
interface TrainableProduct {
  key: string;
  biasKey?: string;
  block: DenseBlock;
}

/**
 * Records, for the products it was built for, each one's input, and adds to each one's output a
 * zero probe [N, out] (N = examples × positions): the gradient with respect to a probe is δ, the
 * signal back-propagated to that output. The pass differentiates with respect to the probes alone,
 * so the backward builds no weight gradient Σ xᵀ·δ, which per-example gradients have no use for.
 * Inputs it keeps outlive the tidy scope of the pass; `dispose` frees them.
 */
class GradientCapture implements LinearCapture {
  readonly inputs = new Map<string, Tensor>();
  constructor(
    private readonly tf: Tf,
    /** The zero probe of each product's output, by key (made in the pass's tidy scope). */
    readonly probes: ReadonlyMap<string, Tensor>,
  ) {}

  tap(key: string, input: Tensor, output: Tensor): Tensor {
    const probe = this.probes.get(key);
    if (!probe) return output;
    this.inputs.set(key, this.tf.keep(this.tf.clone(input)));
    return this.tf.add(output, probe);
  }

  dispose(): void {
    for (const t of this.inputs.values()) t.dispose();
  }
}

/** What one captured pass leaves on the device (kept past its tidy scope until `dispose`). */
interface CapturedPass {
  /** Each trainable product's input [n·T, in] and output gradient [n·T, out], by key. */
  inputs: ReadonlyMap<string, Tensor>;
  signals: ReadonlyMap<string, Tensor>;
  /** Per-example values [n] and the logits of the same forward. */
  values: Tensor;
  logits: Tensor;
  dispose(): void;
}

function disposeAll(tensors: Tensor[]): void {
  for (const t of tensors) t.dispose();
}

function transposeToVector(t: ArrayTensor, out: Float64Array, offset: number): void {
  const [rows, cols] = t.shape;
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[offset + j * rows + i] = t.data[i * cols + j];
}

export interface FactoryModelSpec {
  /** The Intelligence layer model (createMlp, createGpt, baseModel). */
  model: Model;
  /** Every weight the forward needs; trainable ones are replaced by the parameter vector's. */
  weights: WeightMap;
  /** PEFT keys of the trainable tensors: MODULE.lora_A.weight / .lora_B.weight, or MODULE.weight / .bias. */
  trainable: string[];
  /** The forward options the weights need (LoRA scaling); dropout is off at attribution time. */
  forwardOptions?: ForwardOptions;
  /** How a worker rebuilds this model (job-models.ts); absent: its jobs run in this process. */
  recipe?: ModelRecipe;
}

export class FactoryModel implements TraceableModel {
  readonly kind: string;
  readonly blocks: DenseBlock[];
  readonly numParams: number;
  readonly inputDim: number;
  readonly numClasses: number;
  readonly tf: Tf;
  readonly model: Model;
  /** Positions per example: 1 for a classifier, the block size for a language model. */
  readonly positions: number;
  /** Examples per batched gradient pass (gradients.ts): on wasm, fewer for a language model whose pass would outgrow the heap. */
  readonly gradientChunk: number;
  private readonly frozen: WeightMap;
  private readonly products: TrainableProduct[];
  private readonly forwardOptions: ForwardOptions;
  readonly recipe?: ModelRecipe;

  constructor(spec: FactoryModelSpec) {
    const { model } = spec;
    this.model = model;
    this.recipe = spec.recipe;
    this.tf = model.tf;
    this.forwardOptions = { ...(spec.forwardOptions ?? {}), training: false };
    if (this.forwardOptions.lora?.dora) {
      throw new AttributionError({
        code: "attribution/dora-unsupported",
        message: "DoRA adapters are not attributed: their magnitude vector is no dense product",
        hint: "attribute a plain LoRA run (use_dora: false)",
        fields: { model: model.kind },
      });
    }
    const trainable = new Set(spec.trainable);
    const products: { key: string; biasKey?: string; rows: number; cols: number }[] = [];
    for (const m of model.linearModules) {
      const a = loraAKey(m.name),
        b = loraBKey(m.name),
        w = weightKey(m.name),
        bias = biasKey(m.name);
      if (trainable.has(a) !== trainable.has(b)) {
        throw new AttributionError({
          code: "attribution/half-adapter",
          message: `only one of ${a} and ${b} is trainable`,
          hint: "pass both LoRA factors of every adapted module",
          fields: { module: m.name },
        });
      }
      if (trainable.has(a)) {
        const r = spec.weights[a]?.shape[0];
        if (!r)
          throw new AttributionError({
            code: "attribution/missing-tensor",
            message: `the weights hold no ${a}`,
            hint: "pass the base weights merged with the adapter tensors (loraWeightMap)",
            fields: { key: a },
          });
        products.push({ key: a, rows: m.inFeatures, cols: r }, { key: b, rows: r, cols: m.outFeatures });
      }
      if (trainable.has(bias) && !trainable.has(w)) {
        throw new AttributionError({
          code: "attribution/bias-without-weight",
          message: `${bias} is trainable but ${w} is not`,
          hint: "train a linear layer's weight with its bias (full fine-tuning), or neither",
          fields: { module: m.name },
        });
      }
      if (trainable.has(w)) products.push({ key: w, biasKey: m.bias && trainable.has(bias) ? bias : undefined, rows: m.inFeatures, cols: m.outFeatures });
    }
    const covered = new Set(products.flatMap((p) => (p.biasKey ? [p.key, p.biasKey] : [p.key])));
    const stray = spec.trainable.filter((k) => !covered.has(k));
    if (stray.length > 0) {
      throw new AttributionError({
        code: "attribution/not-dense",
        message: `trainable tensors ${stray.join(", ")} are not weights of linear layers`,
        hint: "attribute LoRA factors or linear weights and biases; embeddings and layer norms stay frozen for attribution",
        fields: { keys: stray },
      });
    }
    if (products.length === 0)
      throw new AttributionError({
        code: "attribution/nothing-trainable",
        message: "no trainable tensor was named",
        hint: "pass the adapter's keys (or the fine-tuned linear weights) as `trainable`",
        fields: { model: model.kind },
      });
    this.blocks = layoutBlocks(products.map((p) => ({ name: p.key, rows: p.rows, cols: p.cols, bias: p.biasKey !== undefined })));
    this.products = products.map((p, i) => ({ key: p.key, biasKey: p.biasKey, block: this.blocks[i] }));
    const last = this.blocks[this.blocks.length - 1];
    this.numParams = last.offset + last.size;
    this.frozen = Object.fromEntries(Object.entries(spec.weights).filter(([k]) => !covered.has(k)));
    this.kind = `factory-${model.kind}${products.some((p) => p.key.includes(".lora_")) ? "-lora" : ""}`;
    const config = model.config as { inputSize?: number; blockSize?: number; vocabSize?: number; numClasses?: number };
    this.positions = model.task === "causal-lm" ? config.blockSize! : 1;
    this.inputDim = model.task === "causal-lm" ? config.blockSize! : model.linearModules[0].inFeatures;
    this.numClasses = model.linearModules[model.linearModules.length - 1].outFeatures;
    // the wasm heap is 4 GiB at most; other backends keep the default
    this.gradientChunk = model.task === "causal-lm" && this.tf.getBackend() === "wasm" ? lmGradientChunk(model.config as GptShape) : DEFAULT_GRADIENT_CHUNK;
  }

  /** Trainable tensors (PEFT layout, by key) → parameter vector. */
  pack(tensors: Record<string, ArrayTensor>): Float64Array {
    const p = new Float64Array(this.numParams);
    for (const { key, biasKey, block } of this.products) {
      const t = tensors[key];
      if (!t) throw new AttributionError({ code: "attribution/missing-tensor", message: `the tensors hold no ${key}`, hint: "pass every trainable tensor of the run or checkpoint", fields: { key } });
      transposeToVector(t, p, block.offset);
      if (biasKey) {
        const b = tensors[biasKey];
        if (!b)
          throw new AttributionError({
            code: "attribution/missing-tensor",
            message: `the tensors hold no ${biasKey}`,
            hint: "pass every trainable tensor of the run or checkpoint",
            fields: { key: biasKey },
          });
        for (let j = 0; j < block.cols; j++) p[block.offset + block.rows * block.cols + j] = b.data[j];
      }
    }
    return p;
  }

  /** Trainable tensors of the live weight map (`weights` as the constructor got them) → vector, read back from the device. */
  async readParams(weights: WeightMap): Promise<Float64Array> {
    return this.pack(await readTensorMap(Object.fromEntries(this.trainableKeys().map((k) => [k, weights[k]]))));
  }

  /** PEFT keys of the trainable tensors, in vector order (each weight, then its bias where trainable). */
  private trainableKeys(): string[] {
    return this.products.flatMap(({ key, biasKey }) => (biasKey ? [key, biasKey] : [key]));
  }

  /** Parameter vector → the trainable tensors in PEFT layout (inside the caller's tidy scope). */
  unpack(params: Float64Array): WeightMap {
    const tf = this.tf;
    if (params.length !== this.numParams) {
      throw new AttributionError({
        code: "attribution/params-length",
        message: `a parameter vector of ${params.length} entries for a model of ${this.numParams}`,
        hint: "pack the parameters with this model's pack()",
        fields: { length: params.length, numParams: this.numParams },
      });
    }
    const out: WeightMap = {};
    for (const { key, biasKey, block } of this.products) {
      const w = Float32Array.from(params.subarray(block.offset, block.offset + block.rows * block.cols));
      out[key] = tf.transpose(tf.tensor2d(w, [block.rows, block.cols])); // [in, out] -> PEFT's [out, in]
      if (biasKey) out[biasKey] = tf.tensor1d(Float32Array.from(params.subarray(block.offset + block.rows * block.cols, block.offset + block.size)));
    }
    return out;
  }

  /** Kept Factory checkpoints as hashed attribution checkpoints (TracIn-CP). */
  checkpoints(cks: { step: number; lr: number; tensors: Record<string, ArrayTensor> }[]): Checkpoint[] {
    return cks.map((c) => makeCheckpoint(c.step, c.lr, this.pack(c.tensors)));
  }

  init(_rng: Rng): Float64Array {
    throw new AttributionError({
      code: "attribution/factory-init",
      message: "a Factory model is trained by the Model Factory",
      hint: "pack() the run's adapter or checkpoint tensors instead",
      fields: { model: this.kind },
    });
  }

  private checkBatch(batch: Batch): void {
    const yDim = batch.yDim ?? 1;
    const wantY = this.positions;
    if (batch.dim !== this.inputDim || batch.x.length !== batch.n * batch.dim || yDim !== wantY || batch.y.length !== batch.n * yDim || (batch.weights && batch.weights.length !== batch.n * yDim)) {
      throw new AttributionError({
        code: "attribution/batch-shape",
        message: `batch (n=${batch.n}, dim=${batch.dim}, yDim=${yDim}) does not fit ${this.kind} (input ${this.inputDim}, ${wantY} target${wantY > 1 ? "s" : ""} per example)`,
        hint: this.positions > 1 ? "build language-model batches with lmBatch() from windows of the model's block size" : "build the batch with the features the model was trained on",
        fields: { n: batch.n, dim: batch.dim, yDim, inputDim: this.inputDim, positions: wantY },
      });
    }
  }

  /** Batch tensors: x [n, features] or ids [n, T]; y [n] or [n, T]; position weights [n, T] (LM). */
  private tensors(batch: Batch): { x: Tensor; y: Tensor; w?: Tensor } {
    const tf = this.tf;
    const T = this.positions;
    if (T === 1) return { x: tf.tensor2d(Float32Array.from(batch.x), [batch.n, batch.dim]), y: tf.tensor1d(batch.y, "int32") };
    const weights = batch.weights ?? new Float64Array(batch.n * T).fill(1 / T);
    return {
      x: tf.tensor2d(Int32Array.from(batch.x), [batch.n, T], "int32"),
      y: tf.tensor2d(batch.y, [batch.n, T], "int32"),
      w: tf.tensor2d(Float32Array.from(weights), [batch.n, T]),
    };
  }

  /** Per-example values [n] of `target` under the given trainable tensors. */
  private values(trainable: WeightMap, b: { x: Tensor; y: Tensor; w?: Tensor }, target: Target, capture?: LinearCapture): Tensor {
    return this.valuesOfLogits(this.model.forward({ ...this.frozen, ...trainable }, b.x, { ...this.forwardOptions, capture }), b, target);
  }

  /** Per-example values [n] of `target` from the model's logits. */
  private valuesOfLogits(logits: Tensor, b: { y: Tensor; w?: Tensor }, target: Target): Tensor {
    const tf = this.tf;
    const K = logits.shape[logits.shape.length - 1]!;
    let perTarget: Tensor;
    // the loss is the Intelligence layer's cross-entropy, differentiable twice (hvp differentiates its gradient)
    if (target === "loss") perTarget = crossEntropy(tf, logits, b.y);
    else {
      const onehot = tf.oneHot(tf.cast(b.y, "int32"), K);
      // log p_y − log(1 − p_y) = z_y − logsumexp over the other classes
      const zy = tf.sum(tf.mul(logits, onehot), -1);
      const others = tf.logSumExp(tf.sub(logits, tf.mul(onehot, 1e9)), -1);
      perTarget = tf.sub(zy, others);
    }
    return b.w ? tf.sum(tf.mul(perTarget, b.w), -1) : perTarget; // LM: [n, T] -> [n]
  }

  /**
   * One forward and backward pass with the capture on. Returns, kept past the pass (the caller
   * disposes them): for each trainable product its input [n·T, in] and output gradient
   * [n·T, out], and the pass's per-example values [n] and logits.
   */
  private capturedPass(params: Float64Array, batch: Batch, target: Target): CapturedPass {
    this.checkBatch(batch);
    const tf = this.tf;
    const N = batch.n * this.positions;
    let inputs = new Map<string, Tensor>();
    let grads: (Tensor | null)[] = [];
    let values: Tensor | undefined, logits: Tensor | undefined;
    tf.tidy(() => {
      const trainable = this.unpack(params);
      const b = this.tensors(batch);
      const probes = new Map(this.products.map(({ key, block }) => [key, tf.zeros([N, block.cols])]));
      const capture = new GradientCapture(tf, probes);
      inputs = capture.inputs;
      const f = () => {
        const z = this.model.forward({ ...this.frozen, ...trainable }, b.x, { ...this.forwardOptions, capture });
        const v = this.valuesOfLogits(z, b, target);
        logits = tf.keep(tf.clone(z));
        values = tf.keep(tf.clone(v));
        return tf.sum(v) as tfjs.Scalar;
      };
      // the engine's own gradients(), which answers null for a probe the value does not reach (tf.grads throws)
      grads = tf.engine().gradients(f, [...probes.values()], undefined, true).grads;
      for (const g of grads) if (g) tf.keep(g);
    });
    const signals = new Map<string, Tensor>();
    this.products.forEach(({ key }, i) => {
      const g = grads[i];
      if (g) signals.set(key, g);
    });
    const pass = { inputs, signals, values: values!, logits: logits!, dispose: () => disposeAll([...inputs.values(), ...signals.values(), values!, logits!]) };
    const lost = this.products.find(({ key }) => !signals.has(key));
    if (lost) {
      pass.dispose();
      throw new AttributionError({
        code: "attribution/no-signal",
        message: `no gradient reached ${lost.key}`,
        hint: "the tensor does not influence the value: drop it from `trainable`",
        fields: { key: lost.key },
      });
    }
    return pass;
  }

  async gradientRows(params: Float64Array, batch: Batch, target: Target, out = new Float64Array(batch.n * this.numParams)): Promise<Float64Array> {
    const pass = this.capturedPass(params, batch, target);
    try {
      if (this.positions === 1) await this.outerProductRows(pass, batch.n, out);
      else await this.positionSumRows(pass, batch.n, out);
      return out;
    } finally {
      pass.dispose();
    }
  }

  /**
   * A classifier's rows (one position): each example's gradient is a single outer product xᵢ ⊗ δᵢ,
   * written in place on the host, skipping the inputs a ReLU left at zero.
   */
  private async outerProductRows(pass: CapturedPass, n: number, out: Float64Array): Promise<void> {
    const p = this.numParams;
    for (const { key, biasKey, block } of this.products) {
      const { rows, cols, offset } = block;
      const [input, signal] = await Promise.all([readFloats(pass.inputs.get(key)!), readFloats(pass.signals.get(key)!)]); // [n, in], [n, out]
      for (let i = 0; i < n; i++) {
        for (let a = 0; a < rows; a++) {
          const xa = input[i * rows + a];
          if (xa === 0) continue;
          const o = i * p + offset + a * cols;
          for (let c = 0; c < cols; c++) out[o + c] = xa * signal[i * cols + c];
        }
        if (biasKey) for (let c = 0; c < cols; c++) out[i * p + offset + rows * cols + c] = signal[i * cols + c];
      }
    }
  }

  /**
   * A language model's rows: ∂vᵢ/∂W = Σₜ xᵢₜ ⊗ δᵢₜ as one batched product [n, in, T]·[n, T, out]
   * per block on the model's backend, and ∂vᵢ/∂b = Σₜ δᵢₜ; every block is read back at once.
   */
  private async positionSumRows(pass: CapturedPass, n: number, out: Float64Array): Promise<void> {
    const tf = this.tf;
    const T = this.positions;
    const rows = tf.tidy(() =>
      this.products.map(({ key, biasKey, block }) => {
        const x = tf.reshape(pass.inputs.get(key)!, [n, T, block.rows]); // [n·T, in] -> [n, T, in]
        const d = tf.reshape(pass.signals.get(key)!, [n, T, block.cols]); // [n·T, out] -> [n, T, out]
        const g = tf.reshape(tf.matMul(x, d, true, false), [n, block.rows * block.cols]); // Σₜ xₜ ⊗ δₜ: [n, in, out] -> [n, in·out]
        return biasKey ? tf.concat([g, tf.sum(d, 1)], 1) : g; // [n, size]
      }),
    );
    try {
      const data = await Promise.all(rows.map((r) => readFloats(r)));
      this.products.forEach(({ block }, j) => {
        for (let i = 0; i < n; i++) out.set(data[j].subarray(i * block.size, (i + 1) * block.size), i * this.numParams + block.offset);
      });
    } finally {
      disposeAll(rows);
    }
  }

  /**
   * The same rows by one tf.grads call per example (no capture): the reference the batched pass
   * is checked and benchmarked against.
   */
  async gradientRowsByLoop(params: Float64Array, batch: Batch, target: Target): Promise<Float64Array> {
    this.checkBatch(batch);
    const tf = this.tf;
    const out = new Float64Array(batch.n * this.numParams);
    const keys = this.trainableKeys();
    const trainable = this.unpack(params);
    try {
      for (let i = 0; i < batch.n; i++) {
        const grads = tf.tidy(() => {
          const b = this.tensors(subsetRow(batch, i));
          return tf.grads((...ts: tfjs.Tensor[]) => tf.sum(this.values(Object.fromEntries(keys.map((k, j) => [k, ts[j]])), b, target)) as tfjs.Scalar)(keys.map((k) => trainable[k]));
        });
        const values = await Promise.all(grads.map((g) => readFloats(g)));
        for (const g of grads) g.dispose();
        let j = 0;
        for (const { biasKey, block } of this.products) {
          const g = values[j++]; // PEFT [out, in]
          const o = i * this.numParams + block.offset;
          for (let c = 0; c < block.cols; c++) for (let a = 0; a < block.rows; a++) out[o + a * block.cols + c] = g[c * block.rows + a];
          if (biasKey) out.set(values[j++], o + block.rows * block.cols);
        }
      }
    } finally {
      for (const t of Object.values(trainable)) t.dispose();
    }
    return out;
  }

  async trace(params: Float64Array, batch: Batch, target: Target): Promise<TraceResult> {
    const pass = this.capturedPass(params, batch, target);
    try {
      const traces: DenseTrace[] = [];
      for (const { key, block } of this.products) {
        const [input, signal] = await Promise.all([readFloats(pass.inputs.get(key)!), readFloats(pass.signals.get(key)!)]);
        traces.push({ block, input: Float64Array.from(input), signal: Float64Array.from(signal), positions: this.positions });
      }
      const [logits, values] = await Promise.all([readFloats(pass.logits), readFloats(pass.values)]);
      return { logits: Float64Array.from(logits), values: Float64Array.from(values), traces };
    } finally {
      pass.dispose();
    }
  }

  async logits(params: Float64Array, x: Float64Array, n: number): Promise<Float64Array> {
    const tf = this.tf;
    const dim = x.length / n;
    const out = tf.tidy(() => {
      const input = this.positions > 1 ? tf.tensor2d(Int32Array.from(x), [n, dim], "int32") : tf.tensor2d(Float32Array.from(x), [n, dim]);
      return this.model.forward({ ...this.frozen, ...this.unpack(params) }, input, this.forwardOptions);
    });
    const data = Float64Array.from(await readFloats(out));
    out.dispose();
    return data;
  }

  /**
   * H·v for H the Hessian of the batch's mean loss (no regulariser), exact: Pearlmutter's
   * R-operator by double back-propagation, the gradient of ⟨∇L(θ), v⟩ with respect to θ (tf.grads
   * of a function of tf.grads), in one pass over the whole batch on the model's own backend. The
   * forward's softmax, log-softmax, layer norm and GELU recompute what their backward needs when
   * that backward is recorded (ops.ts), so the product is exact to float32 rounding.
   */
  async hvp(params: Float64Array, batch: Batch, v: Float64Array): Promise<Float64Array> {
    this.checkBatch(batch);
    const tf = this.tf;
    const keys = this.trainableKeys();
    const products = tf.tidy(() => {
      const trainable = this.unpack(params);
      const direction = this.unpack(v);
      const b = this.tensors(batch);
      const meanLoss = (...ts: tfjs.Tensor[]) => tf.mean(this.values(Object.fromEntries(keys.map((k, i) => [k, ts[i]])), b, "loss")) as tfjs.Scalar;
      const gradientDotV = (...ts: tfjs.Tensor[]) => {
        const g = tf.grads(meanLoss)(ts);
        return tf.addN(g.map((gi, i) => tf.sum(tf.mul(gi, direction[keys[i]])))) as tfjs.Scalar;
      };
      return tf.grads(gradientDotV)(keys.map((k) => trainable[k]));
    });
    try {
      return this.pack(await readTensorMap(Object.fromEntries(keys.map((k, i) => [k, products[i]]))));
    } finally {
      for (const t of products) t.dispose();
    }
  }

  /** Per-example values of `target` (no gradients): the test outputs LDS and removal compare. */
  async evaluate(params: Float64Array, batch: Batch, target: Target = "loss"): Promise<Float64Array> {
    this.checkBatch(batch);
    const tf = this.tf;
    const v = tf.tidy(() => this.values(this.unpack(params), this.tensors(batch), target));
    const data = Float64Array.from(await readFloats(v));
    v.dispose();
    return data;
  }

  /**
   * TRAK's Qᵢ = 1 − p of the correct class; for a language model the position-weighted mean over tokens.
   * In chunks of OUT_TO_LOSS_ROWS rows: the whole training set's logits at once (n × T × vocab) outgrow
   * the wasm heap (741 windows of 48 BPE tokens over 2048 tokens: 278 MiB per tensor).
   */
  async outToLoss(params: Float64Array, batch: Batch): Promise<Float64Array> {
    this.checkBatch(batch);
    const out = new Float64Array(batch.n);
    for (let start = 0; start < batch.n; start += OUT_TO_LOSS_ROWS) {
      const rows = Array.from({ length: Math.min(OUT_TO_LOSS_ROWS, batch.n - start) }, (_, i) => start + i);
      out.set(await this.outToLossRows(params, rows.length === batch.n ? batch : subset(batch, rows)), start);
    }
    return out;
  }

  private async outToLossRows(params: Float64Array, batch: Batch): Promise<Float64Array> {
    const tf = this.tf;
    const q = tf.tidy(() => {
      const b = this.tensors(batch);
      const logits = this.model.forward({ ...this.frozen, ...this.unpack(params) }, b.x, this.forwardOptions);
      const K = logits.shape[logits.shape.length - 1]!;
      const p = tf.sum(tf.mul(tf.softmax(logits), tf.oneHot(tf.cast(b.y, "int32"), K)), -1);
      const oneMinus = tf.sub(1, p);
      if (!b.w) return oneMinus;
      return tf.div(tf.sum(tf.mul(oneMinus, b.w), -1), tf.sum(b.w, -1));
    });
    const data = Float64Array.from(await readFloats(q));
    q.dispose();
    return data;
  }
}

/** What sizes a language model's batched gradient pass. */
interface GptShape {
  blockSize: number;
  vocabSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
}

/**
 * Activations one batched gradient pass may hold, in elements per pass: 256 windows of the 48-token,
 * 2-layer, 64-wide BPE base (every recorded run's chunk), about 64.5 M. A pass of 256 windows of the
 * 64-token, 4-layer, 128-wide base (3.4× the elements) outgrew the 4 GiB wasm heap.
 */
const GRADIENT_PASS_ELEMENTS = 256 * 48 * (2048 + 2 * (16 * 64 + 3 * 4 * 48));

/**
 * Windows per batched gradient pass of a GPT: the pass elements over a window's, counted per token
 * as its logits (vocabulary) and, per layer, about 16 widths (residual, norms, q/k/v, the 4× MLP
 * and its GELU terms) and 3 attention rows per head; at most DEFAULT_GRADIENT_CHUNK.
 */
export function lmGradientChunk(c: GptShape): number {
  const perWindow = c.blockSize * (c.vocabSize + c.nLayer * (16 * c.nEmbd + 3 * c.nHead * c.blockSize));
  return Math.max(1, Math.min(DEFAULT_GRADIENT_CHUNK, Math.floor(GRADIENT_PASS_ELEMENTS / perWindow)));
}

/** Rows per forward pass of outToLoss. */
const OUT_TO_LOSS_ROWS = 64;

function subsetRow(batch: Batch, i: number): Batch {
  const yd = batch.yDim ?? 1;
  const one: Batch = { x: batch.x.subarray(i * batch.dim, (i + 1) * batch.dim), y: batch.y.subarray(i * yd, (i + 1) * yd), n: 1, dim: batch.dim };
  if (batch.yDim !== undefined) one.yDim = batch.yDim;
  if (batch.weights) one.weights = batch.weights.subarray(i * yd, (i + 1) * yd);
  return one;
}

/**
 * A language-model batch from token windows: x and y are n × T ids; `weights` (optional) the
 * position weights of each example's value (see Batch).
 */
export function lmBatch(x: ArrayLike<number>, y: ArrayLike<number>, n: number, T: number, weights?: Float64Array): Batch {
  const batch: Batch = { x: Float64Array.from(x as ArrayLike<number>).subarray(0, n * T), y: Int32Array.from(y as ArrayLike<number>).subarray(0, n * T), n, dim: T, yDim: T };
  if (weights) batch.weights = weights;
  return batch;
}

/**
 * Prompt + continuation as one example for a language model of block size T: the last T + 1 ids
 * of prompt‖continuation give x (first T) and y (next T); weight 1 on every target that is a
 * continuation token, 0 on the prompt's. The example's "loss" is then −log p(continuation | prompt).
 */
export function continuationExample(prompt: ArrayLike<number>, continuation: ArrayLike<number>, T: number): { x: Int32Array; y: Int32Array; weights: Float64Array } {
  const ids = Int32Array.from([...Array.from(prompt), ...Array.from(continuation)]);
  if (continuation.length < 1 || prompt.length < 1) {
    throw new AttributionError({
      code: "attribution/empty-continuation",
      message: `a prompt of ${prompt.length} and a continuation of ${continuation.length} tokens`,
      hint: "give at least one prompt token and one continuation token",
      fields: { prompt: prompt.length, continuation: continuation.length },
    });
  }
  if (continuation.length > T) {
    throw new AttributionError({
      code: "attribution/continuation-too-long",
      message: `a continuation of ${continuation.length} tokens does not fit the block size ${T}`,
      hint: `score continuations of at most ${T} tokens (cut a longer one into pieces, each with its own prompt)`,
      fields: { continuation: continuation.length, blockSize: T },
    });
  }
  const window = ids.slice(Math.max(0, ids.length - (T + 1)));
  const pad = T + 1 - window.length; // a short prompt: left-pad with weight-0 positions (id 0)
  const full = new Int32Array(T + 1);
  full.set(window, pad);
  const x = full.slice(0, T),
    y = full.slice(1, T + 1);
  const weights = new Float64Array(T);
  for (let t = T - continuation.length; t < T; t++) weights[t] = 1;
  return { x, y, weights };
}

/** The attribution view of a Factory run: model and packed final trainable tensors. */
export async function fromFactoryRun(run: { model: Model; baseWeights: WeightMap; weights: WeightMap; forwardOptions: ForwardOptions; spec?: { method?: string } }): Promise<{
  model: FactoryModel;
  params: Float64Array;
}> {
  const lora = Object.keys(run.weights).filter((k) => roleOf(k) === "lora_A" || roleOf(k) === "lora_B");
  let trainable: string[];
  if (lora.length > 0) trainable = lora;
  else {
    // full fine-tuning (or head-only): the linear weights and biases that moved from the base
    const linear = run.model.linearModules.flatMap((m) => [weightKey(m.name), ...(m.bias ? [biasKey(m.name)] : [])]);
    trainable = linear.filter((k) => run.weights[k] !== run.baseWeights[k]);
  }
  const model = new FactoryModel({ model: run.model, weights: { ...run.baseWeights, ...run.weights }, trainable, forwardOptions: run.forwardOptions });
  return { model, params: await model.readParams({ ...run.baseWeights, ...run.weights }) };
}
