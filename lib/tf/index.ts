import { join } from "node:path";
import { isMainThread } from "node:worker_threads";
import { writeJsonAtomic } from "../files.js";
import { runContext } from "../run-context.js";
import { workerCount } from "../worker-pool.js";
import { selectBackend, type TfRuntime } from "./backend.js";

export { BACKEND_ORDER, type BackendCandidate, type BackendChoice, BackendError, GPU_BACKENDS, onHardwareGpu, parseBackendChoice, selectBackend, type TfRuntime } from "./backend.js";
export { WebGpuError } from "./errors.js";
export { type HostTensor, readFloats, readScalar, readTensorMap } from "./read-back.js";
export { batchedProductReady, batchedProductThreads, registerWasmKernels } from "./wasm-kernels.js";
export { parseThreadCount, WASM_MAX_THREADS } from "./wasm-threads.js";
export { activateWebGpu, assertWebGpuHealthy, findLibrary, findVulkanIcds, formatAdapter, isSoftwareAdapter, type WebGpuAdapterReport, webGpuFault } from "./webgpu.js";

let runtime: Promise<TfRuntime> | undefined;

/**
 * The TensorFlow.js runtime every part of the lab uses: chosen once per process, printed, and
 * written to the run folder (runtime.json) so the manifest names the backend that produced it.
 */
export function initTf(options: { quiet?: boolean } = {}): Promise<TfRuntime> {
  runtime ??= selectBackend({ log: options.quiet ? undefined : (line) => console.log(line) }).then((rt) => {
    // a pool worker's runtime is its parent's: only the main thread writes the run's record
    if (process.env.LAB_RUN_DIR && isMainThread) {
      writeJsonAtomic(join(runContext().runDir, "runtime.json"), {
        tfBackend: rt.backend,
        tfBackendName: rt.tfBackendName,
        tfjsVersion: rt.tfjsVersion,
        skipped: rt.skipped,
        workers: workerCount(),
        ...(rt.adapter ? { adapter: rt.adapter } : {}),
        ...(rt.threads ? { threads: rt.threads } : {}),
      });
    }
    return rt;
  });
  return runtime;
}
