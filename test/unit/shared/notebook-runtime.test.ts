import { expect } from "chai";
import { notebookTf, runtimeSummary } from "../../../lib/notebook/index.js";
import { formatAdapter, initTf, type WebGpuAdapterReport } from "../../../lib/tf/index.js";

describe("notebooks show the backend and adapter they run on", () => {
  it("names the backend the command line would choose, with TensorFlow.js's version and what was passed over", async () => {
    const rt = await initTf({ quiet: true });
    expect(await notebookTf()).to.equal(rt); // the one runtime of the process, not a second choice
    const line = runtimeSummary(rt);
    expect(line).to.contain(`**${rt.backend}**`).and.contain(rt.tfjsVersion).and.contain(`\`${rt.tfBackendName}\``);
    for (const s of rt.skipped) expect(line).to.contain(s.code ? `${s.choice} (${s.code})` : s.choice);
    if (!rt.adapter) expect(line).not.to.contain("WebGPU adapter");
  });

  it("on webgpu, names the adapter", () => {
    const adapter: WebGpuAdapterReport = {
      dawnBackend: "vulkan",
      featureLevel: "core",
      vendor: "nvidia",
      architecture: "hopper",
      device: "H100",
      description: "NVIDIA H100 80GB HBM3",
      software: false,
      features: ["shader-f16"],
      limits: { maxBufferSize: 2 ** 31, maxStorageBufferBindingSize: 2 ** 31, maxComputeWorkgroupStorageSize: 49152, maxComputeInvocationsPerWorkgroup: 1024 },
    };
    const line = runtimeSummary({
      tf: undefined as never,
      backend: "webgpu",
      tfBackendName: "webgpu",
      tfjsVersion: "4.22.0",
      skipped: [{ choice: "tfjs-node-gpu", reason: "not installed" }],
      adapter,
    });
    expect(line).to.equal(`Computing on **webgpu** (TensorFlow.js 4.22.0, backend \`webgpu\`) · ${formatAdapter(adapter)} · passed over: tfjs-node-gpu`);
    expect(line).to.contain("nvidia / hopper / H100");
  });
});
