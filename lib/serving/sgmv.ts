import { biasKey, weightKey } from "../intelligence/models/peft-keys.js";
import type { LinearModule, Tensor, Tf, WeightMap } from "../intelligence/models/types.js";
import type { GatheredModule } from "./slots.js";

/**
 * The serving layout of linear layers and the batched multi-adapter product.
 *
 * Serving keeps each weight transposed once, Wᵀ [in, out], so that a layer is x·Wᵀ with no
 * transpose per call: the PyTorch layout W [out, in] costs an explicit transpose of W at every
 * product on wasm, which for one decoded row takes a hundred times longer than the product.
 */
export interface DenseLayer {
  /** Wᵀ [in, out] */
  wT: Tensor;
  bias?: Tensor;
}

export type ServingLayers = Record<string, DenseLayer>;

/** Wᵀ (and bias) of every linear layer, kept: built once when a base (or merged copy) is served. */
export function servingLayers(tf: Tf, weights: WeightMap, modules: LinearModule[]): ServingLayers {
  const out: ServingLayers = {};
  for (const m of modules) {
    out[m.name] = { wT: tf.keep(tf.transpose(weights[weightKey(m.name)])), bias: weights[biasKey(m.name)] };
  }
  return out;
}

/** x [N, T, in] → x·Wᵀ + b [N, T, out] */
export function dense(tf: Tf, layer: DenseLayer, x: Tensor): Tensor {
  const [n, T, inF] = x.shape as number[];
  let y = tf.matMul(tf.reshape(x, [n * T, inF]), layer.wT);
  if (layer.bias) y = tf.add(y, layer.bias);
  return tf.reshape(y, [n, T, y.shape[1]!]);
}

/**
 * Batched multi-adapter linear layer, in the pattern of Punica's SGMV: one base matmul for the
 * whole batch, then each row's own low-rank product added, in the gathered form (each row's
 * adapter blocks laid out per row by SlotBank.gathered, kept while the batch's rows are the same):
 *   y  = x·W0ᵀ + b                        [N, T, out]   one matmul for every adapter in the batch
 *   y += (x · Aᵀ_g) · (s·B)ᵀ_g            [N, T, R] → [N, T, out]   batched over rows
 * Ranks below the bank's R are zero-padded, so mixed ranks share the product exactly.
 */
export function sgmvLinear(tf: Tf, layers: ServingLayers, name: string, x: Tensor, gathered: GatheredModule | undefined): Tensor {
  const y = dense(tf, layers[name], x);
  if (!gathered) return y;
  return tf.add(y, tf.matMul(tf.matMul(x, gathered.aT), gathered.sbT));
}
