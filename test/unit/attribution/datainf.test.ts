import { expect } from "chai";
import { AttributionError } from "../../../lib/attribution/errors.js";
import { lmAttribution } from "../../../lib/attribution/experiments/index.js";
import type { GradientSet } from "../../../lib/attribution/gradients.js";
import {
  DATAINF_LAMBDA_FACTOR,
  DataInf,
  datainfInverseHvp,
  datainfLambda,
  datainfSelfInfluence,
  layerExactInverseHvp,
  layerLissaInverseHvp,
  layerwiseInfluence,
} from "../../../lib/attribution/methods/datainf.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";
import { tinyLmParams } from "./fixtures.js";

const set = (rows: number[][], blocks: { name: string; offset: number; size: number }[]): GradientSet => ({
  n: rows.length,
  dim: rows[0].length,
  data: Float64Array.from(rows.flat()),
  blocks,
  target: "loss",
  paramsHash: "0x",
});

describe("attribution: DataInf", () => {
  // Worked by hand: g1 = (1, 0), g2 = (1, 1), v = (1, 2), one layer of d = 2.
  //   λ = 0.1 × mean(‖g‖²/d) = 0.1 × (1/2 + 2/2)/2 = 0.075
  //   g1: g·v = 1, ‖g‖² = 1 → v − g/1.075        = (0.0697674…, 2)
  //   g2: g·v = 3, ‖g‖² = 2 → v − 3g/2.075       = (−0.4457831…, 0.5542169…)
  //   sum / (n λ = 0.15)                          = (−2.5067713…, 17.0281124…)
  //   influence on g1: −2.5067713…;  on g2: 14.5213412…
  const G = [
    [1, 0],
    [1, 1],
  ];
  it("λ_l is 0.1 × the mean squared gradient entry of the layer", () => {
    expect(datainfLambda(Float64Array.from(G.flat()), 2, 2)).to.be.closeTo(0.075, 1e-15);
  });
  it("the closed form equals the hand-checked case", () => {
    const h = datainfInverseHvp(Float64Array.from(G.flat()), 2, 2, Float64Array.from([1, 2]), 0.075);
    expect(h[0]).to.be.closeTo(-2.5067712711310337, 1e-12);
    expect(h[1]).to.be.closeTo(17.028112449799195, 1e-12);
    const { data, lambdas } = layerwiseInfluence(set(G, [{ name: "w", offset: 0, size: 2 }]), set([[1, 2]], [{ name: "w", offset: 0, size: 2 }]), "datainf");
    expect(lambdas.w).to.be.closeTo(0.075, 1e-15);
    expect(data[0]).to.be.closeTo(-2.5067712711310337, 1e-12);
    expect(data[1]).to.be.closeTo(14.521341178668163, 1e-12);
  });
  it("the damping factor is an option: λ_l scales with it, 0.1 when absent, and a factor that is not positive and finite is refused", async () => {
    const blocks = [{ name: "w", offset: 0, size: 2 }];
    expect(datainfLambda(Float64Array.from(G.flat()), 2, 2, 0.4)).to.be.closeTo(0.3, 1e-15);
    const damped = layerwiseInfluence(set(G, blocks), set([[1, 2]], blocks), "datainf", { dampingFactor: 0.4 });
    expect(damped.lambdas.w).to.be.closeTo(0.3, 1e-15);
    // (H + 0.3 I)⁻¹ v by the closed form, dotted with each training gradient
    const h = datainfInverseHvp(Float64Array.from(G.flat()), 2, 2, Float64Array.from([1, 2]), 0.3);
    expect(damped.data[0]).to.be.closeTo(h[0], 1e-12);
    expect(damped.data[1]).to.be.closeTo(h[0] + h[1], 1e-12);
    const paper = layerwiseInfluence(set(G, blocks), set([[1, 2]], blocks), "datainf", { dampingFactor: DATAINF_LAMBDA_FACTOR });
    expect(paper.data).to.deep.equal(layerwiseInfluence(set(G, blocks), set([[1, 2]], blocks), "datainf").data);
    expect(datainfSelfInfluence(set(G, blocks), undefined, 0.4)[0]).to.be.below(datainfSelfInfluence(set(G, blocks))[0]);
    for (const bad of [0, -0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expectCode(() => new DataInf({ dampingFactor: bad }), AttributionError, "datainf/bad-damping-factor", { dampingFactor: bad });
    }
    // the lm experiment refuses it before it loads a model
    await expectCodeAsync(lmAttribution({ ...tinyLmParams, datainfDamping: 0 }), AttributionError, "datainf/bad-damping-factor", { dampingFactor: 0 });
  });
  it("with one training example, Sherman–Morrison makes it exact", () => {
    const g = Float64Array.from([0.3, -1.2, 0.5]);
    const v = Float64Array.from([1, 0.5, -2]);
    const lambda = 0.07;
    const approx = datainfInverseHvp(g, 1, 3, v, lambda);
    const exact = layerExactInverseHvp(g, 1, 3, [v], lambda)[0];
    for (let j = 0; j < 3; j++) expect(approx[j]).to.be.closeTo(exact[j], 1e-12);
  });
  it("layers are handled separately, each with its own λ, and their influences add", () => {
    const rows = [
      [1, 0, 2],
      [1, 1, -1],
    ];
    const blocks = [
      { name: "a", offset: 0, size: 2 },
      { name: "b", offset: 2, size: 1 },
    ];
    const both = layerwiseInfluence(set(rows, blocks), set([[1, 2, 3]], blocks), "datainf");
    const a = layerwiseInfluence(
      set(
        rows.map((r) => r.slice(0, 2)),
        [blocks[0]],
      ),
      set([[1, 2]], [blocks[0]]),
      "datainf",
    );
    const b = layerwiseInfluence(
      set(
        rows.map((r) => r.slice(2)),
        [{ name: "b", offset: 0, size: 1 }],
      ),
      set([[3]], [{ name: "b", offset: 0, size: 1 }]),
      "datainf",
    );
    expect(both.lambdas.a).to.be.closeTo(0.075, 1e-15);
    expect(both.lambdas.b).to.be.closeTo((0.1 * (4 + 1)) / 2, 1e-15);
    for (let i = 0; i < 2; i++) expect(both.data[i]).to.be.closeTo(a.data[i] + b.data[i], 1e-12);
  });
  it("LiSSA on the same damped layer Hessian converges to the exact solve", () => {
    const rows = [
      [1, 0],
      [1, 1],
      [0.5, -0.3],
    ];
    const blocks = [{ name: "w", offset: 0, size: 2 }];
    const ex = layerwiseInfluence(set(rows, blocks), set([[1, 2]], blocks), "exact");
    const li = layerwiseInfluence(set(rows, blocks), set([[1, 2]], blocks), "lissa", { lissaIterations: 2000 });
    for (let i = 0; i < 3; i++) expect(li.data[i]).to.be.closeTo(ex.data[i], 1e-6 * (1 + Math.abs(ex.data[i])));
  });

  it("per-layer LiSSA refuses a step that makes its series diverge, naming one that converges to the exact solve", () => {
    // (1/n)GᵀG + λI for the hand-checked G has eigenvalues ≈ 0.26 and 1.39: a step of 2 expands the iterate
    const g = Float64Array.from(G.flat()),
      v = Float64Array.from([1, 2]);
    const { fields } = expectCode(() => layerLissaInverseHvp(g, 2, 2, v, 0.075, 50, 2), AttributionError, "datainf/lissa-diverged", { alpha: 2, lambda: 0.075 });
    expect(fields.iteration as number).to.be.below(49);
    const alpha = fields.suggestedAlpha as number;
    expect(alpha).to.equal(Number((1 / (0.075 + 1.5)).toPrecision(2)));
    const [exact] = layerExactInverseHvp(g, 2, 2, [v], 0.075);
    const h = layerLissaInverseHvp(g, 2, 2, v, 0.075, 200, alpha);
    for (let j = 0; j < 2; j++) expect(h[j]).to.be.closeTo(exact[j], 1e-9 * Math.abs(exact[j]));
  });
});
