import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { fromRoot } from "../../../lib/files.js";
import { AttributionPassError, attributionOutOfMemory, attributionPassOptions, bundleAttributionInput, runAttributionPass } from "../../../lib/gpu-bundle/attribution-pass.js";
import { loadSpec } from "../../../lib/intelligence/factory/factory-spec.js";
import { fortunesTokenizer, pretrainTokenIds } from "../../../lib/intelligence/models/zoo.js";
import { selectBackend } from "../../../lib/tf/backend.js";
import { expectCode } from "../expect-code.js";

/**
 * The GPU check's attribution pass (lib/gpu-bundle/attribution-pass.ts) in its quick form, with
 * the cpu backend standing in for the device: the same adapter attributed on both backends, the
 * figures the GPU machine's report is read by, and the refusal when memory runs out.
 */
describe("the GPU check's attribution pass", function () {
  this.timeout(300_000);
  let previousBackend = "cpu";
  before(() => {
    previousBackend = tf.getBackend() ?? "cpu";
  });
  after(async () => {
    await tf.setBackend(previousBackend);
  });

  it("takes per-example gradients and DataInf scores of the large preset's LoRA adapter on two backends, which agree", async () => {
    const options = { ...attributionPassOptions(true, {}), windows: 4, wasmWindows: 2 }; // the cpu backend takes 2 s a window
    const spec = loadSpec(fromRoot("experiments", "factory", "fortunes-lora.yaml"));
    const input = bundleAttributionInput(spec, fortunesTokenizer().vocab.length, pretrainTokenIds(), true);
    const report = await runAttributionPass(input, "cpu", options);
    expect(report.runs.map((r) => [r.backend, r.windows, r.tokens])).to.deep.equal([
      ["cpu", 4, (4 + 2) * 64],
      ["wasm", 2, (2 + 2) * 64],
    ]);
    // rank-2 LoRA on v_proj, fc_out and lm_head of one layer of width 384
    const d = input.config.nEmbd;
    expect(report.parameters).to.equal(2 * (d + d) + 2 * (4 * d + d) + 2 * (d + input.config.vocabSize));
    for (const loss of report.adapterLosses) expect(Number.isFinite(loss)).to.equal(true);
    for (const run of report.runs) {
      expect(run.tokensPerSecond).to.be.above(0);
      expect(new Set(run.topHelpful).size).to.equal(Math.min(5, run.windows));
      for (const i of run.topHelpful) expect(i).to.be.within(0, run.windows - 1);
    }
    expect(report.speedup).to.be.closeTo(report.runs[0].tokensPerSecond / report.runs[1].tokensPerSecond, 1e-12);
    // float32 on two backends, the same adapter: gradients agree to well under 1e-3 of their scale
    expect(report.gradientDifference).to.be.a("number").and.below(1e-3);
  });

  it("refuses an allocation that runs out of memory with the settings that shrink the pass, and passes other errors on", async () => {
    await selectBackend({ override: "wasm" });
    const options = attributionPassOptions(false, { LAB_GPU_CHECK_ATTRIBUTION_CHUNK: "8" });
    let oom: unknown;
    try {
      tf.zeros([2 ** 29]); // 2 GiB of float32 in one tensor: more than the wasm heap's allocator gives
    } catch (error) {
      oom = error;
    }
    const refusal = attributionOutOfMemory(oom, "wasm", options);
    expect(refusal).to.be.instanceOf(AttributionPassError);
    expect(refusal!.code).to.equal("gpu-check/attribution-out-of-memory");
    expect(refusal!.fields).to.include({ backend: "wasm", chunk: 4, windows: 1000, cause: "wasm/out-of-memory" });
    expect(attributionOutOfMemory(new Error("something else"), "wasm", options)).to.equal(undefined);
    expectCode(() => attributionPassOptions(false, { LAB_GPU_CHECK_ATTRIBUTION_WINDOWS: "0" }), AttributionPassError, "gpu-check/bad-setting", { name: "LAB_GPU_CHECK_ATTRIBUTION_WINDOWS" });
    expect(attributionPassOptions(false, {})).to.include({ windows: 1000, wasmWindows: 32 });
  });
});
