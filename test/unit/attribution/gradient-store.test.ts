import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HashMismatchError } from "../../../lib/attribution/errors.js";
import { logregExperiment } from "../../../lib/attribution/experiments/logreg-fmnist.js";
import { FactoryModel } from "../../../lib/attribution/factory-model.js";
import { GradientStore, perExampleGradients } from "../../../lib/attribution/gradients.js";
import { DataInf, GradDot, TracInCP } from "../../../lib/attribution/methods/index.js";
import { LogisticRegression, type TraceableModel } from "../../../lib/attribution/model.js";
import { hashParams } from "../../../lib/attribution/retrain.js";
import { createMlp, initLora, loraConfig, loraForwardOptions } from "../../../lib/intelligence/index.js";
import { initTf } from "../../../lib/tf/index.js";
import { expectCodeAsync } from "../expect-code.js";
import { randomBatch, randomParams } from "./fixtures.js";

const { tf } = await initTf({ quiet: true });

/** Counts traced passes (the only way gradients are computed) without changing what they return. */
function counting<M extends TraceableModel>(model: M): M & { traces: number } {
  const m = model as M & { traces: number };
  m.traces = 0;
  const trace = model.trace.bind(model);
  m.trace = (params, batch, target) => {
    m.traces++;
    return trace(params, batch, target);
  };
  return m;
}

describe("attribution: on-disk gradient store", () => {
  it("the second use reads the stored gradients instead of recomputing them, bit for bit", async () => {
    const model = counting(new LogisticRegression(6, 4));
    const params = randomParams(model, 1);
    const batch = randomBatch(7, 6, 4, 2);
    const store = new GradientStore(mkdtempSync(join(tmpdir(), "gstore-")));
    const first = await store.get(model, params, batch);
    const traced = model.traces;
    expect(traced).to.be.greaterThan(0);
    expect([store.hits, store.misses]).to.deep.equal([0, 1]);
    const second = await store.get(model, params, batch);
    expect(model.traces).to.equal(traced); // no pass at all: read from disk
    expect([store.hits, store.misses]).to.deep.equal([1, 1]);
    expect(second.data).to.deep.equal(first.data);
    expect(second.data).to.deep.equal((await perExampleGradients(model, params, batch)).data);
    // another process opening the same folder also hits
    const again = new GradientStore(store.dir);
    await again.get(model, params, batch);
    expect([again.hits, again.misses]).to.deep.equal([1, 0]);
  });

  it("a method run twice over a store computes its gradients once and scores identically", async () => {
    const model = counting(new LogisticRegression(6, 4));
    const params = randomParams(model, 3);
    const task = { model, params, train: randomBatch(9, 6, 4, 4), test: randomBatch(3, 6, 4, 5), l2: 1e-3, gradients: new GradientStore(mkdtempSync(join(tmpdir(), "gstore-"))) };
    const a = await new GradDot().attribute(task);
    const tracedOnce = model.traces;
    const b = await new GradDot().attribute(task);
    const c = await new DataInf().attribute(task); // same (params, train) and (params, test) sets
    expect(model.traces).to.equal(tracedOnce);
    expect(task.gradients.misses).to.equal(2);
    expect(task.gradients.hits).to.equal(4);
    expect(b.data).to.deep.equal(a.data);
    expect(c.data).to.deep.equal((await new DataInf().attribute({ ...task, gradients: undefined })).data);
  });

  it("keys differ by parameters, target, projection and the frozen base of a LoRA model", async () => {
    // the Factory MLP with LoRA on fc1 and head, on two different frozen bases
    const mlp = createMlp(tf, { inputSize: 6, hidden: [5], numClasses: 4 });
    const loraOn = (baseSeed: number) => {
      const base = mlp.init(baseSeed);
      const adapter = initLora(mlp, base, loraConfig({ r: 2, loraAlpha: 4, targetModules: ["fc1", "head"] }), 1);
      return new FactoryModel({ model: mlp, weights: { ...base, ...adapter.tensors }, trainable: Object.keys(adapter.tensors), forwardOptions: loraForwardOptions(adapter) });
    };
    const lora1 = loraOn(1);
    const lora2 = loraOn(2);
    const p = randomParams(lora1, 7);
    const batch = randomBatch(4, 6, 4, 8);
    const store = new GradientStore(mkdtempSync(join(tmpdir(), "gstore-")));
    const keys = new Set([
      await store.keyOf(lora1, p, batch),
      await store.keyOf(lora2, p, batch),
      await store.keyOf(lora1, randomParams(lora1, 9), batch),
      await store.keyOf(lora1, p, batch, { target: "margin" }),
      await store.keyOf(lora1, p, batch, { projection: { kind: "gaussian", dim: 4, seed: 1 } }),
      await store.keyOf(lora1, p, randomBatch(4, 6, 4, 9)),
    ]);
    expect(keys.size).to.equal(6);
    // TracIn-CP over two checkpoints stores one set per (checkpoint, split)
    const m = counting(new LogisticRegression(6, 4));
    const cps = [1, 2].map((s) => {
      const params = randomParams(m, 20 + s);
      return { step: s, lr: 0.1, params, hash: hashParams(params) };
    });
    const task = {
      model: m,
      params: cps[1].params,
      train: randomBatch(5, 6, 4, 10),
      test: randomBatch(2, 6, 4, 11),
      l2: 0,
      checkpoints: cps,
      gradients: new GradientStore(mkdtempSync(join(tmpdir(), "gstore-"))),
    };
    const s1 = await new TracInCP().attribute(task);
    const s2 = await new TracInCP().attribute(task);
    expect(s2.data).to.deep.equal(s1.data);
    expect([task.gradients.misses, task.gradients.hits]).to.deep.equal([4, 4]);
  });

  it("a stored file altered on disk is refused, not used", async () => {
    const model = new LogisticRegression(6, 4);
    const params = randomParams(model, 1);
    const batch = randomBatch(5, 6, 4, 2);
    const store = new GradientStore(mkdtempSync(join(tmpdir(), "gstore-")));
    await store.get(model, params, batch);
    const file = join(store.dir, readdirSync(store.dir).find((f) => f.endsWith(".olgrad"))!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 5] ^= 0x01;
    writeFileSync(file, bytes);
    await expectCodeAsync(store.get(model, params, batch), HashMismatchError, "gradients/hash-mismatch");
    expect(store.hits).to.equal(0);
  });
});

describe("attribution: experiments read their gradients from the store", () => {
  it("a second run of the same seeded experiment computes no gradient set and reproduces every metric", async function () {
    this.timeout(60_000);
    const dir = mkdtempSync(join(tmpdir(), "gstore-exp-"));
    const params = {
      seed: 3,
      nTrain: 60,
      nTest: 4,
      pool: 7,
      l2: 0.01,
      ldsSubsets: 4,
      trakModels: 2,
      trakDim: 16,
      looExamples: 4,
      counterfactualK: 3,
      counterfactualTests: 1,
      lissaDepth: 10,
      lissaRepeats: 2,
      trakRidge: "objective" as const,
      gradientStore: dir,
    };
    const first = await logregExperiment(params);
    const second = await logregExperiment(params);
    expect(first.gradient_sets_computed).to.be.greaterThan(0);
    expect(second.gradient_sets_computed).to.equal(0);
    expect(second.gradient_sets_read).to.equal(first.gradient_sets_computed + first.gradient_sets_read);
    const stable = (m: Record<string, number>) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.includes("seconds") && !k.startsWith("gradient_sets")));
    expect(stable(second)).to.deep.equal(stable(first));
  });
});
