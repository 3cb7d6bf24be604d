import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { writeCheckData } from "../../../lib/gpu-bundle/build.js";
import { loadBundleData, runCheck } from "../../../lib/gpu-bundle/check.js";
import { activateWebGpu } from "../../../lib/tf/webgpu.js";

/**
 * The GPU check of ./lab gpu-bundle, run in this process in its quick form on whatever WebGPU
 * adapter opens here (Mesa's llvmpipe on a machine with no GPU): the report has the shape the
 * GPU machine's run is read by, and webgpu's losses equal wasm's within the 1e-3.
 */
describe("the GPU check (./lab gpu-bundle)", function () {
  this.timeout(300_000);
  let dataDir: string;
  let unavailable: string | undefined;
  let previousBackend = "cpu";
  before(async () => {
    previousBackend = tf.getBackend() ?? "cpu";
    dataDir = mkdtempSync(join(tmpdir(), "lab-gpu-check-"));
    writeCheckData(dataDir);
    try {
      await activateWebGpu(tf, { allowSoftware: true });
    } catch (error) {
      unavailable = error instanceof LabError ? `${error.code}: ${error.message}` : String(error);
    }
  });
  after(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await tf.setBackend(previousBackend);
  });

  it("packs the Factory's data and example specs so the check rebuilds them without the data sets", () => {
    const { meta, mlp, literature, pretrainIds } = loadBundleData(dataDir);
    expect(Object.keys(meta.specs).sort()).to.deep.equal(["fmnist-full", "fmnist-lora", "fortunes-full", "fortunes-lora"]);
    expect(mlp.x.length).to.equal(mlp.n * 784);
    expect(Math.max(...mlp.x.subarray(0, 784 * 8))).to.be.at.most(1);
    expect(literature.x.length).to.equal(literature.n * literature.xShape[0]);
    expect(Math.max(...pretrainIds)).to.be.below(meta.vocabSize);
  });

  it("reports the adapter, matmul rates and every workload's throughput and loss difference", async function () {
    if (unavailable) {
      console.log(`      skipped, no WebGPU adapter here: ${unavailable}`);
      this.skip();
    }
    const report = (await runCheck({ quick: true, allowSoftware: true, budgetSeconds: 600, dataDir })) as {
      adapter: { device: string } | null;
      matmul: Array<{ n: number; gflops: number }>;
      training: Array<{ name: string; maxLossDifference?: number; speedup?: number; gpu?: { losses: number[] }; cpu?: { losses: number[] }; error?: string }>;
      targets: { maxLossDifference: { measured: number; met: boolean } };
      errors: unknown[];
    };
    expect(report.errors).to.deep.equal([]);
    expect(report.adapter).to.not.equal(null);
    expect(report.matmul.map((m) => m.n)).to.deep.equal([128, 256]);
    for (const m of report.matmul) expect(m.gflops).to.be.above(0);
    expect(report.training.map((t) => t.name)).to.deep.equal(["mlp-lora", "mlp-full", "gpt-lora", "gpt-full", "gpt-large-lora", "gpt-large-full"]);
    for (const t of report.training) {
      expect(t.error, t.name).to.equal(undefined);
      expect(t.gpu?.losses.length, t.name).to.be.above(1);
      expect(t.maxLossDifference, t.name).to.be.below(1e-3);
    }
    expect(report.targets.maxLossDifference.met).to.equal(true);
  });
});
