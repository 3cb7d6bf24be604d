import type * as TF from "@tensorflow/tfjs";

/** What the cache needs of the wasm backend: its data's disposal, which it hooks. */
export interface DisposingBackend {
  disposeData(dataId: object, force?: boolean): boolean;
}

/** A right operand's transposed form for one product, and whether the caller disposes it after. */
export interface TransposedOperand {
  transposed: TF.TensorInfo;
  temporary: boolean;
}

const shapeKey = (shape: number[]) => shape.join(",");

/**
 * Transposed copies of the right operands that products take as Bᵀ again and again: a linear
 * layer's frozen weight W in x·Wᵀ, at every training step of a LoRA run, every sampled token and
 * every attribution pass (OpenLoRA's serving path keeps transposed weights of its own, on every
 * backend). XNNPACK multiplies only untransposed operands, so fastMatMul transposes W first, and
 * XNNPACK then packs that new operand as well, since it keeps packed weights per tensor; on a
 * kept copy XNNPACK's packing is kept too, and the bits are the same (the same operand).
 * `./lab bench intelligence` times one decode position's x·Wᵀ both ways.
 *
 * A tensor's data never changes (a variable's assign swaps its data id), so a copy stays right
 * for as long as its source's data lives. The first time an operand is taken transposed its copy
 * is temporary, as before (most operands are used once: activations, gradients, a full
 * fine-tuning's weights of one step); from the second time, at the same shape, the copy is kept,
 * and it is freed when the backend frees its source (the backend's disposeData, hooked here).
 * So the heap holds at most one copy of each operand used transposed more than once, for as long
 * as that operand lives: the engine's tf.memory() does not count them.
 */
export class TransposedOperands {
  /** The shape each data id was first taken at, transposed. */
  private readonly seen = new WeakMap<object, string>();
  private readonly copies = new Map<object, { shape: string; copy: TF.TensorInfo }>();
  private readonly dispose: (dataId: object, force?: boolean) => boolean;

  constructor(
    backend: DisposingBackend,
    private readonly transpose: (t: TF.TensorInfo) => TF.TensorInfo,
  ) {
    this.dispose = backend.disposeData.bind(backend);
    backend.disposeData = (dataId: object, force?: boolean) => {
      const freed = this.dispose(dataId, force);
      const kept = freed ? this.copies.get(dataId) : undefined;
      if (kept) {
        this.copies.delete(dataId);
        this.dispose(kept.copy.dataId, true);
      }
      return freed;
    };
  }

  /** `b` with its last two axes swapped: a kept copy from its second use at the same shape. */
  of(b: TF.TensorInfo): TransposedOperand {
    const shape = shapeKey(b.shape);
    const kept = this.copies.get(b.dataId);
    if (kept?.shape === shape) return { transposed: kept.copy, temporary: false };
    const transposed = this.transpose(b);
    if (kept || this.seen.get(b.dataId) !== shape) {
      // a first use (or another shape of a kept operand's data, through a reshape): used once
      if (!kept) this.seen.set(b.dataId, shape);
      return { transposed, temporary: true };
    }
    this.copies.set(b.dataId, { shape, copy: transposed });
    return { transposed, temporary: false };
  }
}
