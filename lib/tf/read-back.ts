import type * as TF from "@tensorflow/tfjs";

/** A tensor's values copied to the CPU, with its shape (the form checkpoints and attribution store). */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * The one way a tensor leaves the device in lib/: asynchronously, because WebGPU in Node has no
 * synchronous read-back (and on the CPU backends `data()` answers at once, so nothing is lost).
 * The answer is a copy the caller owns: later kernels cannot change it.
 */
export async function readFloats(tensor: TF.Tensor): Promise<Float32Array> {
  const values = await tensor.data();
  // slice copies a Float32Array in one move; Float32Array.from walks any other array element by element
  return values instanceof Float32Array ? values.slice() : Float32Array.from(values as ArrayLike<number>);
}

/** The single value of a scalar (or the first value of any tensor), read asynchronously. */
export async function readScalar(tensor: TF.Tensor): Promise<number> {
  return (await tensor.data())[0] as number;
}

/** Every tensor of a named map read back together, in key order, as host copies with their shapes. */
export async function readTensorMap(tensors: Record<string, TF.Tensor>): Promise<Record<string, HostTensor>> {
  const entries = Object.entries(tensors);
  const values = await Promise.all(entries.map(([, t]) => readFloats(t)));
  return Object.fromEntries(entries.map(([k, t], i) => [k, { shape: t.shape.slice(), data: values[i] }]));
}
