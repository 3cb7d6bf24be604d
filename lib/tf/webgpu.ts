import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type * as TF from "@tensorflow/tfjs";
import { WebGpuError } from "./errors.js";

/**
 * TensorFlow.js on WebGPU in Node: Dawn's Node binding (the `webgpu` package, a prebuilt
 * dawn.node that opens the Vulkan loader at run time) under @tensorflow/tfjs-backend-webgpu.
 * Two Dawn backends are tried, in this order:
 *   vulkan    the GPU's own driver (NVIDIA, AMD, Intel): the route for real training;
 *   opengles  EGL + GL ES at WebGPU's compatibility feature level: on a machine with no GPU this
 *             is Mesa's llvmpipe, a software renderer, which CI uses to test the route on CPUs.
 * A software adapter is refused unless the caller allows it (LAB_TF_BACKEND=webgpu), so the
 * automatic choice never trades wasm for a slower rasteriser.
 */

export type DawnBackend = "vulkan" | "opengles";

/** What the chosen adapter says about itself: printed, and written into the run manifest. */
export interface WebGpuAdapterReport {
  dawnBackend: DawnBackend;
  featureLevel: "core" | "compatibility";
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU rasteriser (llvmpipe, lavapipe, softpipe, SwiftShader) or Dawn's fallback adapter. */
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** One Dawn backend that was tried and why it gave no usable adapter. */
export interface WebGpuAttempt {
  dawnBackend: DawnBackend;
  code: string;
  reason: string;
  adapter?: WebGpuAdapterReport;
}

export interface WebGpuActivation {
  report: WebGpuAdapterReport;
  attempts: WebGpuAttempt[];
}

const SOFTWARE_RENDERER = /llvmpipe|lavapipe|softpipe|swiftshader|software rasterizer|microsoft basic render/i;

/** True for a renderer that runs on the CPU, whatever the driver calls it. */
export function isSoftwareAdapter(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }): boolean {
  if (info.isFallbackAdapter) return true;
  return [info.vendor, info.architecture, info.device, info.description].some((s) => s !== undefined && SOFTWARE_RENDERER.test(s));
}

type Env = Record<string, string | undefined>;

const splitPath = (value: string | undefined): string[] => (value ?? "").split(":").filter(Boolean);

/** Directories the dynamic loader searches, in the order it does (LD_LIBRARY_PATH, ld.so.conf, defaults). */
export function libraryDirs(env: Env = process.env): string[] {
  const dirs = [...splitPath(env.LD_LIBRARY_PATH)];
  const confDir = "/etc/ld.so.conf.d";
  if (existsSync(confDir)) {
    for (const f of readdirSync(confDir)
      .filter((n) => n.endsWith(".conf"))
      .sort()) {
      for (const line of readFileSync(join(confDir, f), "utf8").split("\n")) {
        const d = line.trim();
        if (d.startsWith("/")) dirs.push(d);
      }
    }
  }
  const triple = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  dirs.push(`/lib/${triple}`, `/usr/lib/${triple}`, "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib");
  return [...new Set(dirs)];
}

/** The first file named `soname` on the loader's path, or undefined. */
export function findLibrary(soname: string, env: Env = process.env): string | undefined {
  for (const d of libraryDirs(env)) {
    const p = join(d, soname);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Vulkan driver manifests (ICDs) the loader would read: the files VK_DRIVER_FILES or
 * VK_ICD_FILENAMES name, else the JSON files of the icd.d folders of the Vulkan loader's
 * documented search path (LoaderInterfaceArchitecture, "Driver Discovery on Linux").
 */
export function findVulkanIcds(env: Env = process.env): string[] {
  const explicit = splitPath(env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES);
  const added = splitPath(env.VK_ADD_DRIVER_FILES);
  if (explicit.length) return [...explicit, ...added].filter((f) => existsSync(f));
  const home = env.HOME ?? homedir();
  const configDirs = [env.XDG_CONFIG_HOME ?? join(home, ".config"), ...(splitPath(env.XDG_CONFIG_DIRS).length ? splitPath(env.XDG_CONFIG_DIRS) : ["/etc/xdg"]), "/etc"];
  const dataDirs = [env.XDG_DATA_HOME ?? join(home, ".local/share"), ...(splitPath(env.XDG_DATA_DIRS).length ? splitPath(env.XDG_DATA_DIRS) : ["/usr/local/share", "/usr/share"])];
  const found: string[] = [];
  for (const base of [...configDirs, ...dataDirs]) {
    const dir = join(base, "vulkan", "icd.d");
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith(".json"))
      .sort())
      found.push(join(dir, f));
  }
  return [...found, ...added.filter((f) => existsSync(f))];
}

/** The subset of GPUAdapter/GPUDevice this module touches (dawn.node implements the full spec). */
interface GpuAdapterInfoLike {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  info: GpuAdapterInfoLike;
  features: Set<string>;
  limits: Record<string, number>;
  requestDevice(descriptor?: unknown): Promise<GpuDeviceLike>;
}
export interface GpuDeviceLike {
  lost: Promise<{ reason: string; message: string }>;
  onuncapturederror: ((event: { error: { constructor: { name: string }; message: string } }) => void) | null;
  destroy(): void;
}
interface GpuLike {
  requestAdapter(options?: unknown): Promise<GpuAdapterLike | null>;
}
type WebGpuModule = { create(flags: string[]): GpuLike; globals: Record<string, unknown> };

function adapterLimits(adapter: GpuAdapterLike): Record<string, number> {
  const limits: Record<string, number> = {};
  const proto = Object.getPrototypeOf(adapter.limits) as object;
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
    if (typeof d.get === "function") limits[key] = Number((adapter.limits as Record<string, unknown>)[key]);
  }
  return limits;
}

export function describeAdapter(adapter: GpuAdapterLike, dawnBackend: DawnBackend, featureLevel: "core" | "compatibility"): WebGpuAdapterReport {
  const i = adapter.info;
  return {
    dawnBackend,
    featureLevel,
    vendor: i.vendor ?? "",
    architecture: i.architecture ?? "",
    device: i.device ?? "",
    description: i.description ?? "",
    software: isSoftwareAdapter(i),
    features: [...adapter.features].sort(),
    limits: adapterLimits(adapter),
  };
}

/** One line for the console: vendor, architecture, device and the limits that bound tensor sizes. */
export function formatAdapter(r: WebGpuAdapterReport): string {
  const name = [r.vendor, r.architecture, r.device].filter(Boolean).join(" / ") || r.description || "unnamed adapter";
  const mib = (n: number | undefined) => (n === undefined ? "?" : `${Math.round(n / 2 ** 20)} MiB`);
  return (
    `WebGPU adapter ${name} (${r.dawnBackend}, ${r.featureLevel}${r.software ? ", software" : ""}; ${r.description}; ` +
    `max buffer ${mib(r.limits.maxBufferSize)}, max storage binding ${mib(r.limits.maxStorageBufferBindingSize)}, ` +
    `workgroup storage ${r.limits.maxComputeWorkgroupStorageSize} B, ${r.limits.maxComputeInvocationsPerWorkgroup} invocations)`
  );
}

// --- device health -------------------------------------------------------------------------

let fault: WebGpuError | undefined;

/** Records the first out-of-memory, other device error or loss of `device` (replacing any earlier record). */
export function watchDevice(device: Pick<GpuDeviceLike, "lost" | "onuncapturederror">): void {
  fault = undefined;
  device.onuncapturederror = (event) => {
    const kind = event.error.constructor.name;
    if (fault) return;
    fault =
      kind === "GPUOutOfMemoryError"
        ? new WebGpuError({
            code: "webgpu/out-of-memory",
            message: `the WebGPU device ran out of memory (${event.error.message})`,
            hint: "lower training.batch_size or the model size, or set LAB_TF_BACKEND=wasm to train on the CPU",
            fields: { error: event.error.message },
          })
        : new WebGpuError({
            code: "webgpu/device-error",
            message: `the WebGPU device reported ${kind}: ${event.error.message}`,
            hint: "set LAB_TF_BACKEND=wasm to train on the CPU, and report the message with the adapter line printed at start",
            fields: { kind, error: event.error.message },
          });
  };
  void device.lost.then((info) => {
    if (info.reason === "destroyed" || fault) return;
    fault = new WebGpuError({
      code: "webgpu/device-lost",
      message: `the WebGPU device was lost (${info.reason}: ${info.message})`,
      hint: "check the driver (nvidia-smi) and run again; set LAB_TF_BACKEND=wasm to train on the CPU meanwhile",
      fields: { reason: info.reason, error: info.message },
    });
  });
}

/** The first error the active WebGPU device reported (out of memory, device lost), or undefined. */
export function webGpuFault(): WebGpuError | undefined {
  return fault;
}

/** Throws what the device reported since it was opened: called after each training step on webgpu. */
export function assertWebGpuHealthy(): void {
  if (fault) throw fault;
}

// --- opening an adapter ----------------------------------------------------------------------

async function loadWebGpuPackage(): Promise<WebGpuModule> {
  try {
    return (await import("webgpu")) as unknown as WebGpuModule;
  } catch (error) {
    throw new WebGpuError({
      code: "webgpu/package-missing",
      message: `the npm package webgpu did not load (${(error as Error).message.split("\n")[0]})`,
      hint: "npm ci installs it (an optional dependency); on platforms it has no prebuilt dawn.node for, use wasm",
      fields: { package: "webgpu" },
    });
  }
}

/**
 * Puts Dawn's WebGPU globals (GPUBufferUsage, GPUMapMode, ...) and `navigator.gpu` in place:
 * tfjs-backend-webgpu reads both. Node 24's `navigator` is a getter-only global, so the gpu is
 * added to the existing navigator object (keeping userAgent, hardwareConcurrency, ...).
 */
function installNavigatorGpu(module: WebGpuModule, gpu: GpuLike): void {
  for (const [k, v] of Object.entries(module.globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav && Object.isExtensible(nav)) Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, "navigator", { value: { ...(nav ?? {}), gpu }, configurable: true });
}

interface AttemptPlan {
  dawnBackend: DawnBackend;
  flags: string[];
  featureLevel: "core" | "compatibility";
  precheck(): WebGpuAttempt | undefined;
}

/** Device nodes of a GPU driver: DRM render nodes (Mesa, AMD, Intel) or NVIDIA's. */
export function gpuDeviceNodes(): string[] {
  const dri = existsSync("/dev/dri")
    ? readdirSync("/dev/dri")
        .filter((f) => f.startsWith("renderD"))
        .map((f) => `/dev/dri/${f}`)
    : [];
  const nvidia = existsSync("/dev")
    ? readdirSync("/dev")
        .filter((f) => /^nvidia\d+$/.test(f))
        .map((f) => `/dev/${f}`)
    : [];
  return [...dri, ...nvidia];
}

function attemptPlans(env: Env, allowSoftware: boolean): AttemptPlan[] {
  return [
    {
      dawnBackend: "vulkan",
      flags: ["backend=vulkan"],
      featureLevel: "core",
      precheck: () => {
        if (!findLibrary("libvulkan.so.1", env)) {
          return { dawnBackend: "vulkan", code: "webgpu/no-vulkan-loader", reason: `no Vulkan loader (libvulkan.so.1 is in none of ${libraryDirs(env).slice(0, 4).join(", ")}, ...)` };
        }
        return undefined;
      },
    },
    {
      dawnBackend: "opengles",
      flags: ["backend=opengles"],
      featureLevel: "compatibility",
      precheck: () => {
        if (!findLibrary("libEGL.so.1", env)) return { dawnBackend: "opengles", code: "webgpu/no-egl", reason: "no EGL (libEGL.so.1) for Dawn's GL ES backend" };
        // with no GPU device node only Mesa's llvmpipe could answer: not worth an EGL context unless asked for
        if (!allowSoftware && gpuDeviceNodes().length === 0)
          return { dawnBackend: "opengles", code: "webgpu/software-adapter", reason: "no GPU device node (/dev/dri/renderD*, /dev/nvidia*): only a software renderer could answer" };
        return undefined;
      },
    },
  ];
}

function noAdapterAttempt(plan: AttemptPlan, env: Env): WebGpuAttempt {
  if (plan.dawnBackend === "vulkan" && findVulkanIcds(env).length === 0) {
    return { dawnBackend: "vulkan", code: "webgpu/no-icd", reason: "the Vulkan loader found no driver: no ICD manifest (nvidia_icd.json, ...) in any vulkan/icd.d folder or VK_DRIVER_FILES" };
  }
  return { dawnBackend: plan.dawnBackend, code: "webgpu/no-adapter", reason: `Dawn's ${plan.dawnBackend} backend returned no adapter` };
}

/** The error for a route where every attempt failed: the code of the most telling attempt. */
export function noWebGpuError(attempts: WebGpuAttempt[], allowSoftware: boolean): WebGpuError {
  const vulkan = attempts.find((a) => a.dawnBackend === "vulkan");
  const software = attempts.find((a) => a.code === "webgpu/software-adapter");
  const main = (!allowSoftware && software && vulkan && vulkan.code !== "webgpu/no-adapter" ? vulkan : software) ?? vulkan ?? attempts[0];
  const hints: Record<string, string> = {
    "webgpu/no-vulkan-loader":
      "install the Vulkan loader (apt-get install libvulkan1) and the GPU driver's Vulkan ICD; in a container enable the graphics capability (NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics)",
    "webgpu/no-icd":
      "install the GPU driver's Vulkan ICD (NVIDIA: nvidia_icd.json comes with the driver; containers mount it only with NVIDIA_DRIVER_CAPABILITIES including graphics), or point VK_DRIVER_FILES at it",
    "webgpu/no-egl": "install Mesa's EGL and GL ES (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)",
    "webgpu/software-adapter": "only a software renderer is here: set LAB_TF_BACKEND=webgpu to use it anyway (tests, CI), or train on wasm",
    "webgpu/no-adapter": "check the driver (vulkaninfo --summary, nvidia-smi); set LAB_TF_BACKEND=wasm meanwhile",
    "webgpu/out-of-memory": "free device memory (nvidia-smi shows what holds it) or set LAB_TF_BACKEND=wasm",
    "webgpu/self-test": "the driver computes wrong results: update it, or set LAB_TF_BACKEND=wasm",
    "webgpu/package-missing": "npm ci installs @tensorflow/tfjs-backend-webgpu and webgpu (optional dependencies)",
  };
  const summary = attempts.map((a) => `${a.dawnBackend}: ${a.reason}`).join("; ");
  return new WebGpuError({
    code: main?.code ?? "webgpu/no-adapter",
    message: `no ${allowSoftware ? "" : "hardware "}WebGPU adapter (${summary})`,
    hint: hints[main?.code ?? "webgpu/no-adapter"] ?? hints["webgpu/no-adapter"],
    fields: { attempts: attempts.map((a) => `${a.dawnBackend}:${a.code}`), allowSoftware },
  });
}

/** Dawn instances stay referenced for the process: each one owns its adapters and devices. */
const instances: GpuLike[] = [];

/**
 * Finds an adapter (Vulkan first, then GL ES), opens a device with the limits tfjs asks for,
 * registers tfjs's WebGPU backend on it and makes it current; a matrix product checked
 * against a double-precision reference proves the device computes. Throws WebGpuError with the
 * code of what is missing.
 */
export async function activateWebGpu(tf: typeof TF, options: { allowSoftware: boolean; env?: Env }): Promise<WebGpuActivation> {
  // one device per process: a second activation reuses it (tests and comparisons switch back and forth)
  if (active && !fault && tf.findBackendFactory("webgpu")) {
    if (active.report.software && !options.allowSoftware) {
      throw noWebGpuError(
        [
          ...active.attempts,
          {
            dawnBackend: active.report.dawnBackend,
            code: "webgpu/software-adapter",
            reason: `only the software renderer ${active.report.device || active.report.description}`,
            adapter: active.report,
          },
        ],
        false,
      );
    }
    if (!(await tf.setBackend("webgpu"))) throw new WebGpuError({ code: "webgpu/no-adapter", message: "tfjs could not switch back to its webgpu backend", hint: "restart the process", fields: {} });
    return active;
  }
  active = await openAdapter(tf, options);
  return active;
}

let active: WebGpuActivation | undefined;

async function openAdapter(tf: typeof TF, options: { allowSoftware: boolean; env?: Env }): Promise<WebGpuActivation> {
  const env = options.env ?? process.env;
  const module = await loadWebGpuPackage();
  // Mesa's EGL picks a window system from the environment; with none, the surfaceless platform.
  if (!env.EGL_PLATFORM && !env.DISPLAY && !env.WAYLAND_DISPLAY) process.env.EGL_PLATFORM = "surfaceless";
  const attempts: WebGpuAttempt[] = [];
  for (const plan of attemptPlans(env, options.allowSoftware)) {
    const refused = plan.precheck();
    if (refused) {
      attempts.push(refused);
      continue;
    }
    const gpu = module.create(plan.flags);
    instances.push(gpu);
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance", featureLevel: plan.featureLevel });
    if (!adapter) {
      attempts.push(noAdapterAttempt(plan, env));
      continue;
    }
    const report = describeAdapter(adapter, plan.dawnBackend, plan.featureLevel);
    if (report.software && !options.allowSoftware) {
      attempts.push({ dawnBackend: plan.dawnBackend, code: "webgpu/software-adapter", reason: `only the software renderer ${report.device || report.description}`, adapter: report });
      continue;
    }
    installNavigatorGpu(module, gpu);
    const failure = await registerOnAdapter(tf, adapter);
    if (failure) {
      attempts.push({ dawnBackend: plan.dawnBackend, ...failure, adapter: report });
      continue;
    }
    return { report, attempts };
  }
  throw noWebGpuError(attempts, options.allowSoftware);
}

async function registerOnAdapter(tf: typeof TF, adapter: GpuAdapterLike): Promise<{ code: string; reason: string } | undefined> {
  let backendModule: { WebGPUBackend: new (device: unknown, info: unknown) => TF.KernelBackend };
  try {
    backendModule = (await import("@tensorflow/tfjs-backend-webgpu")) as unknown as typeof backendModule;
  } catch (error) {
    return { code: "webgpu/package-missing", reason: `@tensorflow/tfjs-backend-webgpu did not load (${(error as Error).message.split("\n")[0]})` };
  }
  // the limits and features tfjs-backend-webgpu's own registration asks for (its base.ts)
  const l = adapter.limits;
  let device: GpuDeviceLike;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has("timestamp-query") ? ["timestamp-query"] : [],
      requiredLimits: {
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxBufferSize: l.maxBufferSize,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      },
    });
  } catch (error) {
    const message = (error as Error).message;
    return { code: /memory/i.test(message) ? "webgpu/out-of-memory" : "webgpu/no-adapter", reason: `requestDevice failed (${message})` };
  }
  watchDevice(device);
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => withClearSyncRead(new backendModule.WebGPUBackend(device, adapter.info)), 3);
  if (!(await tf.setBackend("webgpu"))) return { code: "webgpu/no-adapter", reason: "tfjs could not initialise its webgpu backend on the device" };
  const wrong = await selfTest(tf);
  if (wrong !== undefined || fault) {
    const reason = (fault as WebGpuError | undefined)?.message ?? `a 96×80·80×64 matrix product was off by ${wrong} from the reference`;
    tf.removeBackend("webgpu");
    device.destroy();
    return { code: (fault as WebGpuError | undefined)?.code ?? "webgpu/self-test", reason };
  }
  return undefined;
}

type SyncReadable = { readSync(dataId: object): unknown; tensorMap: { get(dataId: object): { values?: unknown; dtype: string } } };

/**
 * tfjs-backend-webgpu reads synchronously through an OffscreenCanvas, which Node lacks. Values
 * already on the CPU (uploaded, or read back with data()) are answered; anything else is a
 * WebGpuError that names the asynchronous call to use instead of a ReferenceError.
 */
function withClearSyncRead(backend: TF.KernelBackend): TF.KernelBackend {
  const b = backend as unknown as SyncReadable;
  b.readSync = (dataId: object) => {
    const entry = b.tensorMap.get(dataId);
    if (entry.values != null || entry.dtype === "string") return entry.values;
    throw new WebGpuError({
      code: "webgpu/sync-read",
      message: "dataSync()/arraySync() of a tensor that lives on the WebGPU device: Node's WebGPU reads back only asynchronously",
      hint: "read it with readFloats / readScalar / readTensorMap from lib/tf (or await tensor.data()): every read in lib/ is asynchronous",
      fields: { dtype: entry.dtype },
    });
  };
  return backend;
}

/** Largest relative error of a seeded matrix product against float64, if above 1e-4; else undefined. */
async function selfTest(tf: typeof TF): Promise<number | undefined> {
  const [m, k, n] = [96, 80, 64];
  const a = Float32Array.from({ length: m * k }, (_, i) => Math.sin(i * 0.37));
  const b = Float32Array.from({ length: k * n }, (_, i) => Math.cos(i * 0.11));
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
  const got = await product.data();
  product.dispose();
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0,
        scale = 0;
      for (let p = 0; p < k; p++) {
        s += a[i * k + p] * b[p * n + j];
        scale += Math.abs(a[i * k + p] * b[p * n + j]);
      }
      worst = Math.max(worst, Math.abs(got[i * n + j] - s) / Math.max(scale, 1e-6));
    }
  }
  return worst > 1e-4 ? worst : undefined;
}
