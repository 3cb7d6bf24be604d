/**
 * Intelligence layer: data sets, datanets, base models, LoRA, PEFT files and the Model Factory.
 *
 * API note (for the attribution layer and notebooks)
 * --------------------------------------------------
 * Weights are plain maps `WeightMap = Record<string, tf.Tensor>` with PyTorch/PEFT names:
 *   base linear layer  MODULE.weight [out, in], MODULE.bias [out]
 *   LoRA               MODULE.lora_A.weight [r, in], MODULE.lora_B.weight [out, r]
 *   DoRA magnitude     MODULE.lora_magnitude_vector [out]
 * so that a model's forward is a pure function of explicit tensors:
 *   model.forward(weights, x, opts?) -> logits      (classifier: [n, classes]; LM: [n, T, vocab])
 *   model.loss(weights, x, y, opts?) -> scalar mean cross-entropy
 *   model.perExampleLoss(weights, x, y, opts?) -> [n]
 * `opts.lora = { scaling, dora? }` turns the LoRA terms on wherever the map holds lora_A/lora_B
 * for a module. Per-example gradients w.r.t. LoRA tensors: pass the LoRA tensors as the
 * arguments of tf.grads, keep the base tensors constant (see loraWeightMap()).
 *
 * Data: `Datanet` holds x (Float32Array, n × features, or token windows for text), y
 * (Int32Array), `contributorOf` (Int32Array: per-sample index into `contributors`) and
 * `sampleHashes` (bytes32 hex, the Merkle leaves). `DatanetManifest` is the JSON committed on
 * chain by its Merkle root (DatanetRegistry).
 *
 * Factory: `runFactory(spec | path)` -> `FactoryResult` with `checkpoints[]`, each holding the
 * step, the learning rate used at that step and the LoRA tensors (Float32Array by PEFT key) at
 * that step, written under OUTDIR/checkpoints/step-NNNNNN/ as PEFT files + meta.json.
 * A result also carries: model, baseWeights, forwardOptions (LoRA scaling/DoRA), weights (the
 * trained map), datanets[], train/validation (`SplitData`: x, y, n, xShape, yShape, plus per
 * example datanetOf, sampleOf and contributorOf = contributor address), test, metrics.
 * Helpers: trainableLoss(result)(trainable, x, y) -> per-example loss [n] as a function of the
 * trainable tensors only; checkpointWeights(model, ckpt) -> WeightMap; batchTensors(model, data,
 * indices) -> { x, y } tensors; loadOrPretrainBase / baseModel to rebuild a base model by name.
 *
 * Example (a notebook or the attribution layer):
 *   const r = await runFactory("experiments/factory/fmnist-lora.yaml");
 *   const loss = trainableLoss(r);
 *   for (const ck of r.checkpoints) {
 *     const w = checkpointWeights(r.model, ck);               // LoRA A/B at that step
 *     const { x, y } = batchTensors(r.model, r.train, [0]);   // one training example
 *     const g = tf.grads((...ts) => tf.sum(loss(Object.fromEntries(Object.keys(w).map((k, i) => [k, ts[i]])), x, y)))(Object.values(w));
 *   }
 */

export * from "./datanet-stats.js";
export * from "./datanets.js";
export * from "./datasets/index.js";
export * from "./errors.js";
export * from "./factory/index.js";
export * from "./lora/index.js";
export * from "./models/index.js";
export * from "./peft/index.js";
export * from "./train.js";
export * from "./training-loop.js";
