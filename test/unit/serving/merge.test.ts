import { join } from "node:path";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { rng } from "../../../lib/random.js";
import { AdapterStore, applyDelta, combineAdapters, combineTensors, deltaOf, type HostAdapter, magnitudePrune, majoritySignMask, writeHostAdapter } from "../../../lib/serving/index.js";
import { readTensorMap } from "../../../lib/tf/index.js";
import { expectCode } from "../expect-code.js";
import { generatedAdapters, tinyBase } from "./fixtures.js";

const base = await tinyBase();
const { root, dirs } = generatedAdapters(base.info, 4, [2]); // all rank 2
const store = new AdapterStore(base.info);
for (const [i, d] of dirs.entries()) store.register(`a${i}`, d);
const host = (i: number): HostAdapter => store.read(`a${i}`);
const f = (xs: number[]) => Float32Array.from(xs);
const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `entry ${i}`).to.be.lessThan(tol);
};

describe("OpenLoRA merging (PEFT add_weighted_adapter semantics)", () => {
  it("magnitude pruning keeps the top density share by |value|", () => {
    expect([...magnitudePrune(f([0.1, -3, 2, -0.5]), 0.5)]).to.deep.equal([0, -3, 2, 0]);
    expect([...magnitudePrune(f([1, 2, 3]), 0.34)]).to.deep.equal([0, 0, 3]); // ⌊0.34·3⌋ = 1 kept
  });

  it("elects signs by total or by frequency, and the TIES disjoint mean averages only agreeing entries", () => {
    const ts = [f([1, -1, 2]), f([-3, -1, 1]), f([1, 0, 1])];
    expect(majoritySignMask(ts, "total").map((m) => m.map(Number))).to.deep.equal([
      [0, 1, 1],
      [1, 1, 1],
      [0, 0, 1],
    ]);
    expect(majoritySignMask(ts, "frequency").map((m) => m.map(Number))).to.deep.equal([
      [1, 1, 1],
      [0, 1, 1],
      [1, 0, 1],
    ]);
    const merged = combineTensors(ts, [1, 1, 1], { combinationType: "ties", density: 1 }, rng(1));
    close(merged, [-3, -1, 4 / 3]); // entry 0: only −3 agrees with the total's sign; entry 1: two agree
  });

  it("DARE at density 1 is linear; at density 0.5 it keeps about half the entries, each doubled", () => {
    const t = f(Array.from({ length: 2000 }, (_, i) => 1 + (i % 7)));
    close(
      combineTensors([t], [0.5], { combinationType: "dare_linear", density: 1 }, rng(1)),
      t.map((x) => 0.5 * x),
    );
    const half = combineTensors([t], [1], { combinationType: "dare_linear", density: 0.5 }, rng(2));
    const kept = [...half].filter((x) => x !== 0);
    expect(kept.length).to.be.within(900, 1100);
    half.forEach((x, i) => {
      if (x !== 0) expect(x).to.equal(2 * t[i]);
    });
  });

  it("one adapter with weight 1 combines to itself: the same ΔW = s·B·A per layer, at scaling 1", () => {
    const a = host(1);
    const c = combineAdapters("self", [a], [1], { combinationType: "ties", density: 0.3 }); // one adapter: linear, as PEFT
    expect(c.scaling).to.equal(1);
    for (const m of a.modules) close(deltaOf(c, m.name)!, deltaOf(a, m.name)!);
  });

  it("linear weights A by sign·√|w·s| and B by √|w·s|, so a negative weight subtracts the adapter", () => {
    const [a0, a1] = [host(0), host(3)]; // same targets (q_proj, v_proj), rank 2
    const c = combineAdapters("mix", [a0, a1], [0.7, -0.4], { combinationType: "linear" });
    const m = a0.modules[0];
    const wa = [Math.sqrt(0.7 * a0.scaling), -Math.sqrt(0.4 * a1.scaling)];
    const wb = [Math.sqrt(0.7 * a0.scaling), Math.sqrt(0.4 * a1.scaling)];
    close(
      c.modules[0].a,
      m.a.map((x, i) => wa[0] * x + wa[1] * a1.modules[0].a[i]),
    );
    close(
      c.modules[0].b,
      m.b.map((x, i) => wb[0] * x + wb[1] * a1.modules[0].b[i]),
    );
    expect(c.config.targetModules).to.have.members(["q_proj", "v_proj"]);
  });

  it("refuses mixed ranks, a missing density and unequal weight lists, by code", () => {
    const { dirs: r4 } = generatedAdapters(base.info, 1, [4]);
    const s = new AdapterStore(base.info);
    s.register("r4", r4[0]);
    expectCode(() => combineAdapters("x", [host(0), s.read("r4")], [1, 1], { combinationType: "linear" }), LabError, "merge/rank-mismatch");
    expectCode(() => combineAdapters("x", [host(0), host(1)], [1, 1], { combinationType: "ties" }), LabError, "merge/bad-density");
    expectCode(() => combineAdapters("x", [host(0), host(1)], [1], { combinationType: "linear" }), LabError, "merge/weights-length");
  });

  it("a combined adapter is written as PEFT files the store serves, and merge then unmerge gives back the base", async () => {
    const c = combineAdapters("combo", [host(0), host(1), host(2)], [1, 0.5, 0.25], { combinationType: "dare_ties", density: 0.5, seed: 3 });
    const dir = join(root, "combo");
    writeHostAdapter(dir, c);
    store.register("combo", dir);
    const back = store.read("combo");
    expect(back.modules.map((m) => m.name)).to.have.members(c.modules.map((m) => m.name));
    const w0 = Object.fromEntries(Object.entries(await readTensorMap(base.weights)).map(([k, v]) => [k, v.data]));
    const merged = applyDelta(w0, base.model.linearModules, back, 1);
    expect(merged["h.0.attn.q_proj.weight"]).to.not.deep.equal(w0["h.0.attn.q_proj.weight"]);
    const restored = applyDelta(merged, base.model.linearModules, back, -1);
    for (const k of Object.keys(w0)) close(restored[k], w0[k], 1e-6);
  });
});
