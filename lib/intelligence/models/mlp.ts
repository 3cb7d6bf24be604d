import type { Scalar } from "@tensorflow/tfjs";
import { rng } from "../../random.js";
import { crossEntropy, kaimingUniform, linear } from "./ops.js";
import type { ForwardOptions, LinearModule, Model, Tensor, Tf, WeightMap } from "./types.js";

export interface MlpConfig {
  inputSize: number;
  hidden: number[];
  numClasses: number;
}

/** Module names: fc1, fc2, ... for hidden layers, "head" for the classifier layer. */
export function mlpModuleNames(config: MlpConfig): string[] {
  return [...config.hidden.map((_, i) => `fc${i + 1}`), "head"];
}

/** A ReLU multilayer perceptron image classifier (flattened pixels in, class logits out). */
export function createMlp(tf: Tf, config: MlpConfig): Model<MlpConfig> {
  const names = mlpModuleNames(config);
  const sizes = [config.inputSize, ...config.hidden, config.numClasses];
  const linearModules: LinearModule[] = names.map((name, i) => ({ name, inFeatures: sizes[i], outFeatures: sizes[i + 1], bias: true }));

  const forward = (weights: WeightMap, x: Tensor, opts: ForwardOptions = {}): Tensor => {
    let h = x;
    names.forEach((name, i) => {
      h = linear(tf, weights, name, h, opts);
      if (i < names.length - 1) h = tf.relu(h);
    });
    return h;
  };
  const perExampleLoss = (weights: WeightMap, x: Tensor, y: Tensor, opts?: ForwardOptions) => crossEntropy(tf, forward(weights, x, opts), y);

  return {
    tf,
    kind: "mlp",
    task: "image-classification",
    config,
    linearModules,
    init(seed) {
      const r = rng(seed).fork("mlp-init");
      const w: WeightMap = {};
      for (const m of linearModules) {
        w[`${m.name}.weight`] = tf.tensor2d(
          kaimingUniform(() => r.next(), m.outFeatures, m.inFeatures),
          [m.outFeatures, m.inFeatures],
        );
        w[`${m.name}.bias`] = tf.tensor1d(kaimingUniform(() => r.next(), m.outFeatures, m.inFeatures).subarray(0, m.outFeatures));
      }
      return w;
    },
    forward,
    perExampleLoss,
    loss: (weights, x, y, opts) => tf.mean(perExampleLoss(weights, x, y, opts)) as Scalar,
    flopsPerExample: () => linearModules.reduce((s, m) => s + 2 * m.inFeatures * m.outFeatures, 0),
  };
}
