import { linear } from "../models/ops.js";
import type { Tensor, Tf, WeightMap } from "../models/types.js";
import type { SlotBank } from "./slots.js";

/**
 * Batched multi-adapter linear layer, in the pattern of Punica's SGMV: one base matmul for the
 * whole batch, then each row's own low-rank product added. Rows name their adapter by slot;
 * A and s·B are gathered from the bank's stacks per row (the "gathered" form of SGMV, which
 * the segmented kernel computes without materialising the gather):
 *   x [N, T, in] · W0ᵀ + b                      one matmul for every adapter in the batch
 *   A_g = A_stack[slot]        [N, R, in]
 *   B_g = (s·B)_stack[slot]    [N, out, R]
 *   y += (x · A_gᵀ) · B_gᵀ     [N, T, R] → [N, T, out]
 * Ranks below the bank's R are zero-padded, so mixed ranks share the product exactly.
 */
export function sgmvLinear(tf: Tf, base: WeightMap, bank: SlotBank, name: string, x: Tensor, slots: Tensor): Tensor {
  const y = linear(tf, base, name, x);
  const stack = bank.stack(name);
  if (!stack) return y;
  const a = tf.gather(stack.a, slots);
  const xa = tf.matMul(x, a, false, true);
  const b = tf.gather(stack.b, slots);
  return tf.add(y, tf.matMul(xa, b, false, true));
}
