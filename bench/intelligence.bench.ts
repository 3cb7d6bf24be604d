/**
 * Intelligence layer training throughput, per TensorFlow.js backend: examples/s and achieved
 * GFLOP/s of a training step (MLP classifier, full fine-tuning and LoRA; the small transformer),
 * each as a ratio to the same backend's large-matmul rate measured in this run (the ceiling a
 * training step built of matmuls could reach). Then LoRA vs full fine-tuning: time and memory.
 * Achieved FLOP/s counts model FLOPs: 3 × forward FLOPs per example (forward, input gradients,
 * weight gradients), the usual convention; LoRA steps skip the frozen weights' gradients, so
 * their model-FLOP figure is an upper bound on the work done.
 */
import type * as tfjs from "@tensorflow/tfjs";
import { matmulGflops, printTable, timeMs } from "../lib/bench/bench-tables.js";
import {
  countParams,
  createGpt,
  createMlp,
  DEFAULT_OPTIMIZER,
  type ForwardOptions,
  initLora,
  loraConfig,
  loraForwardOptions,
  type Model,
  Optimizer,
  trainStep,
  type WeightMap,
} from "../lib/intelligence/index.js";
import { initTf } from "../lib/tf/index.js";

const quick = process.argv.includes("--quick");
const { tf, backend: primary } = await initTf({ quiet: true });
const backends = [tf.getBackend(), ...(tf.getBackend() !== "cpu" ? ["cpu"] : [])];

interface StepSetup {
  model: Model;
  frozen: WeightMap;
  trainable: Record<string, tfjs.Variable>;
  opt: Optimizer;
  x: tfjs.Tensor;
  y: tfjs.Tensor;
  fwd: ForwardOptions;
}

function setup(model: Model, method: "full" | "lora", batch: number, targets: string[]): StepSetup {
  const base = model.init(1);
  let frozen: WeightMap = {},
    init: WeightMap = base,
    fwd = {};
  if (method === "lora") {
    const adapter = initLora(model, base, loraConfig({ r: 4, loraAlpha: 8, targetModules: targets }), 1);
    frozen = base;
    init = adapter.tensors;
    fwd = loraForwardOptions(adapter, true, 1);
  }
  const trainable: Record<string, tfjs.Variable> = {};
  for (const [k, t] of Object.entries(init)) trainable[k] = tf.variable(t, true);
  const opt = new Optimizer(tf, DEFAULT_OPTIMIZER, trainable);
  const isLm = model.task === "causal-lm";
  const T = isLm ? (model.config as { blockSize: number }).blockSize : 0;
  const V = isLm ? (model.config as { vocabSize: number }).vocabSize : 0;
  const x = isLm ? tf.randomUniform([batch, T], 0, V, "int32", 3) : tf.randomUniform([batch, 784], 0, 1, "float32", 3);
  const y = isLm ? tf.randomUniform([batch, T], 0, V, "int32", 4) : tf.randomUniform([batch], 0, 10, "int32", 4);
  return { model, frozen, trainable, opt, x, y, fwd };
}

async function measure(s: StepSetup, steps: number) {
  const mem0 = tf.memory().numBytes;
  let peak = 0;
  const run = async () => {
    // the step disposes its batch: each gets its own handles on the fixed batch
    for (let i = 0; i < steps; i++) peak = Math.max(peak, (await trainStep(s.model, s.frozen, s.trainable, s.opt, { x: s.x.clone(), y: s.y.clone() }, 1e-3, s.fwd, i)).bytesWithGradients);
  };
  const ms = await timeMs(run, quick ? 1 : 3);
  const batch = s.x.shape[0];
  const exPerSec = (steps * batch) / (ms / 1000);
  return { exPerSec, gflops: (3 * s.model.flopsPerExample() * exPerSec) / 1e9, msPerStep: ms / steps, extraBytes: peak - mem0 + Object.values(s.trainable).reduce((a, v) => a + v.size * 4, 0) * 3 };
}

const rows: Array<Record<string, string | number>> = [];
const compare: Array<Record<string, string | number>> = [];
for (const b of backends) {
  await tf.setBackend(b);
  await tf.ready();
  const slow = b === "cpu";
  // the backend's large-matmul rate: the best of three square sizes (wasm is not fastest at the largest)
  let mm = 0;
  for (const n of slow ? [256, 512] : [256, 512, 1024]) mm = Math.max(mm, await matmulGflops(tf, n, quick ? 2 : 4));
  const mlp = createMlp(tf, { inputSize: 784, hidden: [256, 128], numClasses: 10 });
  const gpt = createGpt(tf, { vocabSize: 85, blockSize: 48, nLayer: 2, nHead: 4, nEmbd: 64 });
  const steps = slow ? 2 : quick ? 5 : 20;
  const cases: Array<[string, Model, "full" | "lora", number, string[]]> = [
    ["MLP full FT, batch 128", mlp, "full", 128, []],
    ["MLP full FT, batch 1024", mlp, "full", 1024, []],
    ["MLP LoRA r=4, batch 1024", mlp, "lora", 1024, ["fc1", "fc2"]],
    ["transformer full FT, batch 16", gpt, "full", 16, []],
    ["transformer LoRA r=4, batch 16", gpt, "lora", 16, ["q_proj", "k_proj", "v_proj", "o_proj", "fc_in", "fc_out"]],
  ];
  const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  for (const [label, model, method, batch, targets] of cases) {
    if (slow && batch > 128) continue;
    const s = setup(model, method, batch, targets);
    const r = await measure(s, model.task === "causal-lm" ? Math.max(1, Math.floor(steps / 4)) : steps);
    results[label] = r;
    rows.push({
      backend: b,
      step: label,
      "ms/step": r.msPerStep,
      "examples/s": r.exPerSec,
      "GFLOP/s": r.gflops,
      "matmul GFLOP/s": mm,
      "ratio to matmul": r.gflops / mm,
      "≥ 1/3 target": r.gflops / mm >= 1 / 3 ? "met" : "missed",
    });
    s.opt.dispose();
    for (const v of Object.values(s.trainable)) v.dispose();
  }
  for (const [what, full, lora] of [
    ["MLP, batch 1024", "MLP full FT, batch 1024", "MLP LoRA r=4, batch 1024"],
    ["transformer, batch 16", "transformer full FT, batch 16", "transformer LoRA r=4, batch 16"],
  ]) {
    if (!results[full] || !results[lora]) continue;
    compare.push({
      backend: b,
      model: what,
      "LoRA/full time per step": results[lora].msPerStep / results[full].msPerStep,
      "full FT training MB": results[full].extraBytes / 1e6,
      "LoRA training MB": results[lora].extraBytes / 1e6,
      "LoRA/full memory": results[lora].extraBytes / results[full].extraBytes,
    });
  }
}
await tf.setBackend(backends[0]);

/**
 * A linear layer's x·Wᵀ at one decode position, on the large preset's weights: W used again (a
 * frozen weight, whose transposed copy the wasm backend keeps from its second use,
 * lib/tf/wasm-transposed-operands.ts) against W's values in a tensor used once (transposed, and
 * packed by XNNPACK, at the call). The fresh tensors are made before the clock starts.
 */
async function keptTransposeRows(): Promise<Array<Record<string, string | number>>> {
  const repeats = quick ? 5 : 20;
  const out: Array<Record<string, string | number>> = [];
  for (const [outF, inF] of [
    [384, 384],
    [1536, 384],
    [384, 1536],
  ]) {
    const x = tf.randomNormal([1, inF], 0, 1, "float32", 1);
    const w = tf.randomNormal([outF, inF], 0, 1, "float32", 2);
    const product = (b: tfjs.Tensor) => tf.matMul(x, b, false, true).dispose();
    product(w);
    const kept = await timeMs(() => product(w), repeats);
    const fresh = Array.from({ length: repeats + 1 }, () => tf.add(w, 0));
    let next = 0;
    const once = await timeMs(() => product(fresh[next++]), repeats);
    out.push({ x·Wᵀ: `[1, ${inF}]·[${outF}, ${inF}]ᵀ`, "W used again (ms)": kept, "W used once (ms)": once, "once / again": once / kept });
    tf.dispose([x, w, ...fresh]);
  }
  return out;
}
const keptTransposes = tf.getBackend() === "wasm" ? await keptTransposeRows() : [];

console.log(`primary backend: ${primary}; cpu measured with fewer steps and no batch-1024 cases`);
printTable("Training step throughput, as a ratio to the same backend's large-matmul rate", rows);
printTable("LoRA vs full fine-tuning (same model, same batch): step time and training memory (trainable weights, Adam moments, gradients, batch)", compare);
if (keptTransposes.length) printTable("A decode position's x·Wᵀ on wasm: a frozen weight used again (its transposed copy kept) vs the same values in a tensor used once", keptTransposes);
else console.log(`\n(the kept transposed weights are the wasm backend's; the primary backend here is ${tf.getBackend()})`);
void countParams;
