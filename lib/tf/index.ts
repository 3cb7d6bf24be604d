import { join } from "node:path";
import { writeJsonAtomic } from "../files.js";
import { runContext } from "../run-context.js";
import { selectBackend, type TfRuntime } from "./backend.js";

export { BACKEND_ORDER, type BackendCandidate, type BackendChoice, BackendError, GPU_BACKENDS, onHardwareGpu, parseBackendChoice, selectBackend, type TfRuntime } from "./backend.js";
export { WebGpuError } from "./errors.js";
export { type HostTensor, readFloats, readScalar, readTensorMap } from "./read-back.js";
export { registerWasmKernels } from "./wasm-kernels.js";
export { parseThreadCount, WASM_MAX_THREADS } from "./wasm-threads.js";
export { activateWebGpu, assertWebGpuHealthy, findLibrary, findVulkanIcds, formatAdapter, isSoftwareAdapter, readBackToCpu, type WebGpuAdapterReport, webGpuFault } from "./webgpu.js";

let runtime: Promise<TfRuntime> | undefined;

/**
 * The TensorFlow.js runtime every part of the lab uses: chosen once per process, printed, and
 * written to the run folder (runtime.json) so the manifest names the backend that produced it.
 */
export function initTf(options: { quiet?: boolean } = {}): Promise<TfRuntime> {
  // notebook cells read tensors synchronously (dataSync, arraySync): in the lab's kernel, webgpu only when forced
  const syncReads = process.env.LAB_KERNEL === "tslab";
  runtime ??= selectBackend({ syncReads, log: options.quiet ? undefined : (line) => console.log(line) }).then((rt) => {
    if (process.env.LAB_RUN_DIR) {
      writeJsonAtomic(join(runContext().runDir, "runtime.json"), {
        tfBackend: rt.backend,
        tfBackendName: rt.tfBackendName,
        tfjsVersion: rt.tfjsVersion,
        skipped: rt.skipped,
        ...(rt.adapter ? { adapter: rt.adapter } : {}),
        ...(rt.threads ? { threads: rt.threads } : {}),
      });
    }
    return rt;
  });
  return runtime;
}
