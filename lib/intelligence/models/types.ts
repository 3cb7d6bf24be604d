import type * as tfjs from "@tensorflow/tfjs";

export type Tf = typeof tfjs;
export type Tensor = tfjs.Tensor;
/** Named weights with PyTorch/PEFT names ("fc1.weight", "fc1.lora_A.weight", ...). */
export type WeightMap = Record<string, tfjs.Tensor>;
/** The same, as plain arrays: what checkpoints and PEFT files hold. */
export type ArrayMap = Record<string, { shape: number[]; data: Float32Array }>;

/** A linear layer as PEFT sees it: weight [out, in], optional bias [out]. */
export interface LinearModule {
  name: string;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}

export interface LoraForward {
  /** alpha / r, or alpha / sqrt(r) with rsLoRA. */
  scaling: number;
  /** DoRA: rescale each output row of W0 + s·B·A to the learned magnitude. */
  dora?: boolean;
}

export interface ForwardOptions {
  /** Apply LoRA wherever the weight map holds MODULE.lora_A.weight and MODULE.lora_B.weight. */
  lora?: LoraForward;
  /** Training mode turns dropout on (LoRA dropout and model dropout). */
  training?: boolean;
  /** LoRA dropout probability on the input of the A·x path (PEFT's lora_dropout). */
  loraDropout?: number;
  /** Seed for dropout masks, so a training step is reproducible. */
  dropoutSeed?: number;
  /**
   * This forward sees rows [offset, offset + rows) of a batch of `total` rows (a micro-batch of an
   * accumulated step): dropout masks are drawn for the whole batch and sliced, so the accumulated
   * step drops exactly what the whole batch would.
   */
  dropoutRows?: { offset: number; rows: number; total: number };
  /** Sees every dense product of a linear layer (per-example gradients are built from what it records). */
  capture?: LinearCapture;
}

/**
 * A hook on the dense products inside `linear`: for the weight under `key` (MODULE.weight,
 * MODULE.lora_A.weight or MODULE.lora_B.weight) it receives the product's input [N, in] and output
 * [N, out] (N = all rows, examples × positions) and returns the output to use: per-example
 * gradients add a zero probe whose gradient is the signal back-propagated to that output.
 */
export interface LinearCapture {
  tap(key: string, input: Tensor, output: Tensor): Tensor;
}

export type ModelTask = "image-classification" | "causal-lm";

/**
 * A model is a set of pure functions of an explicit weight map. Nothing is stored in the model
 * object but its shape; the same function gives per-example gradients when called under
 * tf.grads with some of the tensors as arguments.
 */
export interface Model<C = unknown> {
  readonly tf: Tf;
  readonly kind: string;
  readonly task: ModelTask;
  readonly config: C;
  /** Every linear layer, by PEFT module name; LoRA targets are chosen among these. */
  readonly linearModules: LinearModule[];
  /** Fresh weights from a seed (PyTorch-style Kaiming-uniform for linear layers). */
  init(seed: number): WeightMap;
  /** Classifier: x [n, features] -> logits [n, classes]. LM: x int32 [n, T] -> logits [n, T, vocab]. */
  forward(weights: WeightMap, x: Tensor, opts?: ForwardOptions): Tensor;
  /** Mean cross-entropy per example: classifier y [n] -> [n]; LM y [n, T] -> [n] (mean over T). */
  perExampleLoss(weights: WeightMap, x: Tensor, y: Tensor, opts?: ForwardOptions): Tensor;
  /** Mean of perExampleLoss. */
  loss(weights: WeightMap, x: Tensor, y: Tensor, opts?: ForwardOptions): tfjs.Scalar;
  /** Forward FLOPs per example (multiply-adds × 2), for throughput figures. */
  flopsPerExample(): number;
}
