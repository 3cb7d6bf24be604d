import type { LinearModule, Tensor, Tf, WeightMap } from "../models/types.js";
import type { SlotBank } from "./slots.js";

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
    out[m.name] = { wT: tf.keep(tf.transpose(weights[`${m.name}.weight`])), bias: weights[`${m.name}.bias`] };
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
 * whole batch, then each row's own low-rank product added. The bank lays every slot's Aᵀ side
 * by side, Aᵀ_bank [in, S·R], and (s·B)ᵀ_bank [S·R, out] below each other; a row's product with
 * its own adapter is the product with the bank where every other slot's R columns are zeroed:
 *   y  = x·W0ᵀ + b                              one matmul for every adapter in the batch
 *   u  = (x·Aᵀ_bank) ⊙ mask      [M, S·R]        mask[m, s·R + j] = 1 iff row m uses slot s
 *   y += u·(s·B)ᵀ_bank           [M, out]
 * The zeros add nothing, so each row gets exactly x·Aᵀ·(s·B)ᵀ of its adapter (sums in another
 * order). This is the gathered form of SGMV with the gather done by the mask: on wasm a gather
 * of per-row adapter matrices costs more than these two products (bench/openlora.bench.ts),
 * while the extra multiply-adds grow with the slots in use, which the bank keeps bounded.
 * Ranks below the bank's R are zero-padded, so mixed ranks share the product exactly.
 */
export function sgmvLinear(tf: Tf, layers: ServingLayers, bank: SlotBank, name: string, x: Tensor, mask: Tensor): Tensor {
  const y = dense(tf, layers[name], x);
  const stack = bank.stack(name);
  if (!stack) return y;
  const [n, T, inF] = x.shape as number[];
  const u = tf.mul(tf.matMul(tf.reshape(x, [n * T, inF]), stack.aT), mask);
  return tf.add(y, tf.reshape(tf.matMul(u, stack.sbT), y.shape));
}

/** mask [rows, S·R] for rows that use the given slots. */
export function slotMask(tf: Tf, slotsPerRow: number[], slots: number, rank: number): Tensor {
  const width = slots * rank;
  const m = new Float32Array(slotsPerRow.length * width);
  slotsPerRow.forEach((s, row) => m.fill(1, row * width + s * rank, row * width + (s + 1) * rank));
  return tf.tensor2d(m, [slotsPerRow.length, width]);
}
