import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { fromRoot } from "../../../lib/files.js";
import { createGpt, createMlp, DEFAULT_OPTIMIZER, initLora, loraConfig, loraForwardOptions, type Model, Optimizer, runFactory, trainStep, type WeightMap } from "../../../lib/intelligence/index.js";
import { roleOf } from "../../../lib/intelligence/models/peft-keys.js";
import { selectBackend } from "../../../lib/tf/backend.js";
import { activateWebGpu, assertWebGpuHealthy, findVulkanIcds, type GpuDeviceLike, isSoftwareAdapter, noWebGpuError, type WebGpuAttempt, watchDevice, webGpuFault } from "../../../lib/tf/webgpu.js";

/**
 * The WebGPU route, checked on whatever adapter this machine has. On a machine with no GPU that
 * is Mesa's llvmpipe through Dawn's GL ES backend (the lab's set-up installs Mesa's EGL and GL ES
 * when it runs as root), forced as LAB_TF_BACKEND=webgpu forces it. Every number is compared
 * with the wasm backend on the same inputs in the same process.
 *
 * Tolerances: forward values within 1e-4 of wasm relative to the tensor's largest magnitude,
 * gradients within 1e-4 relative to the model's largest gradient entry (float32 sums in another
 * order: about 1e-6 was measured on llvmpipe); Factory losses within 1e-4 absolute after the same
 * steps (equal to 6 decimals on llvmpipe).
 */
const FORWARD_TOLERANCE = 1e-4;
const LOSS_TOLERANCE = 1e-4;

describe("WebGPU adapter rules (no device needed)", () => {
  it("calls llvmpipe, lavapipe, SwiftShader and Dawn's fallback adapter software, and real GPUs not", () => {
    expect(isSoftwareAdapter({ vendor: "", device: "llvmpipe-llvm-15-0-6-256-bits-", description: "OpenGL version OpenGL ES 3.2 Mesa 22.3.6" })).to.equal(true);
    expect(isSoftwareAdapter({ vendor: "mesa", device: "lavapipe", description: "" })).to.equal(true);
    expect(isSoftwareAdapter({ vendor: "google", architecture: "swiftshader", device: "SwiftShader Device (Subzero)" })).to.equal(true);
    expect(isSoftwareAdapter({ vendor: "nvidia", architecture: "hopper", device: "NVIDIA H200", isFallbackAdapter: true })).to.equal(true);
    expect(isSoftwareAdapter({ vendor: "nvidia", architecture: "hopper", device: "NVIDIA H200", description: "NVIDIA: 570.86" })).to.equal(false);
  });

  it("finds Vulkan driver manifests where VK_DRIVER_FILES points, and none in an empty search path", () => {
    const dir = mkdtempSync(join(tmpdir(), "lab-icd-"));
    try {
      const icd = join(dir, "nvidia_icd.json");
      writeFileSync(icd, JSON.stringify({ file_format_version: "1.0.1", ICD: { library_path: "libGLX_nvidia.so.0", api_version: "1.3" } }));
      expect(findVulkanIcds({ VK_DRIVER_FILES: `${icd}:${join(dir, "absent.json")}` })).to.deep.equal([icd]);
      expect(findVulkanIcds({ VK_ICD_FILENAMES: icd })).to.deep.equal([icd]);
      expect(findVulkanIcds({ HOME: dir, XDG_CONFIG_DIRS: dir, XDG_DATA_DIRS: dir }).filter((f) => f.startsWith(dir))).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the missing piece: no loader, no ICD, a software adapter only", () => {
    const noLoader: WebGpuAttempt = { dawnBackend: "vulkan", code: "webgpu/no-vulkan-loader", reason: "no libvulkan.so.1" };
    const softOnly: WebGpuAttempt = { dawnBackend: "opengles", code: "webgpu/software-adapter", reason: "llvmpipe" };
    const noAdapter: WebGpuAttempt = { dawnBackend: "vulkan", code: "webgpu/no-adapter", reason: "none" };
    const a = noWebGpuError([noLoader, softOnly], false);
    expect(a.code).to.equal("webgpu/no-vulkan-loader");
    expect(a.fields.attempts).to.deep.equal(["vulkan:webgpu/no-vulkan-loader", "opengles:webgpu/software-adapter"]);
    expect(a.hint).to.match(/libvulkan1/);
    expect(noWebGpuError([noAdapter, softOnly], false).code).to.equal("webgpu/software-adapter");
    expect(noWebGpuError([{ ...noLoader, code: "webgpu/no-icd" }], false).code).to.equal("webgpu/no-icd");
  });
});

describe("WebGPU device faults", () => {
  /** A device as dawn.node shapes one: an uncaptured-error handler slot and a `lost` promise. */
  const fakeDevice = () => {
    let loseWith: (info: { reason: string; message: string }) => void = () => {};
    const device: Pick<GpuDeviceLike, "lost" | "onuncapturederror"> = {
      lost: new Promise((resolve) => {
        loseWith = resolve;
      }),
      onuncapturederror: null,
    };
    return { device, lose: loseWith };
  };
  class GPUOutOfMemoryError {
    constructor(readonly message: string) {}
  }
  class GPUValidationError {
    constructor(readonly message: string) {}
  }

  it("an out-of-memory error on the device is webgpu/out-of-memory at the next health check", () => {
    const { device } = fakeDevice();
    watchDevice(device);
    expect(webGpuFault()).to.equal(undefined);
    device.onuncapturederror?.({ error: new GPUOutOfMemoryError("Out of memory creating buffer of 4294967296 bytes") });
    device.onuncapturederror?.({ error: new GPUValidationError("later, and not the first") });
    expect(() => assertWebGpuHealthy())
      .to.throw(LabError)
      .with.property("code", "webgpu/out-of-memory");
    expect(webGpuFault()?.fields.error).to.match(/4294967296/);
  });

  it("a lost device is webgpu/device-lost, a destroyed one is no fault, another error keeps its kind", async () => {
    const lost = fakeDevice();
    watchDevice(lost.device);
    lost.lose({ reason: "unknown", message: "GPU reset" });
    await lost.device.lost;
    await Promise.resolve();
    expect(webGpuFault()?.code).to.equal("webgpu/device-lost");
    const destroyed = fakeDevice();
    watchDevice(destroyed.device);
    destroyed.lose({ reason: "destroyed", message: "" });
    await destroyed.device.lost;
    await Promise.resolve();
    expect(webGpuFault()).to.equal(undefined);
    destroyed.device.onuncapturederror?.({ error: new GPUValidationError("bad binding") });
    expect(webGpuFault()?.code).to.equal("webgpu/device-error");
    expect(webGpuFault()?.fields.kind).to.equal("GPUValidationError");
    watchDevice(fakeDevice().device); // leave no fault behind for the tests that follow
  });
});

describe("WebGPU kernels the lab's training needs", () => {
  it("every kernel of a LoRA/DoRA/full training step of the MLP and the GPT is registered on webgpu", async () => {
    await import("@tensorflow/tfjs-backend-webgpu");
    await selectBackend({ override: "cpu" });
    const used = new Set<string>();
    for (const [model, targets, x, y] of [
      [createMlp(tf, { inputSize: 8, hidden: [6], numClasses: 3 }), ["fc1"], tf.randomUniform([4, 8], 0, 1, "float32", 1), tf.tensor1d([0, 1, 2, 0], "int32")],
      [
        createGpt(tf, { vocabSize: 7, blockSize: 4, nLayer: 1, nHead: 2, nEmbd: 8 }),
        ["q_proj", "lm_head"],
        tf.tensor2d([1, 2, 3, 4, 5, 6, 0, 1], [2, 4], "int32"),
        tf.tensor2d([2, 3, 4, 5, 6, 0, 1, 2], [2, 4], "int32"),
      ],
    ] as const) {
      const base = model.init(1);
      for (const dora of [false, true]) {
        const adapter = initLora(model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: [...targets], useDora: dora, loraDropout: 0.1 }), 2);
        const vars = Object.fromEntries(Object.entries({ ...base, ...adapter.tensors }).map(([k, t]) => [k, tf.variable(t, true)]));
        const trainable = dora ? Object.fromEntries(Object.entries(vars).filter(([k]) => k.includes("lora_"))) : vars;
        const opt = new Optimizer(tf, DEFAULT_OPTIMIZER, trainable);
        const info = await tf.profile(async () => {
          await trainStep(model, vars, trainable, opt, { x: x.clone(), y: y.clone() }, 1e-3, loraForwardOptions(adapter, true, 1), 0);
        });
        for (const k of info.kernelNames) used.add(k);
      }
    }
    // the profile also names composite ops and custom gradients ("forward"); the kernels are those the cpu backend registers
    const kernels = [...used].filter((k) => tf.getKernel(k, "cpu"));
    expect(kernels.length).to.be.above(20);
    expect(kernels.filter((k) => !tf.getKernel(k, "webgpu"))).to.deep.equal([]);
  });
});

describe("TensorFlow.js on WebGPU, against wasm", () => {
  let unavailable: string | undefined;
  let previousBackend = "cpu";
  before(async function () {
    this.timeout(60_000);
    previousBackend = tf.getBackend() ?? "cpu";
    try {
      const { report } = await activateWebGpu(tf, { allowSoftware: true });
      console.log(`      on ${report.device || report.description} (${report.dawnBackend}${report.software ? ", software" : ""})`);
    } catch (error) {
      unavailable = error instanceof LabError ? `${error.code}: ${error.message}` : String(error);
    }
    await import("@tensorflow/tfjs-backend-wasm");
  });
  beforeEach(function () {
    if (unavailable) {
      console.log(`      skipped, no WebGPU adapter here: ${unavailable}`);
      this.skip();
    }
  });
  // later test files share this process: leave them the backend they had
  after(async () => {
    await tf.setBackend(previousBackend);
  });

  /** Runs fn on wasm and on webgpu with the same inputs; returns both results as plain arrays. */
  const onBoth = async (fn: () => tf.Tensor | tf.Tensor[]): Promise<[Float32Array[], Float32Array[]]> => {
    const run = async (backend: string) => {
      await selectBackend({ override: backend });
      const out = fn();
      const list = Array.isArray(out) ? out : [out];
      const values = await Promise.all(list.map(async (t) => Float32Array.from(await t.data())));
      for (const t of list) t.dispose();
      return values;
    };
    return [await run("wasm"), await run("webgpu")];
  };
  const relativeError = (a: Float32Array, b: Float32Array) => {
    let worst = 0,
      scale = 1e-12;
    for (let i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(a[i]));
    }
    return worst / scale;
  };

  const models = (): Array<{ name: string; model: Model; x: () => tf.Tensor; y: () => tf.Tensor; targets: string[] }> => [
    {
      name: "MLP",
      model: createMlp(tf, { inputSize: 20, hidden: [16, 12], numClasses: 5 }),
      targets: ["fc1", "fc2"],
      x: () => tf.randomUniform([6, 20], -1, 1, "float32", 11),
      y: () => tf.tensor1d([0, 1, 2, 3, 4, 0], "int32"),
    },
    {
      name: "GPT",
      model: createGpt(tf, { vocabSize: 13, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 16 }),
      targets: ["q_proj", "v_proj", "fc_out", "lm_head"],
      x: () =>
        tf.tensor2d(
          Array.from({ length: 24 }, (_, i) => (i * 7) % 13),
          [3, 8],
          "int32",
        ),
      y: () =>
        tf.tensor2d(
          Array.from({ length: 24 }, (_, i) => (i * 5 + 1) % 13),
          [3, 8],
          "int32",
        ),
    },
  ];

  // each backend builds its own model: a GPT keeps its causal mask on the backend it was built on
  it("forward passes of the MLP and the GPT equal wasm's", async () => {
    for (const [index, { name }] of models().entries()) {
      const m = { name };
      const [wasm, gpu] = await onBoth(() =>
        tf.tidy(() => {
          const { model, x } = models()[index];
          return model.forward(model.init(3), x());
        }),
      );
      expect(relativeError(wasm[0], gpu[0]), m.name).to.be.below(FORWARD_TOLERANCE);
    }
  });

  it("gradients of full weights and of LoRA and DoRA adapters equal wasm's", async () => {
    for (const [index, { name }] of models().entries()) {
      for (const dora of [false, true]) {
        const [wasm, gpu] = await onBoth(() =>
          tf.tidy(() => {
            const m = models()[index];
            const base = m.model.init(3);
            const adapter = initLora(m.model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: m.targets, useDora: dora, initLoraWeights: "gaussian" }), 4);
            // B starts at zero; a non-zero B makes every gradient term non-trivial
            const tensors: WeightMap = Object.fromEntries(Object.entries(adapter.tensors).map(([k, t]) => [k, roleOf(k) === "lora_B" ? tf.randomUniform(t.shape, -0.1, 0.1, "float32", 5) : t]));
            const names = Object.keys(tensors);
            const loraGrads = tf.grads((...ts: tf.Tensor[]) =>
              m.model.loss({ ...base, ...Object.fromEntries(names.map((k, i) => [k, ts[i]])) }, m.x(), m.y(), loraForwardOptions({ ...adapter, tensors })),
            )(names.map((k) => tensors[k]));
            const fullNames = Object.keys(base);
            const fullGrads = dora ? [] : tf.grads((...ts: tf.Tensor[]) => m.model.loss(Object.fromEntries(fullNames.map((k, i) => [k, ts[i]])), m.x(), m.y()))(fullNames.map((k) => base[k]));
            return [...loraGrads, ...fullGrads];
          }),
        );
        // relative to the largest gradient entry of the model: some are zero in exact arithmetic
        // (k_proj's bias: softmax ignores a per-query shift) and differ by float32 noise alone
        const scale = Math.max(...wasm.map((g) => g.reduce((m2, v) => Math.max(m2, Math.abs(v)), 0)));
        wasm.forEach((g, i) => {
          const worst = g.reduce((m2, v, j) => Math.max(m2, Math.abs(v - gpu[i][j])), 0);
          expect(worst / scale, `${name}${dora ? " DoRA" : ""} gradient ${i}`).to.be.below(FORWARD_TOLERANCE);
        });
      }
    }
  });

  it("a few optimizer steps (AdamW) give the losses wasm gives", async () => {
    for (const [index, { name }] of models().entries()) {
      const losses: Record<string, number[]> = {};
      for (const backend of ["wasm", "webgpu"]) {
        await selectBackend({ override: backend });
        const m = models()[index];
        const base = m.model.init(3);
        const adapter = initLora(m.model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: m.targets, loraDropout: 0.1 }), 4);
        const vars = Object.fromEntries(Object.entries(adapter.tensors).map(([k, t]) => [k, tf.variable(t, true)]));
        const opt = new Optimizer(tf, { ...DEFAULT_OPTIMIZER, lr: 3e-2 }, vars);
        losses[backend] = [];
        for (let s = 0; s < 4; s++) losses[backend].push((await trainStep(m.model, base, vars, opt, { x: m.x(), y: m.y() }, 3e-2, loraForwardOptions(adapter, true, s), s)).loss);
        opt.dispose();
        for (const v of Object.values(vars)) v.dispose();
        for (const t of Object.values(base)) t.dispose();
      }
      for (const [i, l] of losses.wasm.entries()) expect(Math.abs(l - losses.webgpu[i]), `${name} step ${i}`).to.be.below(LOSS_TOLERANCE);
      expect(losses.wasm[3]).to.not.equal(losses.wasm[0]);
    }
  });

  /** Factory specs of every kind, cut to a few steps; the base models are the quick ones. */
  const factorySpecs: Array<Record<string, unknown>> = [
    { name: "webgpu-mlp-lora", model: "fmnist-mlp", method: "lora", lora: { r: 2, alpha: 4, target_modules: ["fc1", "fc2"], dropout: 0.1 } },
    { name: "webgpu-mlp-rslora", model: "fmnist-mlp", method: "lora", lora: { r: 4, alpha: 4, target_modules: ["fc1", "fc2"], use_rslora: true } },
    { name: "webgpu-mlp-dora", model: "fmnist-mlp", method: "lora", lora: { r: 2, alpha: 4, target_modules: ["fc1", "fc2"], use_dora: true } },
    { name: "webgpu-mlp-full", model: "fmnist-mlp", method: "full" },
    { name: "webgpu-gpt-lora", model: "fortunes-gpt", method: "lora", lora: { r: 2, alpha: 4, target_modules: ["v_proj", "fc_out", "lm_head"] } },
    { name: "webgpu-gpt-dora", model: "fortunes-gpt", method: "lora", lora: { r: 2, alpha: 4, target_modules: ["q_proj", "v_proj"], use_dora: true, use_rslora: true } },
    { name: "webgpu-gpt-full", model: "fortunes-gpt", method: "full" },
  ];

  it("Model Factory specs (MLP and GPT; full, LoRA, rsLoRA, DoRA) train on webgpu to wasm's losses", async function () {
    this.timeout(600_000);
    for (const { name, model, ...rest } of factorySpecs) {
      const image = model === "fmnist-mlp";
      const spec = {
        name,
        ...rest,
        base_model: { name: model, pretrain: "quick", seed: 1 },
        data: { datanets: [image ? "fmnist-low-contrast" : "fortunes-literature"], scale: image ? 0.05 : 0.2 },
        optimizer: { lr: image ? 0.003 : 0.01 },
        training: { steps: 3, batch_size: 16 },
        seed: 5,
        checkpoints: { every: 3, keep: 1 },
        evaluation: { every: 3, test_limit: 50 },
      };
      const results: Record<string, { history: number[]; test: number; backend: string }> = {};
      for (const backend of ["wasm", "webgpu"] as const) {
        const r = await runFactory({ ...spec, output: { dir: fromRoot("experiments", "runs", "unit-tests", `${name}-${backend}`) } }, { backend, quiet: true });
        results[backend] = { history: r.metrics.history.map((h) => h.loss), test: r.metrics.final.test_loss, backend: r.metrics.backend };
        const written = JSON.parse(readFileSync(join(r.outDir, "result.json"), "utf8")) as { gpu_adapter?: { device: string } };
        expect(Boolean(written.gpu_adapter), `${name} on ${backend}: result.json names the adapter`).to.equal(backend === "webgpu");
      }
      expect(results.webgpu.backend).to.equal("webgpu");
      for (const [i, l] of results.wasm.history.entries()) expect(Math.abs(l - results.webgpu.history[i]), `${name} step ${i + 1}`).to.be.below(LOSS_TOLERANCE);
      expect(Math.abs(results.wasm.test - results.webgpu.test), `${name} test loss`).to.be.below(LOSS_TOLERANCE);
    }
  });

  it("is never chosen on its own when the only adapter is a software renderer", async () => {
    const rt = await selectBackend({ override: "" });
    const webgpu = rt.skipped.find((s) => s.choice === "webgpu");
    if (rt.backend === "webgpu") expect(rt.adapter?.software).to.equal(false);
    else expect(webgpu?.code).to.match(/^webgpu\/(no-vulkan-loader|no-icd|no-adapter|software-adapter)$/);
  });
});
