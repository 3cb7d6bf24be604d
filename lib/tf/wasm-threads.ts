/**
 * tfjs-backend-wasm's threaded SIMD build (XNNPACK with a pthreadpool) under Node.
 *
 * The build is written for browsers. Its Emscripten pthread glue, in Node, stops at four places,
 * each bridged here for the length of the backend's initialisation and nowhere else:
 *  1. the pthread workers start from a `blob:` URL holding the glue's worker script, and Node's
 *     `worker_threads.Worker` takes only file paths: the glue's `new Worker(url)` meets a Worker
 *     that reads the Blob and runs its text (a worker with `eval: true`);
 *  2. each worker then loads the main script from a Blob through `importScripts`, which in the
 *     glue's Node prelude reads a file: the worker reads that Blob's text before the glue sees the
 *     message and hands `importScripts` the text;
 *  3. the main script is the bundle's factory function as text, which names the bundle's module
 *     aliases (`require$$0` fs, `require$$1` path, `require$$3` perf_hooks, `require$$4` os,
 *     `commonjsGlobal`) and the compiler's helpers `__values`, `__read`, `__spreadArray`: the
 *     worker defines them before it runs the script;
 *  4. the backend caps XNNPACK's pool at `emscripten_num_logical_cores() / 2` (it assumes two
 *     hyperthreads per core), so on two cores it runs one thread: the instantiation is handed a
 *     core count of twice the threads asked for, and XNNPACK gets exactly that many.
 * The build pre-creates 8 pthread workers and caps the pool at 8 threads (backend.cc), so more
 * than 8 threads is refused. Layer 3 needs the package's file as npm ships it: inside a minified
 * bundle (the GPU check's script) the aliases have other names, the main script is refused before
 * a worker runs it, and the backend starts on one thread.
 */
import { resolveObjectURL } from "node:buffer";
import { availableParallelism } from "node:os";
import { Worker as NodeWorker } from "node:worker_threads";
import type * as tf from "@tensorflow/tfjs";
import { BackendError } from "./errors.js";

/** The most threads the shipped build runs: it pre-creates 8 workers and caps XNNPACK there. */
export const WASM_MAX_THREADS = 8;

/**
 * The thread count LAB_THREADS asks for: a positive integer no larger than the cores this process
 * may use (os.availableParallelism()) and the build's 8; unset, all of those cores.
 */
export function parseThreadCount(value: string | undefined, cores = availableParallelism()): number {
  const limit = Math.min(cores, WASM_MAX_THREADS);
  if (value === undefined || value.trim() === "") return limit;
  const text = value.trim();
  if (!/^[0-9]+$/.test(text) || Number(text) < 1) {
    throw new BackendError({
      code: "backend/threads",
      message: `LAB_THREADS="${value}" is not a positive whole number of threads`,
      hint: `set LAB_THREADS to a whole number from 1 to ${limit}, or unset it to use all ${limit}`,
      fields: { value, cores, limit },
    });
  }
  const threads = Number(text);
  if (threads > cores) {
    throw new BackendError({
      code: "backend/threads",
      message: `LAB_THREADS=${threads} asks for more threads than the ${cores} core${cores === 1 ? "" : "s"} this process may use`,
      hint: `set LAB_THREADS to at most ${limit} (os.availableParallelism() here), or unset it to use all of them`,
      fields: { value, threads, cores, limit },
    });
  }
  if (threads > WASM_MAX_THREADS) {
    throw new BackendError({
      code: "backend/threads",
      message: `LAB_THREADS=${threads} is more than the ${WASM_MAX_THREADS} threads the wasm backend's threaded build runs`,
      hint: `set LAB_THREADS to at most ${WASM_MAX_THREADS}, or unset it`,
      fields: { value, threads, cores, limit },
    });
  }
  return threads;
}

/**
 * What each pthread worker runs first: it reads the glue's worker script from the Blob it was
 * given, runs it, then stands between the glue and its messages (layers 2 and 3 above).
 */
const WORKER_BOOTSTRAP = `
"use strict";
const { workerData } = require("node:worker_threads");
Object.assign(globalThis, {
  require$$0: require("node:fs"),
  require$$1: require("node:path"),
  require$$3: require("node:perf_hooks"),
  require$$4: require("node:os"),
  commonjsGlobal: globalThis,
  __values: (o) => o[Symbol.iterator](),
  __read: (o, n) => (n === undefined ? [...o] : [...o].slice(0, n)),
  __spreadArray: (to, from) => to.concat(Array.from(from)),
});
workerData.script.text().then((glue) => {
  (0, eval)(glue);
  const handle = globalThis.onmessage;
  const readFile = globalThis.importScripts;
  const scripts = new Map();
  globalThis.importScripts = (name) => (scripts.has(name) ? (0, eval)(scripts.get(name)) : readFile(name));
  let pending = Promise.resolve();
  globalThis.onmessage = (event) => {
    pending = pending.then(async () => {
      const blob = event.data && event.data.urlOrBlob;
      if (event.data.cmd === "load" && blob && typeof blob.text === "function") {
        const name = "main-script:" + scripts.size;
        scripts.set(name, await blob.text());
        event.data.urlOrBlob = name;
      }
      handle(event);
    });
  };
});
`;

/** The Worker the glue constructs (layer 1): a blob: URL becomes a worker running its text. */
class BlobUrlWorker extends NodeWorker {
  static started: NodeWorker[] = [];
  constructor(url: string | URL, options?: object) {
    const href = String(url);
    const blob = href.startsWith("blob:") ? resolveObjectURL(href) : undefined;
    if (blob) super(WORKER_BOOTSTRAP, { ...options, eval: true, workerData: { script: blob } });
    else super(url, options);
    BlobUrlWorker.started.push(this);
  }
}

/** The names layer 3 defines in each worker; the main script must be the one that uses them. */
const WORKER_NAMES = ["require$$0", "require$$1", "require$$3", "require$$4", "commonjsGlobal"];
const MAIN_SCRIPT_START = "var WasmBackendModuleThreadedSimd = ";

/**
 * Activates tfjs-backend-wasm with `requested` XNNPACK threads: the threaded SIMD build when more
 * than one, the single-threaded SIMD build otherwise, or when the threaded build does not start
 * (inside a minified bundle its main script uses other names than the workers define). Returns
 * the threads XNNPACK reports, which runtime.json and the banner show.
 */
export async function activateWasm(tfjs: typeof tf, requested: number): Promise<number> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (requested > 1) {
    tfjs.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
    wasm.setThreadsCount(requested);
    const restore = bridgeGlobals(requested);
    let started: boolean;
    try {
      started = await tfjs.setBackend("wasm");
    } finally {
      restore();
    }
    if (started) {
      // The glue keeps a running pthread referenced, so XNNPACK's idle pool would hold the process
      // open after its work is done: the pool lives as long as the process and never keeps it alive.
      for (const worker of BlobUrlWorker.started) worker.unref();
      return wasm.getThreadsCount();
    }
    // the threaded start failed without harm (a minified bundle's script refused): one thread it is
  }
  tfjs.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  wasm.setThreadsCount(1);
  if (!(await tfjs.setBackend("wasm"))) throw new Error("the wasm backend failed to initialise");
  return wasm.getThreadsCount();
}

/**
 * Layers 1 and 4 while the backend initialises, and a look at the main script before any worker
 * runs it: a script whose names were minified away stops the threaded start. Returns what puts
 * the globals back.
 */
function bridgeGlobals(threads: number): () => void {
  const global = globalThis as Record<string, unknown>;
  const NativeBlob = Blob;
  global.Blob = class MainScriptCheck extends NativeBlob {
    constructor(parts?: BlobPart[], options?: BlobPropertyBag) {
      const text = parts?.[0];
      if (typeof text === "string" && text.startsWith(MAIN_SCRIPT_START) && !WORKER_NAMES.every((name) => text.includes(name))) {
        throw new Error("the threaded build's main script does not use the names its workers define (a minified bundle)");
      }
      super(parts, options);
    }
  };
  const workerBefore = Object.getOwnPropertyDescriptor(global, "Worker");
  // the glue assigns Node's Worker to the global before it constructs its pool: that assignment is ignored
  Object.defineProperty(global, "Worker", { configurable: true, get: () => BlobUrlWorker, set: () => {} });
  const instantiate = WebAssembly.instantiate;
  WebAssembly.instantiate = ((source: BufferSource | WebAssembly.Module, imports?: WebAssembly.Imports) => {
    const env = imports?.env as Record<string, unknown> | undefined;
    if (env && typeof env.emscripten_num_logical_cores === "function") {
      imports = { ...imports, env: { ...env, emscripten_num_logical_cores: () => 2 * threads } };
    }
    return instantiate(source as BufferSource, imports);
  }) as typeof WebAssembly.instantiate;
  return () => {
    global.Blob = NativeBlob;
    WebAssembly.instantiate = instantiate;
    delete global.Worker;
    if (workerBefore) Object.defineProperty(global, "Worker", workerBefore);
  };
}
