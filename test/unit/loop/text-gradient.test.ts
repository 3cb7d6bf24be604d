// Gradient-based attribution of a language model's completion to the contributors of its
// training windows, on a small GPT with a seeded LoRA adapter (real per-example gradients through
// the Intelligence layer's forward).
import { expect } from "chai";
import { getAddress } from "ethers";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { fromFactoryRun, lmBatch } from "../../../lib/attribution/factory-model.js";
import { createGpt, initLora, loraConfig, loraForwardOptions } from "../../../lib/intelligence/index.js";
import { roleOf } from "../../../lib/intelligence/models/peft-keys.js";
import type { TrainingSet } from "../../../lib/loop/classifier.js";
import { attributeTextByGradient } from "../../../lib/loop/completion-attribution.js";
import { rng } from "../../../lib/random.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCodeAsync } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });
const T = 10;
const ADDR = [1, 2].map((i) => getAddress(`0x${String(i).repeat(40)}`));

async function setUp() {
  const model = createGpt(tf, { vocabSize: 13, blockSize: T, nLayer: 1, nHead: 2, nEmbd: 16 });
  const base = model.init(4);
  const adapter = initLora(model, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["v_proj", "fc_out", "lm_head"] }), 5);
  const r = rng(6);
  for (const k of Object.keys(adapter.tensors))
    if (roleOf(k) === "lora_B")
      adapter.tensors[k] = tf.tensor(
        Array.from({ length: adapter.tensors[k]!.size }, () => 0.3 * r.normal()),
        adapter.tensors[k]!.shape,
      );
  const m = await fromFactoryRun({ model, baseWeights: base, weights: { ...base, ...adapter.tensors }, forwardOptions: loraForwardOptions(adapter) });
  // contributor 0 gives windows of 1 2 1 2 …, contributor 1 windows of 7 8 7 8 …
  const pattern = (a: number, b: number) => Array.from({ length: T + 1 }, (_, i) => (i % 2 ? b : a));
  const windows = [0, 0, 0, 1, 1, 1].map((c) => (c === 0 ? pattern(1, 2) : pattern(7, 8)));
  const train: TrainingSet = {
    batch: lmBatch(
      windows.flatMap((w) => w.slice(0, T)),
      windows.flatMap((w) => w.slice(1)),
      windows.length,
      T,
    ),
    datanetOf: new Int32Array(windows.length),
    contributorOf: [0, 0, 0, 1, 1, 1].map((c) => ADDR[c]!),
    datanets: ["text"],
  };
  return { m, train };
}

describe("gradient attribution of a completion to text contributors", function () {
  this.timeout(60_000);

  it("scores every training window and credits the contributor whose windows the completion repeats", async () => {
    const { m, train } = await setUp();
    const a = await attributeTextByGradient(m, train, [1, 2, 1, 2], [1, 2, 1, 2], undefined);
    expect(a.scores.length).to.equal(6);
    const share = new Map(a.aggregate.contributors.map((c) => [getAddress(c.name), c.weight]));
    expect(share.get(ADDR[0]!)!).to.be.greaterThan(share.get(ADDR[1]!) ?? 0);
    expect(a.helpful).to.equal(Array.from(a.scores).filter((v) => v > 0).length);
  });

  it("refuses a completion longer than the model's block", async () => {
    const { m, train } = await setUp();
    await expectCodeAsync(
      attributeTextByGradient(
        m,
        train,
        [1],
        Array.from({ length: T + 1 }, () => 1),
        undefined,
      ),
      AttributionError,
      "attribution/continuation-too-long",
    );
  });
});
