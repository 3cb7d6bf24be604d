/**
 * The bridge from the Intelligence layer's Model Factory to attribution: a Factory MLP with LoRA
 * adapters (PEFT names and layouts: MODULE.weight [out, in], MODULE.lora_A.weight [r, in],
 * MODULE.lora_B.weight [out, r]) becomes a TraceableModel whose parameter vector is the adapter
 * tensors, so every method here runs on Factory runs and their kept checkpoints. The base weights
 * are frozen copies; the forward matches `linear()` with LoRA (no dropout at attribution time).
 */
import { layoutBlocks, headSignal, type Batch, type DenseBlock, type DenseTrace, type Target, type TraceableModel, type TraceResult } from "./model.js";
import { matmul, matmulABt } from "./linalg.js";
import { makeCheckpoint, type Checkpoint } from "./train.js";
import { AttributionError } from "./errors.js";
import type { Rng } from "../random.js";

/** A tensor as the Factory stores it (checkpoint ArrayMap entries, or tensor.dataSync() + shape). */
export interface ArrayTensor {
  shape: number[];
  data: ArrayLike<number>;
}

interface Layer {
  name: string;
  inF: number;
  outF: number;
  /** Base weight, transposed to [in, out]. */
  W: Float64Array;
  b?: Float64Array;
  lora?: { A: DenseBlock; B: DenseBlock; r: number };
}

function transpose(t: ArrayTensor): Float64Array {
  const [rows, cols] = t.shape;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = t.data[i * cols + j];
  return out;
}

export class FactoryLoraMLP implements TraceableModel {
  readonly kind = "factory-lora-mlp";
  readonly blocks: DenseBlock[];
  readonly numParams: number;
  readonly inputDim: number;
  readonly numClasses: number;
  private readonly layers: Layer[];

  /**
   * @param modules the MLP's linear modules in order (Factory `model.linearModules`)
   * @param base base weights by PEFT key (`fc1.weight`, `fc1.bias`, …)
   * @param adapterKeys the LoRA keys present (`fc1.lora_A.weight`, …) with their shapes
   * @param scaling LoRA's α/r from the run's forward options
   */
  constructor(
    modules: { name: string; inFeatures: number; outFeatures: number }[],
    base: Record<string, ArrayTensor>,
    adapterShapes: Record<string, number[]>,
    readonly scaling: number,
  ) {
    const specs: { name: string; rows: number; cols: number; bias: boolean }[] = [];
    for (const m of modules) {
      const a = adapterShapes[`${m.name}.lora_A.weight`];
      const b = adapterShapes[`${m.name}.lora_B.weight`];
      if (a && b) {
        specs.push({ name: `${m.name}.lora_A.weight`, rows: m.inFeatures, cols: a[0], bias: false });
        specs.push({ name: `${m.name}.lora_B.weight`, rows: b[1], cols: m.outFeatures, bias: false });
      }
    }
    if (specs.length === 0) throw new AttributionError({
      code: "bridge/no-lora-tensors",
      message: "the adapter holds no LoRA A/B tensors",
      hint: "attribute a LoRA Factory run (method: lora); DoRA magnitudes and full fine-tuning are not bridged",
    });
    if (Object.keys(adapterShapes).some((k) => k.endsWith("lora_magnitude_vector"))) {
      throw new AttributionError({
        code: "bridge/dora-unsupported",
        message: "DoRA adapters are not supported by the attribution bridge",
        hint: "attribute a plain LoRA run (use_dora: false)",
      });
    }
    this.blocks = layoutBlocks(specs);
    const byName = new Map(this.blocks.map((b) => [b.name, b]));
    this.layers = modules.map((m) => {
      const w = base[`${m.name}.weight`];
      if (!w) throw new AttributionError({
        code: "bridge/missing-base-weight",
        message: `base weights lack ${m.name}.weight`,
        hint: "pass the run's baseWeights as arrays",
        fields: { weight: `${m.name}.weight` },
      });
      const bias = base[`${m.name}.bias`];
      const A = byName.get(`${m.name}.lora_A.weight`);
      const B = byName.get(`${m.name}.lora_B.weight`);
      return { name: m.name, inF: m.inFeatures, outF: m.outFeatures, W: transpose(w), b: bias ? Float64Array.from(bias.data) : undefined, lora: A && B ? { A, B, r: A.cols } : undefined };
    });
    const last = this.blocks[this.blocks.length - 1];
    this.numParams = last.offset + last.size;
    this.inputDim = modules[0].inFeatures;
    this.numClasses = modules[modules.length - 1].outFeatures;
  }

  /** Adapter tensors (PEFT layout) → parameter vector. */
  pack(tensors: Record<string, ArrayTensor>): Float64Array {
    const p = new Float64Array(this.numParams);
    for (const b of this.blocks) {
      const t = tensors[b.name];
      if (!t) throw new AttributionError({
        code: "bridge/missing-adapter-tensor",
        message: `adapter lacks ${b.name}`,
        hint: "pass every LoRA tensor of the run or checkpoint",
        fields: { tensor: b.name },
      });
      p.set(transpose(t), b.offset);
    }
    return p;
  }

  /** Kept Factory checkpoints as hashed attribution checkpoints (TracIn-CP). */
  checkpoints(cks: { step: number; lr: number; tensors: Record<string, ArrayTensor> }[]): Checkpoint[] {
    return cks.map((c) => makeCheckpoint(c.step, c.lr, this.pack(c.tensors)));
  }

  init(_rng: Rng): Float64Array {
    throw new AttributionError({
      code: "bridge/not-trainable-here",
      message: "a Factory model is trained by the Model Factory",
      hint: "pack() the run's adapter or checkpoint tensors instead",
    });
  }

  private forward(params: Float64Array, x: Float64Array, n: number) {
    const hs: Float64Array[] = [x];
    const us: (Float64Array | undefined)[] = [];
    const zs: Float64Array[] = [];
    let h = x;
    this.layers.forEach((L, li) => {
      const z = matmul(h, L.W, n, L.inF, L.outF);
      if (L.b) for (let i = 0; i < n; i++) for (let j = 0; j < L.outF; j++) z[i * L.outF + j] += L.b[j];
      let u: Float64Array | undefined;
      if (L.lora) {
        const { A, B, r } = L.lora;
        u = matmul(h, params.subarray(A.offset, A.offset + A.size), n, L.inF, r).map((v) => v * this.scaling);
        const add = matmul(u, params.subarray(B.offset, B.offset + B.size), n, r, L.outF);
        for (let i = 0; i < z.length; i++) z[i] += add[i];
      }
      us.push(u);
      zs.push(z);
      if (li < this.layers.length - 1) {
        h = z.map((v) => (v > 0 ? v : 0));
        hs.push(h);
      }
    });
    return { hs, us, zs };
  }

  logits(params: Float64Array, x: Float64Array, n: number): Float64Array {
    const { zs } = this.forward(params, x, n);
    return zs[zs.length - 1];
  }

  trace(params: Float64Array, batch: Batch, target: Target): TraceResult {
    const n = batch.n;
    const { hs, us, zs } = this.forward(params, batch.x, n);
    const logits = zs[zs.length - 1];
    const { values, signal } = headSignal(logits, batch.y, n, this.numClasses, target);
    const traces: DenseTrace[] = [];
    let delta = signal;
    for (let li = this.layers.length - 1; li >= 0; li--) {
      const L = this.layers[li];
      let back = li > 0 ? matmulABt(delta, L.W, n, L.outF, L.inF) : undefined;
      if (L.lora) {
        const { A, B, r } = L.lora;
        const dU = matmulABt(delta, params.subarray(B.offset, B.offset + B.size), n, L.outF, r).map((v) => v * this.scaling);
        traces.push({ block: B, input: us[li]!, signal: delta });
        traces.push({ block: A, input: hs[li], signal: dU });
        if (back) {
          const viaA = matmulABt(dU, params.subarray(A.offset, A.offset + A.size), n, r, L.inF);
          for (let i = 0; i < back.length; i++) back[i] += viaA[i];
        }
      }
      if (back) {
        const zPrev = zs[li - 1];
        for (let i = 0; i < back.length; i++) if (!(zPrev[i] > 0)) back[i] = 0;
        delta = back;
      }
    }
    return { logits, values, traces };
  }
}

/** The attribution view of a Factory run: model, packed final adapter, and its training split. */
export function fromFactoryRun(run: {
  model: { kind: string; linearModules: { name: string; inFeatures: number; outFeatures: number }[] };
  baseWeights: Record<string, { shape: number[]; dataSync(): ArrayLike<number> }>;
  weights: Record<string, { shape: number[]; dataSync(): ArrayLike<number> }>;
  forwardOptions: { lora?: { scaling: number; dora?: boolean } };
}): { model: FactoryLoraMLP; params: Float64Array } {
  if (run.model.kind !== "mlp") throw new AttributionError({
    code: "bridge/unsupported-model",
    message: `the bridge handles Factory MLPs, not ${run.model.kind}`,
    hint: "attribute the language model by exact match (suffix-array.ts)",
    fields: { kind: run.model.kind },
  });
  if (!run.forwardOptions.lora) throw new AttributionError({
    code: "bridge/not-lora",
    message: "the run has no LoRA forward options",
    hint: "attribute a LoRA Factory run",
  });
  if (run.forwardOptions.lora.dora) throw new AttributionError({
    code: "bridge/dora-unsupported",
    message: "DoRA adapters are not supported by the attribution bridge",
    hint: "attribute a plain LoRA run (use_dora: false)",
  });
  const arr = (t: { shape: number[]; dataSync(): ArrayLike<number> }): ArrayTensor => ({ shape: t.shape, data: t.dataSync() });
  const base: Record<string, ArrayTensor> = {};
  for (const [k, t] of Object.entries(run.baseWeights)) base[k] = arr(t);
  const adapter: Record<string, ArrayTensor> = {};
  for (const [k, t] of Object.entries(run.weights)) if (k.includes(".lora_")) adapter[k] = arr(t);
  const model = new FactoryLoraMLP(run.model.linearModules, base, Object.fromEntries(Object.entries(adapter).map(([k, t]) => [k, t.shape])), run.forwardOptions.lora.scaling);
  return { model, params: model.pack(adapter) };
}
