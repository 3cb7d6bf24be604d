import { expect } from "chai";
import { loraWeightMap } from "../../../lib/intelligence/lora/index.js";
import { linear } from "../../../lib/intelligence/models/ops.js";
import type { Tensor } from "../../../lib/intelligence/models/types.js";
import { createEngine, type DecodeEngine, decodeStep, dense, disposeCache, prefill, STRATEGIES, servingLayers } from "../../../lib/serving/index.js";
import { generatedAdapters, servingStack, tf, tinyBase } from "./fixtures.js";

const base = await tinyBase();
const { dirs } = generatedAdapters(base.info, 6);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("OpenLoRA KV-cached decode", () => {
  it("prefill and cached steps give model.forward's logits at every position (base and with an adapter)", () => {
    const { cache } = servingStack(base.info, dirs);
    const resident = cache.acquire("a1").resident;
    const seq = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    for (const withAdapter of [false, true]) {
      const weights = withAdapter ? loraWeightMap(base.weights, resident.tensors) : base.weights;
      const opts = withAdapter ? { lora: { scaling: resident.scaling } } : {};
      const fn = (name: string, x: Tensor) => linear(tf, weights, name, x, opts);
      const full = base.model.forward(weights, tf.tensor2d([seq], [1, seq.length], "int32"), opts).dataSync() as Float32Array;
      const V = 13;
      let { logits, cache: kv } = prefill(tf, base.model.config, weights, [seq.slice(0, 4)], fn);
      expect(maxDiff(logits.dataSync(), full.slice(3 * V, 4 * V))).to.be.lessThan(1e-5);
      for (let t = 4; t < seq.length; t++) {
        const r = decodeStep(tf, base.model.config, weights, kv, [seq[t]], fn);
        kv = r.cache;
        expect(maxDiff(r.logits.dataSync(), full.slice(t * V, (t + 1) * V)), `position ${t}`).to.be.lessThan(1e-5);
      }
      disposeCache(kv);
    }
  });

  it("in the serving layout (Wᵀ, slot-major cache), a greedy continuation matches model.forward on the growing sequence", () => {
    const layers = servingLayers(tf, base.weights, base.model.linearModules);
    const fn = (name: string, x: Tensor) => dense(tf, layers[name], x);
    const seq = [2, 7, 1, 8];
    let { logits, cache: kv } = prefill(tf, base.model.config, base.weights, [seq, [5, 5]], fn); // two rows, different lengths
    for (let t = 0; t < 6; t++) {
      const rows = logits.arraySync() as number[][];
      const full = base.model.forward(base.weights, tf.tensor2d([seq], [1, seq.length], "int32")).arraySync() as number[][][];
      expect(maxDiff(rows[0], full[0][seq.length - 1]), `step ${t}`).to.be.lessThan(1e-5);
      const next = rows.map((r) => r.indexOf(Math.max(...r)));
      seq.push(next[0]);
      const r = decodeStep(tf, base.model.config, base.weights, kv, next, fn);
      kv = r.cache;
      logits = r.logits;
    }
    disposeCache(kv);
  });
});

describe("OpenLoRA strategies", () => {
  it("batched, merge-per-request and unmerged-loop give the same logits (max error <= 1e-5) on a mixed-rank, mixed-adapter batch with joins and leaves", async () => {
    const { cache, bank } = servingStack(base.info, dirs);
    const prompts = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [1], [2, 2, 2], [3, 4, 5, 6, 7]];
    const adapters = ["a0", "a1", "a2", "a0", "a3", "a5"]; // ranks 2, 4, 1, 2, 2, 1; a0 repeated
    const layers = servingLayers(tf, base.weights, base.model.linearModules);
    const engines = STRATEGIES.map((s) => createEngine(s, tf, base.model.config, base.weights, layers, bank));
    const residents = adapters.map((a) => cache.acquire(a).resident);
    const traces: Float32Array[][] = engines.map(() => []);
    const run = async (e: DecodeEngine, k: number) => {
      const record = (m: Map<string, Float32Array>) => {
        for (const id of [...m.keys()].sort()) traces[k].push(m.get(id)!);
      };
      const tokens = new Map<string, number>();
      const greedy = (m: Map<string, Float32Array>) => {
        for (const [id, l] of m) tokens.set(id, l.indexOf(Math.max(...l)));
        record(m);
      };
      greedy(await e.admit(prompts.slice(0, 4).map((p, i) => ({ id: `s${i}`, prompt: p, adapter: residents[i] }))));
      greedy(await e.step(tokens));
      e.release(["s1"]);
      greedy(await e.admit(prompts.slice(4).map((p, i) => ({ id: `s${i + 4}`, prompt: p, adapter: residents[i + 4] }))));
      for (let t = 0; t < 3; t++) {
        greedy(await e.step(new Map([...tokens].filter(([id]) => e.running().includes(id)))));
        if (t === 0) e.release(["s0", "s5"]);
      }
    };
    for (const [k, e] of engines.entries()) await run(e, k);
    expect(traces[0].length).to.equal(traces[1].length).and.to.equal(traces[2].length).and.to.be.greaterThan(15);
    for (let k = 1; k < engines.length; k++) {
      const worst = Math.max(...traces[0].map((row, i) => maxDiff(row, traces[k][i])));
      expect(worst, `${engines[k].strategy} vs batched`).to.be.lessThanOrEqual(1e-5);
    }
    // the adapters matter: logits differ from the base model's
    const baseLogits = prefill(tf, base.model.config, base.weights, [prompts[1]], (n, x) => linear(tf, base.weights, n, x)).logits.dataSync();
    expect(maxDiff(baseLogits, traces[0][1])).to.be.greaterThan(1e-3);
    for (const e of engines) e.dispose();
  });
});
