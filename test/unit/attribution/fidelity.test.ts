import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { FactoryModel, lmBatch } from "../../../lib/attribution/factory-model.js";
import { attributionMlp, type MlpRun, trainMlp } from "../../../lib/attribution/factory-train.js";
import { sampleFashion } from "../../../lib/attribution/fmnist-features.js";
import { GradientStore, perExampleGradients } from "../../../lib/attribution/gradients.js";
import {
  type AttributionTask,
  type Attributor,
  CGInfluence,
  DataInf,
  datainfGroups,
  datainfInverseHvp,
  datainfLambda,
  ExactInfluence,
  GradDot,
  LiSSAInfluence,
  layerwiseInfluence,
  outToLoss,
  selfInfluence,
  TRAK,
  TracInCP,
} from "../../../lib/attribution/methods/index.js";
import { type Batch, LogisticRegression } from "../../../lib/attribution/model.js";
import { fitNewton } from "../../../lib/attribution/retrain.js";
import { createGpt, type GptConfig, initLora, loraConfig, loraForwardOptions, type WeightMap } from "../../../lib/intelligence/index.js";
import { roleOf } from "../../../lib/intelligence/models/peft-keys.js";
import { rng } from "../../../lib/random.js";
import { initTf } from "../../../lib/tf/index.js";
import { readTensorMap } from "../../../lib/tf/read-back.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const { tf } = await initTf({ quiet: true });

/** A⁻¹ by Gauss–Jordan with partial pivoting: an inverse independent of the Cholesky code under test. */
function inverse(A: Float64Array, k: number): Float64Array {
  const M = new Float64Array(A),
    I = new Float64Array(k * k);
  for (let i = 0; i < k; i++) I[i * k + i] = 1;
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++) if (Math.abs(M[r * k + c]) > Math.abs(M[p * k + c])) p = r;
    for (const X of [M, I]) for (let j = 0; j < k; j++) [X[c * k + j], X[p * k + j]] = [X[p * k + j], X[c * k + j]];
    const d = M[c * k + c];
    for (const X of [M, I]) for (let j = 0; j < k; j++) X[c * k + j] /= d;
    for (let r = 0; r < k; r++)
      if (r !== c) {
        const f = M[r * k + c];
        if (f !== 0) for (const X of [M, I]) for (let j = 0; j < k; j++) X[r * k + j] -= f * X[c * k + j];
      }
  }
  return I;
}

/**
 * The float64 reference for Model Factory models: each model's forward and mean loss rewritten
 * here in float64 from its definition (nothing shared with the TensorFlow.js code under test),
 * taking the parameter vector in FactoryModel's layout (per block rows = in, cols = out, so
 * x·block is the product; then the bias). Derivatives come from central differences in float64:
 * second differences of the loss along v and eⱼ for (Hv)ⱼ, first differences for gradients.
 */
type Loss64 = (theta: Float64Array) => number;

function matmul64(A: Float64Array, B: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let p = 0; p < k; p++) for (let j = 0; j < n; j++) C[i * n + j] += A[i * k + p] * B[p * n + j];
  return C;
}

/** Mean over rows of −log softmax(z)[y], weighted per row (weights sum to n for a classifier). */
function crossEntropy64(z: Float64Array, y: ArrayLike<number>, rows: number, K: number, weight: (row: number) => number, n: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, z[r * K + k]);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(z[r * K + k] - max);
    total += weight(r) * (Math.log(sum) + max - z[r * K + y[r]]);
  }
  return total / n;
}

/** A ReLU MLP, every layer trainable: h ← relu(h·W + b), logits from the last block. */
function mlpLoss64(blocks: readonly { rows: number; cols: number; offset: number }[], batch: Batch): Loss64 {
  return (theta) => {
    let h = Float64Array.from(batch.x);
    blocks.forEach((b, l) => {
      const z = matmul64(h, theta.subarray(b.offset, b.offset + b.rows * b.cols), batch.n, b.rows, b.cols);
      for (let i = 0; i < batch.n; i++) for (let c = 0; c < b.cols; c++) z[i * b.cols + c] += theta[b.offset + b.rows * b.cols + c];
      h = l < blocks.length - 1 ? z.map((x) => Math.max(0, x)) : z;
    });
    return crossEntropy64(h, batch.y, batch.n, blocks[blocks.length - 1].cols, () => 1, batch.n);
  };
}

/**
 * The nanoGPT-layout GPT with LoRA on some linear layers: embeddings, pre-norm blocks (layer norm
 * ε = 1e-5, causal softmax attention, GELU's tanh form), final norm, lm_head; a window's value is
 * the mean over its positions of the cross-entropy, the loss the mean over windows.
 */
function gptLoraLoss64(
  config: GptConfig,
  frozen: Record<string, Float64Array>,
  blocks: readonly { name: string; rows: number; cols: number; offset: number }[],
  scaling: number,
  batch: Batch,
): Loss64 {
  const { nLayer, nHead, nEmbd: d, vocabSize: V } = config;
  const T = batch.dim,
    n = batch.n,
    N = n * T,
    dh = d / nHead;
  return (theta) => {
    const lora = new Map(blocks.map((b) => [b.name, theta.subarray(b.offset, b.offset + b.rows * b.cols)]));
    const linear = (x: Float64Array, name: string, inF: number, outF: number, bias: boolean) => {
      const W = frozen[`${name}.weight`]; // [out, in]
      const y = new Float64Array(N * outF);
      for (let i = 0; i < N; i++)
        for (let o = 0; o < outF; o++) {
          let s = bias ? frozen[`${name}.bias`][o] : 0;
          for (let a = 0; a < inF; a++) s += x[i * inF + a] * W[o * inF + a];
          y[i * outF + o] = s;
        }
      const A = lora.get(`${name}.lora_A.weight`);
      const B = lora.get(`${name}.lora_B.weight`);
      if (A && B) {
        const r = A.length / inF;
        const up = matmul64(matmul64(x, A, N, inF, r), B, N, r, outF);
        for (let i = 0; i < y.length; i++) y[i] += scaling * up[i];
      }
      return y;
    };
    const layerNorm = (x: Float64Array, name: string) => {
      const y = new Float64Array(x.length);
      for (let i = 0; i < N; i++) {
        let mean = 0,
          variance = 0;
        for (let j = 0; j < d; j++) mean += x[i * d + j] / d;
        for (let j = 0; j < d; j++) variance += (x[i * d + j] - mean) ** 2 / d;
        for (let j = 0; j < d; j++) y[i * d + j] = ((x[i * d + j] - mean) / Math.sqrt(variance + 1e-5)) * frozen[`${name}.weight`][j] + frozen[`${name}.bias`][j];
      }
      return y;
    };
    let x = new Float64Array(N * d);
    for (let i = 0; i < N; i++) for (let j = 0; j < d; j++) x[i * d + j] = frozen["wte.weight"][batch.x[i] * d + j] + frozen["wpe.weight"][(i % T) * d + j];
    for (let l = 0; l < nLayer; l++) {
      const h = layerNorm(x, `h.${l}.ln_1`);
      const [q, k, v] = ["q_proj", "k_proj", "v_proj"].map((p) => linear(h, `h.${l}.attn.${p}`, d, d, true));
      const heads = new Float64Array(N * d);
      for (let e = 0; e < n; e++)
        for (let hd = 0; hd < nHead; hd++)
          for (let t = 0; t < T; t++) {
            const qi = (e * T + t) * d + hd * dh;
            const scores = Array.from({ length: t + 1 }, (_, u) => {
              let s = 0;
              for (let c = 0; c < dh; c++) s += q[qi + c] * k[(e * T + u) * d + hd * dh + c];
              return s / Math.sqrt(dh);
            });
            const max = Math.max(...scores);
            const p = scores.map((s) => Math.exp(s - max));
            const z = p.reduce((a, b) => a + b, 0);
            for (let u = 0; u <= t; u++) for (let c = 0; c < dh; c++) heads[qi + c] += (p[u] / z) * v[(e * T + u) * d + hd * dh + c];
          }
      const attended = linear(heads, `h.${l}.attn.o_proj`, d, d, true);
      x = x.map((xi, i) => xi + attended[i]);
      const hidden = linear(layerNorm(x, `h.${l}.ln_2`), `h.${l}.mlp.fc_in`, d, 4 * d, true).map((u) => 0.5 * u * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (u + 0.044715 * u ** 3))));
      const out = linear(hidden, `h.${l}.mlp.fc_out`, 4 * d, d, true);
      x = x.map((xi, i) => xi + out[i]);
    }
    const logits = linear(layerNorm(x, "ln_f"), "lm_head", d, V, false);
    return crossEntropy64(logits, batch.y, N, V, () => 1 / T, n);
  };
}

/** (Hv)ⱼ = ∂²L/∂v∂eⱼ by second central differences of the float64 loss (step h on both; v of unit norm). */
function hvp64(loss: Loss64, theta: Float64Array, v: Float64Array, h = 2e-4): Float64Array {
  const vn = Math.hypot(...v);
  const at = (a: number, j: number, b: number) => {
    const t = theta.map((x, i) => x + (a * h * v[i]) / vn);
    t[j] += b * h;
    return loss(t);
  };
  return Float64Array.from(theta, (_, j) => ((at(1, j, 1) - at(1, j, -1) - at(-1, j, 1) + at(-1, j, -1)) / (4 * h * h)) * vn);
}

/** ∇L by central differences of the float64 loss. */
function gradient64(loss: Loss64, theta: Float64Array, h = 1e-6): Float64Array {
  return Float64Array.from(theta, (_, j) => {
    const plus = new Float64Array(theta),
      minus = new Float64Array(theta);
    plus[j] += h;
    minus[j] -= h;
    return (loss(plus) - loss(minus)) / (2 * h);
  });
}

function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let d = 0,
    s = 0;
  for (let i = 0; i < want.length; i++) {
    d += (got[i] - want[i]) ** 2;
    s += want[i] ** 2;
  }
  return Math.sqrt(d / s);
}

describe("attribution: fidelity to the reference methods", function () {
  this.timeout(120_000);
  const train = sampleFashion("train", { n: 60, seed: 1, classes: [0, 1, 7], pool: 7 });
  const test = sampleFashion("test", { n: 6, seed: 2, classes: [0, 1, 7], pool: 7 });
  const model = new LogisticRegression(train.dim, 3);
  const l2 = 1e-2;
  let params: Float64Array;
  let other: Float64Array; // the optimum under another l2: a second ensemble member
  let run: MlpRun;
  // tasks are built when their test runs: the models fit in `before`
  before(async () => {
    params = await fitNewton(model, train, { l2 });
    other = await fitNewton(model, train, { l2: 0.05 });
    run = await trainMlp(attributionMlp(tf, train.dim, 6, 3), train, { epochs: 4, batchSize: 20, lr: 0.01, weightDecay: 1e-3, seed: 3, checkpointEvery: 2 });
  });

  describe("self-influence without the n × n matrix equals the diagonal of the full one", () => {
    const cases: Array<[string, Attributor, () => AttributionTask]> = [
      ["Grad-Dot", new GradDot(), () => ({ model, params, train, test: train, l2 })],
      ["Grad-Cos", new GradDot({ cosine: true }), () => ({ model, params, train, test: train, l2 })],
      ["TracIn-CP", new TracInCP(), () => ({ model: run.model, params: run.params, train, test: train, l2: 1e-3, checkpoints: run.checkpoints })],
      ["exact influence", new ExactInfluence(), () => ({ model, params, train, test: train, l2 })],
      ["CG influence", new CGInfluence({ tol: 1e-12 }), () => ({ model, params, train, test: train, l2 })],
      ["LiSSA (3 chains)", new LiSSAInfluence({ depth: 30, repeats: 3, seed: 4 }), () => ({ model, params, train, test: train, l2 })],
      ["DataInf (per tensor)", new DataInf(), () => ({ model: run.model, params: run.params, train, test: train, l2: 1e-3 })],
      ["TRAK-2 (ridge 0.5)", new TRAK({ projectionDim: 16, seed: 2, ridge: 0.5 }), () => ({ model, params, train, test: train, l2, ensemble: [{ params }, { params: other }] })],
    ];
    for (const [name, method, taskOf] of cases) {
      it(name, async () => {
        const task = taskOf();
        const full = await method.attribute(task);
        const self = await selfInfluence(method, task);
        expect(self.length).to.equal(train.n);
        for (let i = 0; i < train.n; i++) expect(self[i]).to.be.closeTo(full.data[i * train.n + i], 1e-9 * (1 + Math.abs(full.data[i * train.n + i])));
      });
    }
    it("a method without self-influence is refused by code", async () => {
      await expectCodeAsync(
        selfInfluence({ name: "custom", attribute: async () => ({ method: "custom", nTest: 0, nTrain: 0, data: new Float64Array() }) }, { model, params, train, test, l2 }),
        AttributionError,
        "attribution/no-self-influence",
      );
    });
  });

  describe("TRAK", () => {
    const k = 12; // < n = 60: ΦᵀΦ has full rank
    it("with ridge 0 equals the paper's formula φ_tᵀ(ΦᵀΦ)⁻¹φᵢ·(1 − pᵢ) on a full-rank case", async () => {
      const task: AttributionTask = { model, params, train, test, l2, seed: 5 };
      const scores = await new TRAK({ projectionDim: k, seed: 5, ridge: 0 }).attribute(task);
      const projection = { kind: "rademacher" as const, dim: k, seed: 5000 };
      const Phi = (await perExampleGradients(model, params, train, { target: "margin", projection })).data;
      const Psi = (await perExampleGradients(model, params, test, { target: "margin", projection })).data;
      const gram = new Float64Array(k * k);
      for (let i = 0; i < train.n; i++) for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) gram[a * k + b] += Phi[i * k + a] * Phi[i * k + b];
      const inv = inverse(gram, k);
      const q = await outToLoss(model, params, train);
      for (let t = 0; t < test.n; t++)
        for (let i = 0; i < train.n; i++) {
          let s = 0;
          for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) s += Psi[t * k + a] * inv[a * k + b] * Phi[i * k + b];
          const want = s * q[i];
          expect(scores.data[t * train.n + i]).to.be.closeTo(want, 1e-7 * (1 + Math.abs(want)));
        }
    });

    it("combines an ensemble as the TRAK library does: mean of the feature scores times mean of the Q weights", async () => {
      const members = [{ params }, { params: other }];
      const task: AttributionTask = { model, params, train, test, l2, seed: 6, ensemble: members };
      const ridge = 0.1;
      const scores = await new TRAK({ projectionDim: k, seed: 6, ridge }).attribute(task);
      const feature = new Float64Array(test.n * train.n),
        meanQ = new Float64Array(train.n);
      for (const [mi, m] of members.entries()) {
        const projection = { kind: "rademacher" as const, dim: k, seed: 6000 + mi };
        const Phi = (await perExampleGradients(model, m.params, train, { target: "margin", projection })).data;
        const Psi = (await perExampleGradients(model, m.params, test, { target: "margin", projection })).data;
        const gram = new Float64Array(k * k);
        for (let i = 0; i < train.n; i++) for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) gram[a * k + b] += Phi[i * k + a] * Phi[i * k + b];
        for (let a = 0; a < k; a++) gram[a * k + a] += ridge;
        const inv = inverse(gram, k);
        const q = await outToLoss(model, m.params, train);
        for (let i = 0; i < train.n; i++) meanQ[i] += q[i] / 2;
        for (let t = 0; t < test.n; t++)
          for (let i = 0; i < train.n; i++) {
            let s = 0;
            for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) s += Psi[t * k + a] * inv[a * k + b] * Phi[i * k + b];
            feature[t * train.n + i] += s / 2;
          }
      }
      expect(scores.method).to.equal("trak-2");
      for (let t = 0; t < test.n; t++)
        for (let i = 0; i < train.n; i++) {
          const want = feature[t * train.n + i] * meanQ[i];
          expect(scores.data[t * train.n + i]).to.be.closeTo(want, 1e-7 * (1 + Math.abs(want)));
        }
    });

    it("refuses a singular ΦᵀΦ with ridge 0, naming the sizes", async () => {
      const small = { ...train, n: 5, x: train.x.subarray(0, 5 * train.dim), y: train.y.subarray(0, 5) };
      await expectCodeAsync(new TRAK({ projectionDim: k, ridge: 0 }).attribute({ model, params, train: small, test, l2 }), AttributionError, "trak/singular-gram", {
        projectionDim: k,
        nTrain: 5,
        ridge: 0,
      });
    });
  });

  it("LiSSA: the average of independent chains comes closer to exact influence than one chain", async () => {
    const task: AttributionTask = { model, params, train, test, l2, seed: 7 };
    const exact = await new ExactInfluence().attribute(task);
    // short chains on small minibatches: the noise Koh and Liang's repeats average away
    const relErrors = async (repeats: number) => {
      const s = await new LiSSAInfluence({ depth: 100, batchSize: 8, repeats, seed: 7 }).attribute(task);
      return Array.from({ length: test.n }, (_, t) => {
        let d = 0,
          e = 0;
        for (let i = 0; i < train.n; i++) {
          d += (s.data[t * train.n + i] - exact.data[t * train.n + i]) ** 2;
          e += exact.data[t * train.n + i] ** 2;
        }
        return Math.sqrt(d / e);
      }).sort((a, b) => a - b)[Math.floor(test.n / 2)];
    };
    const one = await relErrors(1),
      twenty = await relErrors(20);
    expect(twenty).to.be.below(one / 2);
  });

  it("DataInf groups parameters per tensor: a block's weight and bias are inverted separately", async () => {
    const groups = datainfGroups(model.blocks);
    expect(groups.map((g) => g.name)).to.deep.equal(["dense:weight", "dense:bias"]);
    expect(groups[0].size + groups[1].size).to.equal(model.numParams);
    expect(datainfGroups(model.blocks, "block")).to.have.length(1);
    const task: AttributionTask = { model, params, train, test, l2 };
    const scores = await new DataInf().attribute(task);
    const G = await perExampleGradients(model, params, train),
      V = await perExampleGradients(model, params, test);
    const want = new Float64Array(test.n * train.n);
    for (const g of groups) {
      const rows = (S: typeof G) => {
        const o = new Float64Array(S.n * g.size);
        for (let i = 0; i < S.n; i++) o.set(S.data.subarray(i * S.dim + g.offset, i * S.dim + g.offset + g.size), i * g.size);
        return o;
      };
      const gr = rows(G),
        vr = rows(V);
      const lambda = datainfLambda(gr, train.n, g.size);
      for (let t = 0; t < test.n; t++) {
        const h = datainfInverseHvp(gr, train.n, g.size, vr.subarray(t * g.size, (t + 1) * g.size), lambda);
        for (let i = 0; i < train.n; i++) {
          let s = 0;
          for (let j = 0; j < g.size; j++) s += h[j] * gr[i * g.size + j];
          want[t * train.n + i] += s;
        }
      }
    }
    for (let i = 0; i < want.length; i++) expect(scores.data[i]).to.be.closeTo(want[i], 1e-9 * (1 + Math.abs(want[i])));
    const byBlock = await new DataInf({ grouping: "block" }).attribute(task);
    expect(Array.from(byBlock.data).some((v, i) => Math.abs(v - want[i]) > 1e-6 * (1 + Math.abs(want[i])))).to.equal(true);
  });

  it("DataInf's unitGradients variant is the same per-layer solve on every train and test gradient scaled to unit length; off when absent", async () => {
    const task: AttributionTask = { model, params, train, test, l2 };
    const unit = (S: Awaited<ReturnType<typeof perExampleGradients>>) => {
      const data = new Float64Array(S.data);
      for (let i = 0; i < S.n; i++) {
        const row = data.subarray(i * S.dim, (i + 1) * S.dim);
        const norm = Math.hypot(...row);
        for (let j = 0; j < S.dim; j++) row[j] /= norm;
      }
      return { ...S, data };
    };
    const G = await perExampleGradients(model, params, train),
      V = await perExampleGradients(model, params, test);
    const groups = datainfGroups(model.blocks);
    const want = layerwiseInfluence(unit(G), unit(V), "datainf", { groups }).data;
    const scores = await new DataInf({ unitGradients: true }).attribute(task);
    for (let i = 0; i < want.length; i++) expect(scores.data[i]).to.be.closeTo(want[i], 1e-9 * (1 + Math.abs(want[i])));
    const raw = layerwiseInfluence(G, V, "datainf", { groups }).data;
    expect((await new DataInf().attribute(task)).data).to.deep.equal(raw);
    // not a rescaling per test point: the variant reorders the training examples
    const order = (d: Float64Array) => Array.from(d.subarray(0, train.n).keys()).sort((a, b) => d[b] - d[a]);
    expect(order(scores.data)).to.not.deep.equal(order(raw));
  });

  it("DataInf's models variant is the mean of DataInf at each of the ensemble's first models; the task's own model when absent; refused when the ensemble is short", async () => {
    // two more models of the same data: the trained parameters moved along a fixed pattern
    const moved = (scale: number) => params.map((v, i) => v + scale * Math.sin(i + 1));
    const ensemble = [{ params }, { params: moved(0.05) }, { params: moved(-0.08) }];
    const task: AttributionTask = { model, params, train, test, l2, ensemble };
    const at = async (p: Float64Array) => (await new DataInf().attribute({ model, params: p, train, test, l2 })).data;
    const [first, second] = [await at(params), await at(ensemble[1].params)];
    const averaged = (await new DataInf({ models: 2 }).attribute(task)).data;
    for (let i = 0; i < averaged.length; i++) expect(averaged[i]).to.be.closeTo((first[i] + second[i]) / 2, 1e-12 * (1 + Math.abs(first[i]) + Math.abs(second[i])));
    expect(Array.from(averaged).some((v, i) => Math.abs(v - first[i]) > 1e-6 * (1 + Math.abs(first[i])))).to.equal(true);
    // one model: the task's own parameters, bit for bit, whatever the ensemble holds
    expect((await new DataInf({ models: 1 }).attribute(task)).data).to.deep.equal(first);
    expect((await new DataInf().attribute(task)).data).to.deep.equal(first);
    // self-influence averages the same way
    const self = async (p: Float64Array) => new DataInf().selfInfluence({ model, params: p, train, test: train, l2 });
    const [s0, s1, s2] = [await self(params), await self(ensemble[1].params), await self(ensemble[2].params)];
    const selfMean = await new DataInf({ models: 3 }).selfInfluence({ ...task, test: train });
    for (let i = 0; i < selfMean.length; i++) expect(selfMean[i]).to.be.closeTo((s0[i] + s1[i] + s2[i]) / 3, 1e-12 * (1 + Math.abs(s0[i])));
    // more models than the ensemble holds, or none given: refused before any gradient
    const store = new GradientStore(mkdtempSync(join(tmpdir(), "gstore-")));
    await expectCodeAsync(new DataInf({ models: 4 }).attribute({ ...task, gradients: store }), AttributionError, "datainf/ensemble-too-small", { models: 4, ensemble: 3 });
    await expectCodeAsync(new DataInf({ models: 2 }).attribute({ model, params, train, test, l2, gradients: store }), AttributionError, "datainf/ensemble-too-small", { models: 2, ensemble: 0 });
    expect(store.misses + store.hits).to.equal(0);
    for (const bad of [0, -1, 1.5, Number.NaN]) expectCode(() => new DataInf({ models: bad }), AttributionError, "datainf/bad-models", { models: bad });
  });
});

describe("attribution: exact Hessian-vector products of Model Factory models, against float64", function () {
  this.timeout(120_000);
  const train = sampleFashion("train", { n: 40, seed: 1, classes: [0, 1, 7], pool: 7 });
  const test = sampleFashion("test", { n: 4, seed: 2, classes: [0, 1, 7], pool: 7 });
  const unitVectors = (p: number, seed: number, count: number) => {
    const r = rng(seed);
    return Array.from({ length: count }, () => {
      const v = Float64Array.from({ length: p }, () => r.normal());
      const vn = Math.hypot(...v);
      return v.map((x) => x / vn);
    });
  };
  let mlp: MlpRun;
  let mlpLoss: Loss64;
  before(async () => {
    mlp = await trainMlp(attributionMlp(tf, train.dim, 6, 3), train, { epochs: 20, batchSize: 10, lr: 0.02, weightDecay: 0, seed: 3 });
    mlpLoss = mlpLoss64(mlp.model.blocks, train);
  });

  it("the Factory MLP's product is the float64 one to float32 rounding (relative error < 1e-5)", async () => {
    expect(mlpLoss(mlp.params)).to.be.closeTo((await mlp.model.evaluate(mlp.params, train)).reduce((a, b) => a + b, 0) / train.n, 1e-5);
    for (const v of unitVectors(mlp.model.numParams, 5, 3)) {
      const want = hvp64(mlpLoss, mlp.params, v);
      expect(relativeError(await mlp.model.hvp(mlp.params, train, v), want)).to.be.below(1e-5);
    }
  });

  it("the LoRA GPT's product (layer norm, attention softmax, GELU on the path) is the float64 one to float32 rounding", async () => {
    const config: GptConfig = { vocabSize: 11, blockSize: 6, nLayer: 2, nHead: 2, nEmbd: 8 };
    const gpt = createGpt(tf, config);
    // weights far from GPT-2's small initialisation, so every nonlinearity carries curvature
    const r = rng(21);
    const base: WeightMap = Object.fromEntries(
      Object.entries(gpt.init(4)).map(([k, t]) => [
        k,
        tf.tensor(
          Array.from({ length: t.size }, () => (k.includes(".ln_") || k.startsWith("ln_") ? (k.endsWith(".weight") ? 1 : 0) : 0) + 0.4 * r.normal()),
          t.shape,
        ),
      ]),
    );
    const adapter = initLora(gpt, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["q_proj", "v_proj", "fc_in", "lm_head"] }), 5);
    for (const k of Object.keys(adapter.tensors))
      if (roleOf(k) === "lora_B")
        adapter.tensors[k] = tf.tensor(
          Array.from({ length: adapter.tensors[k].size }, () => 0.4 * r.normal()),
          adapter.tensors[k].shape,
        );
    const weights = { ...base, ...adapter.tensors };
    const fm = new FactoryModel({ model: gpt, weights, trainable: Object.keys(adapter.tensors), forwardOptions: loraForwardOptions(adapter) });
    const params = await fm.readParams(weights);
    const frozen = Object.fromEntries(Object.entries(await readTensorMap(base)).map(([k, t]) => [k, Float64Array.from(t.data)]));
    const windows = lmBatch(
      Array.from({ length: 18 }, () => r.int(11)),
      Array.from({ length: 18 }, () => r.int(11)),
      3,
      6,
    );
    const loss = gptLoraLoss64(config, frozen, fm.blocks, loraForwardOptions(adapter).lora!.scaling, windows);
    expect(loss(params)).to.be.closeTo((await fm.evaluate(params, windows)).reduce((a, b) => a + b, 0) / windows.n, 1e-5);
    for (const v of unitVectors(fm.numParams, 6, 2)) {
      const want = hvp64(loss, params, v);
      expect(relativeError(await fm.hvp(params, windows, v), want)).to.be.below(1e-5);
    }
  });

  it("CG influence on the Factory MLP equals exact (Cholesky) influence, and both the float64 influence", async () => {
    const l2 = 0.1; // the MLP has directions of negative curvature below 0.01: damped by 0.1 its Hessian is positive definite
    const task: AttributionTask = { model: mlp.model, params: mlp.params, train, test, l2, seed: 1 };
    const exact = await new ExactInfluence().attribute(task);
    const cg = await new CGInfluence({ tol: 1e-10 }).attribute(task);
    expect(relativeError(cg.data, exact.data)).to.be.below(1e-5);
    // float64: the damped Hessian from second differences, inverted by Gauss–Jordan; gradients by first differences
    const p = mlp.model.numParams;
    const H = new Float64Array(p * p);
    for (let j = 0; j < p; j++) {
      const e = new Float64Array(p);
      e[j] = 1;
      H.set(hvp64(mlpLoss, mlp.params, e), j * p);
      H[j * p + j] += l2;
    }
    const inv = inverse(H, p);
    const grads = (batch: Batch) => Array.from({ length: batch.n }, (_, i) => gradient64(mlpLoss64(mlp.model.blocks, subsetOf(batch, i)), mlp.params));
    const G = grads(train),
      V = grads(test);
    const want = new Float64Array(test.n * train.n);
    for (let t = 0; t < test.n; t++) {
      const x = matmul64(V[t], inv, 1, p, p);
      for (let i = 0; i < train.n; i++) for (let j = 0; j < p; j++) want[t * train.n + i] += x[j] * G[i][j];
    }
    expect(relativeError(cg.data, want)).to.be.below(1e-5);
    expect(relativeError(exact.data, want)).to.be.below(1e-5);
  });
});

function subsetOf(batch: Batch, i: number): Batch {
  return { n: 1, dim: batch.dim, x: batch.x.subarray(i * batch.dim, (i + 1) * batch.dim), y: batch.y.subarray(i, i + 1) };
}
