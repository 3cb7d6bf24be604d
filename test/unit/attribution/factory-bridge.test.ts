import { expect } from "chai";
import { initTf } from "../../../lib/tf/index.js";
import { createMlp, initLora, loraConfig, loraForwardOptions } from "../../../lib/intelligence/index.js";
import { fromFactoryRun } from "../../../lib/attribution/factory-bridge.js";
import { perExampleGradients, row } from "../../../lib/attribution/gradients.js";
import { rng } from "../../../lib/random.js";

describe("attribution: Model Factory bridge", () => {
  it("per-example gradients of a Factory LoRA MLP equal TensorFlow.js autodiff of its per-example loss", async () => {
    const { tf } = await initTf({ quiet: true });
    const model = createMlp(tf, { inputSize: 12, hidden: [8, 6], numClasses: 4 });
    const base = model.init(3);
    const adapter = initLora(model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["fc1", "fc2", "head"] }), 5);
    // B starts at zero (so the adapter is the identity); give it values so every path carries gradient
    const r = rng(9);
    for (const k of Object.keys(adapter.tensors)) if (k.endsWith("lora_B.weight")) {
      const t = adapter.tensors[k];
      adapter.tensors[k] = tf.tensor(Array.from({ length: t.size }, () => 0.3 * r.normal()), t.shape);
    }
    const fwd = loraForwardOptions(adapter);
    const weights = { ...base, ...adapter.tensors };
    const { model: bridge, params } = fromFactoryRun({ model, baseWeights: base, weights, forwardOptions: fwd });
    const n = 5;
    const x = Float64Array.from({ length: n * 12 }, () => r.next());
    const y = Int32Array.from({ length: n }, () => r.int(4));
    const G = perExampleGradients(bridge, params, { x, y, n, dim: 12 });
    const keys = bridge.blocks.map((b) => b.name);
    for (let i = 0; i < n; i++) {
      const xi = tf.tensor2d(Array.from(x.subarray(i * 12, (i + 1) * 12)), [1, 12]);
      const yi = tf.tensor1d([y[i]], "int32");
      const grads = tf.grads((...ts: any[]) => tf.sum(model.perExampleLoss({ ...base, ...Object.fromEntries(keys.map((k, j) => [k, ts[j]])) }, xi, yi, fwd)) as any)(keys.map((k) => adapter.tensors[k]));
      const got = row(G, i);
      keys.forEach((k, j) => {
        const blk = bridge.blocks[j];
        const [rows, cols] = grads[j].shape as [number, number];
        const g = grads[j].dataSync();
        // PEFT layout [rows, cols] is the transpose of the bridge's block
        for (let a = 0; a < rows; a++) for (let c = 0; c < cols; c++) expect(got[blk.offset + c * rows + a]).to.be.closeTo(g[a * cols + c], 1e-4);
      });
      const logitsTf = model.forward(weights, xi, fwd).dataSync();
      const logits = bridge.logits(params, x.subarray(i * 12, (i + 1) * 12), 1);
      for (let k = 0; k < 4; k++) expect(logits[k]).to.be.closeTo(logitsTf[k], 1e-4);
    }
  });
});
