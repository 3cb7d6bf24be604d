/**
 * Runs the first steps of a Model Factory recipe (experiments/factory/SPEC.yaml, fortunes-lora by
 * default: adapter, optimizer, schedule, batch order, dropout seeds) on the larger GPT preset,
 * fortunes-gpt-large through the lab's training loop, in a process of its own, so the wasm heap
 * it grows (about 3 GiB at 8 windows; above 8 the loop accumulates over micro-batches of 8) is
 * returned when it exits. Prints one JSON line:
 *   { backend, batchSize, losses, halves, heapBytes }
 * where `halves` are the losses of the first step's two half-batches, computed on their own with
 * the same weights: the full batch's loss must be their mean.
 *
 *   node --import tsx test/helpers/large-preset-steps.ts [backend=wasm] [batch=8] [steps=2] [spec=fortunes-lora]
 */
import type * as tfjs from "@tensorflow/tfjs";
import { fromRoot } from "../../lib/files.js";
import { loadSpec } from "../../lib/intelligence/factory/factory-spec.js";
import { initTrainable, specOptimizer } from "../../lib/intelligence/factory/fine-tune.js";
import { baseModel, pretrainData } from "../../lib/intelligence/models/zoo.js";
import { batchIndices, batchTensors } from "../../lib/intelligence/train.js";
import { runTrainingLoop } from "../../lib/intelligence/training-loop.js";
import { selectBackend } from "../../lib/tf/backend.js";

const [backend = "wasm", batchArg = "8", stepsArg = "2", specName = "fortunes-lora"] = process.argv.slice(2);
const batchSize = Number(batchArg);
const steps = Number(stepsArg);
const { tf } = await selectBackend({ override: backend });
const spec = loadSpec(fromRoot("experiments", "factory", `${specName}.yaml`));
const model = baseModel(tf, "fortunes-gpt-large");
const data = pretrainData("fortunes-gpt-large"); // windows of 256 tokens
const base = model.init(spec.base_model.seed);
const setup = initTrainable(tf, model, base, spec);
const opt = specOptimizer(tf, spec, setup.trainable);

const meanLoss = async (idx: number[]): Promise<number> => {
  const batch = batchTensors(model, data, idx);
  const loss = tf.tidy(() => model.loss({ ...setup.frozen, ...setup.trainable }, batch.x, batch.y, setup.forward) as tfjs.Scalar);
  const value = (await loss.data())[0];
  tf.dispose([loss, batch.x, batch.y]);
  return value;
};

const first = batchIndices(data.n, batchSize, spec.seed, 0);
const halves = [await meanLoss(first.slice(0, batchSize / 2)), await meanLoss(first.slice(batchSize / 2))];
const losses: number[] = [];
// the lab's training loop as the Factory runs it: above 8 windows, wasm accumulates over micro-batches of 8
await runTrainingLoop({
  model,
  frozen: setup.frozen,
  trainable: setup.trainable,
  optimizer: opt,
  data,
  batchSize,
  seed: spec.seed,
  steps,
  schedule: { kind: spec.schedule.kind, warmupSteps: spec.schedule.warmup_steps },
  scheduleSteps: spec.training.steps ?? steps,
  forward: setup.forward,
  dropout: true,
  onStep: (r) => void losses.push(r.loss),
});
const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
process.stdout.write(`${JSON.stringify({ backend, batchSize, losses, halves, heapBytes: wasm?.HEAPU8.length ?? null })}\n`);
