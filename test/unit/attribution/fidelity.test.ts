import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { attributionMlp, type MlpRun, trainMlp } from "../../../lib/attribution/factory-train.js";
import { sampleFashion } from "../../../lib/attribution/fmnist-features.js";
import { perExampleGradients } from "../../../lib/attribution/gradients.js";
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
  outToLoss,
  selfInfluence,
  TRAK,
  TracInCP,
} from "../../../lib/attribution/methods/index.js";
import { LogisticRegression } from "../../../lib/attribution/model.js";
import { fitNewton } from "../../../lib/attribution/retrain.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCodeAsync } from "../expect-code.js";

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
});
