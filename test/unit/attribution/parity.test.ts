import { expect } from "chai";
import { FactoryModel } from "../../../lib/attribution/factory-model.js";
import { type AttributionTask, type Attributor, DataInf, GradDot, TRAK, TracInCP } from "../../../lib/attribution/methods/index.js";
import { type DenseBlock, LoraMLP, MLP, type TraceableModel } from "../../../lib/attribution/model.js";
import { makeCheckpoint } from "../../../lib/attribution/train.js";
import { createMlp, type WeightMap } from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";
import { randomBatch, randomParams } from "./fixtures.js";

const { tf } = await initTf({ quiet: true });

/** A block of the attribution layout (rows = in, cols = out, x·W) as the PEFT tensor [out, in], and its bias. */
function peft(params: Float64Array, b: DenseBlock): { weight: ReturnType<typeof tf.tensor2d>; bias?: ReturnType<typeof tf.tensor1d> } {
  const w = tf.transpose(tf.tensor2d(Float32Array.from(params.subarray(b.offset, b.offset + b.rows * b.cols)), [b.rows, b.cols]));
  return { weight: w as ReturnType<typeof tf.tensor2d>, bias: b.bias ? tf.tensor1d(Float32Array.from(params.subarray(b.offset + b.rows * b.cols, b.offset + b.size))) : undefined };
}

function relativeError(a: Float64Array, b: Float64Array): number {
  let d = 0,
    s = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(d / s);
}

describe("attribution: the Float64 MLPs and the Factory MLP give the same scores on the same weights", () => {
  const train = randomBatch(40, 12, 4, 1),
    test = randomBatch(5, 12, 4, 2);
  const factory = createMlp(tf, { inputSize: 12, hidden: [8], numClasses: 4 });
  const methods = (): Attributor[] => [new GradDot(), new GradDot({ cosine: true }), new DataInf(), new TRAK({ projectionDim: 16, seed: 3, ridge: 0.1 }), new TracInCP()];

  function compare(f64: TraceableModel, fm: FactoryModel, params: Float64Array, checkpointParams: Float64Array[]): void {
    expect(fm.numParams).to.equal(f64.numParams);
    const rounded = Float64Array.from(Float32Array.from(params)); // the Factory holds float32 weights
    const cps = (round: boolean) => checkpointParams.map((p, i) => makeCheckpoint(10 * (i + 1), 0.01, round ? Float64Array.from(Float32Array.from(p)) : p));
    for (const m of methods()) {
      const a: AttributionTask = { model: f64, params: rounded, train, test, l2: 0, checkpoints: cps(true) };
      const b: AttributionTask = { model: fm, params: rounded, train, test, l2: 0, checkpoints: cps(true) };
      expect(relativeError(m.attribute(b).data, m.attribute(a).data), m.name).to.be.below(1e-4);
    }
  }

  it("full fine-tuning: MLP (dense1, dense2) and the Factory MLP (fc1, head)", () => {
    const f64 = new MLP(12, 8, 4);
    const params = randomParams(f64, 4);
    const [d1, d2] = f64.blocks;
    const w1 = peft(params, d1),
      w2 = peft(params, d2);
    const weights: WeightMap = { "fc1.weight": w1.weight, "fc1.bias": w1.bias!, "head.weight": w2.weight, "head.bias": w2.bias! };
    const fm = new FactoryModel({ model: factory, weights, trainable: Object.keys(weights) });
    compare(f64, fm, params, [randomParams(f64, 5), randomParams(f64, 6)]);
  });

  it("LoRA: LoraMLP and the Factory MLP with PEFT adapters on fc1 and head", () => {
    const base = new MLP(12, 8, 4);
    const baseParams = randomParams(base, 7);
    const f64 = new LoraMLP(base, Float64Array.from(Float32Array.from(baseParams)), 2, 4);
    const params = randomParams(f64, 8);
    const [d1, d2] = base.blocks;
    const b1 = peft(baseParams, d1),
      b2 = peft(baseParams, d2);
    const [a1, bb1, a2, bb2] = f64.blocks.map((b) => peft(params, b).weight);
    // the attribution layout of lora_A is [in, r] (x·A): PEFT's lora_A.weight [r, in] is its transpose, as peft() gives
    const weights: WeightMap = {
      "fc1.weight": b1.weight,
      "fc1.bias": b1.bias!,
      "head.weight": b2.weight,
      "head.bias": b2.bias!,
      "fc1.lora_A.weight": a1,
      "fc1.lora_B.weight": bb1,
      "head.lora_A.weight": a2,
      "head.lora_B.weight": bb2,
    };
    const fm = new FactoryModel({
      model: factory,
      weights,
      trainable: ["fc1.lora_A.weight", "fc1.lora_B.weight", "head.lora_A.weight", "head.lora_B.weight"],
      forwardOptions: { lora: { scaling: 2 } },
    });
    compare(f64, fm, params, [randomParams(f64, 9)]);
  });
});
