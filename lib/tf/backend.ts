import { createRequire } from "node:module";
import * as tf from "@tensorflow/tfjs";
import { BackendError } from "./errors.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { activateWasm, parseThreadCount } from "./wasm-threads.js";
import { activateWebGpu, formatAdapter, type WebGpuAdapterReport } from "./webgpu.js";

const require = createRequire(import.meta.url);

export type BackendChoice = "tfjs-node-gpu" | "webgpu" | "tfjs-node" | "wasm" | "cpu";

/** The order tried when LAB_TF_BACKEND is unset: fastest first. */
export const BACKEND_ORDER: readonly BackendChoice[] = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"];

/** Backends that can run on a GPU. */
export const GPU_BACKENDS: readonly BackendChoice[] = ["tfjs-node-gpu", "webgpu"];

/** True when training runs on a hardware GPU (webgpu on a software adapter is a CPU). */
export function onHardwareGpu(rt: Pick<TfRuntime, "backend" | "adapter">): boolean {
  return rt.backend === "tfjs-node-gpu" || (rt.backend === "webgpu" && rt.adapter?.software === false);
}

export interface BackendCandidate {
  choice: BackendChoice;
  /**
   * Makes the backend available and active; returns why not, or undefined on success.
   * `forced` is true when LAB_TF_BACKEND named this backend (webgpu then accepts a software adapter).
   */
  activate(forced: boolean): Promise<string | undefined>;
  /** What the backend reports about its device once active (webgpu: the adapter). */
  device?(): WebGpuAdapterReport | undefined;
  /** The threads the backend computes on once active (wasm: XNNPACK's pool). */
  threads?(): number | undefined;
}

export interface TfRuntime {
  tf: typeof tf;
  backend: BackendChoice;
  /** tf.getBackend() after selection ("tensorflow", "wasm" or "cpu"). */
  tfBackendName: string;
  /** Why each faster backend was passed over. */
  skipped: Array<{ choice: BackendChoice; reason: string; code?: string }>;
  tfjsVersion: string;
  /** webgpu: the adapter's vendor, architecture, device, features and limits. */
  adapter?: WebGpuAdapterReport;
  /** wasm: the threads XNNPACK multiplies on (LAB_THREADS, default all cores). */
  threads?: number;
}

export { BackendError };

const ALIASES: Record<string, BackendChoice> = {
  "tfjs-node-gpu": "tfjs-node-gpu",
  gpu: "tfjs-node-gpu",
  "tensorflow-gpu": "tfjs-node-gpu",
  "tfjs-node": "tfjs-node",
  node: "tfjs-node",
  tensorflow: "tfjs-node",
  webgpu: "webgpu",
  dawn: "webgpu",
  wasm: "wasm",
  cpu: "cpu",
};

function nativeCandidate(choice: "tfjs-node-gpu" | "tfjs-node"): BackendCandidate {
  return {
    choice,
    async activate() {
      try {
        require(`@tensorflow/${choice}`);
      } catch (error) {
        return `@tensorflow/${choice} did not load (${(error as Error).message.split("\n")[0]})`;
      }
      // A package that loads but registers no "tensorflow" backend is not the native binding
      // (this project aliases tfjs-node to plain tfjs for danfojs, for one).
      if (!tf.findBackendFactory("tensorflow")) return `@tensorflow/${choice} loaded but registered no native "tensorflow" backend`;
      return (await tf.setBackend("tensorflow")) ? undefined : `the "tensorflow" backend of @tensorflow/${choice} failed to initialise`;
    },
  };
}

/**
 * WebGPU through Dawn (lib/tf/webgpu.ts): taken automatically only on a hardware adapter; a
 * software one (llvmpipe on a machine with no GPU) only when LAB_TF_BACKEND=webgpu asks for it.
 */
function webGpuCandidate(): BackendCandidate {
  let adapter: WebGpuAdapterReport | undefined;
  return {
    choice: "webgpu",
    async activate(forced) {
      try {
        adapter = (await activateWebGpu(tf, { allowSoftware: forced })).report;
      } catch (error) {
        const e = error as BackendError;
        return e.code ? `${e.message} [${e.code}]` : String(error);
      }
      return undefined;
    },
    device: () => adapter,
  };
}

/**
 * tfjs-backend-wasm on `threads` threads: the threaded SIMD build (XNNPACK's thread pool,
 * lib/tf/wasm-threads.ts) above one thread, the single-threaded SIMD build at one.
 */
function wasmCandidate(threads: number): BackendCandidate {
  let active: number | undefined;
  return {
    choice: "wasm",
    async activate() {
      try {
        active = await activateWasm(tf, threads);
      } catch (error) {
        return `@tensorflow/tfjs-backend-wasm did not load on ${threads} thread${threads === 1 ? "" : "s"} (${(error as Error).message})`;
      }
      registerWasmKernels(tf, active);
      return undefined;
    },
    threads: () => active,
  };
}

/** The real backends, fastest first; the wasm backend on `threads` threads (default: LAB_THREADS). */
export function defaultCandidates(threads = parseThreadCount(process.env.LAB_THREADS)): BackendCandidate[] {
  return [
    nativeCandidate("tfjs-node-gpu"),
    webGpuCandidate(),
    nativeCandidate("tfjs-node"),
    wasmCandidate(threads),
    {
      choice: "cpu",
      async activate() {
        return (await tf.setBackend("cpu")) ? undefined : "the cpu backend failed to initialise";
      },
    },
  ];
}

export function parseBackendChoice(value: string): BackendChoice {
  const choice = ALIASES[value.trim().toLowerCase()];
  if (!choice) {
    throw new BackendError({
      code: "backend/unknown",
      message: `LAB_TF_BACKEND="${value}" names no backend`,
      hint: `set LAB_TF_BACKEND to one of ${BACKEND_ORDER.join(", ")} (or unset it to pick the fastest that loads)`,
      fields: { value },
    });
  }
  return choice;
}

/**
 * Picks the TensorFlow.js backend: the one LAB_TF_BACKEND names (an error if it cannot load),
 * else the first of tfjs-node-gpu, webgpu (hardware adapters only), tfjs-node, wasm, cpu that loads.
 */
export async function selectBackend(options: { override?: string; candidates?: BackendCandidate[]; log?: (line: string) => void } = {}): Promise<TfRuntime> {
  // PROD silences tfjs's console advert for tfjs-node; the backend choice is printed here instead.
  tf.env().set("PROD", true);
  const candidates = options.candidates ?? defaultCandidates();
  const override = options.override ?? process.env.LAB_TF_BACKEND;
  const skipped: TfRuntime["skipped"] = [];
  const wanted = override ? [parseBackendChoice(override)] : BACKEND_ORDER;
  for (const choice of wanted) {
    const candidate = candidates.find((c) => c.choice === choice);
    if (!candidate) continue;
    const reason = await candidate.activate(Boolean(override));
    if (reason === undefined) {
      await tf.ready();
      const adapter = candidate.device?.();
      const threads = candidate.threads?.();
      const runtime: TfRuntime = { tf, backend: choice, tfBackendName: tf.getBackend(), skipped, tfjsVersion: tf.version.tfjs, ...(adapter ? { adapter } : {}), ...(threads ? { threads } : {}) };
      const onThreads = threads ? `, ${threads} thread${threads === 1 ? "" : "s"}` : "";
      options.log?.(`TensorFlow.js ${runtime.tfjsVersion} on backend ${choice}${onThreads}${skipped.length ? ` (passed over: ${skipped.map((s) => s.choice).join(", ")})` : ""}`);
      if (adapter) options.log?.(formatAdapter(adapter));
      return runtime;
    }
    const code = /\[(webgpu\/[a-z-]+)\]$/.exec(reason)?.[1];
    if (override) {
      throw new BackendError({
        code: code ?? "backend/unavailable",
        message: `LAB_TF_BACKEND=${override} was asked for, but ${reason}`,
        hint:
          choice === "tfjs-node-gpu"
            ? "install @tensorflow/tfjs-node-gpu with its native library and CUDA 11.2 / cuDNN 8.1 (README, section GPU), or unset LAB_TF_BACKEND"
            : choice === "webgpu"
              ? "install the Vulkan loader and the GPU driver's Vulkan ICD (apt-get install libvulkan1; README, section GPU), or Mesa's EGL/GL ES for the software route; or unset LAB_TF_BACKEND"
              : "unset LAB_TF_BACKEND to fall back automatically, or install the backend's package",
        fields: { backend: choice, override, reason },
      });
    }
    skipped.push({ choice, reason, ...(code ? { code } : {}) });
  }
  throw new BackendError({
    code: "backend/none",
    message: "no TensorFlow.js backend could be initialised",
    hint: "run ./lab test to reinstall dependencies (npm ci); the wasm and cpu backends ship with the lab",
    fields: { skipped: skipped.map((s) => s.choice) },
  });
}
