/**
 * Attribution layer throughput on this machine (pure Float64 JavaScript, one thread):
 *  - per-example gradients/s, batched (one traced pass + outer products) vs one backward pass per
 *    example. In single-threaded Float64 JavaScript both do the same outer-product work, so the
 *    ratio stays near 1 here; batching pays where the matmuls dominate (wide layers, GPU backends);
 *  - scored train × test pairs/s for Grad-Dot, DataInf, exact influence and TRAK;
 *  - memory of a stored gradient set with and without projection;
 *  - DataInf vs LiSSA on the same per-layer damped Hessian: time, and LiSSA's time at DataInf's quality.
 */
import { printTable, timeMs } from "../lib/bench/report.js";
import { sampleFashion } from "../lib/attribution/data.js";
import { LogisticRegression, MLP, batchGradient, subset } from "../lib/attribution/model.js";
import { fitNewton, trainModel } from "../lib/attribution/train.js";
import { perExampleGradients } from "../lib/attribution/gradients.js";
import { DataInf, ExactInfluence, GradDot, TRAK, layerwiseInfluence } from "../lib/attribution/methods/index.js";
import { loraDatanetSetup } from "../lib/attribution/experiments.js";
import { pearson } from "../lib/attribution/evaluation/stats.js";

const quick = process.argv.includes("--quick");
const seconds = (f: () => unknown) => { const t0 = performance.now(); f(); return (performance.now() - t0) / 1000; };

// 1 · per-example gradients
const n = quick ? 256 : 1024;
const train = sampleFashion("train", { n, seed: 1, pool: 2 });
const mlp = new MLP(train.dim, 64, 10);
const mlpParams = trainModel(mlp, train, { epochs: 2, batchSize: 64, lr: 3e-3, l2: 1e-4, seed: 1 }).params;
// median of repeated runs after a warm-up, so both paths are JIT-compiled
const batched = (await timeMs(() => perExampleGradients(mlp, mlpParams, train), 3)) / 1000;
const loopN = Math.min(n, 256);
const looped = (await timeMs(() => { for (let i = 0; i < loopN; i++) batchGradient(mlp, mlpParams, subset(train, [i])); }, 3)) / 1000;
printTable(`Per-example gradients, MLP ${train.dim}-64-10 (${mlp.numParams} parameters)`, [
  { method: "batched (outer products)", "gradients/s": Math.round(n / batched), "× loop": (n / batched) / (loopN / looped) },
  { method: "one backward pass per example", "gradients/s": Math.round(loopN / looped), "× loop": 1 },
]);

// 2 · scored pairs per second
const lrTrain = sampleFashion("train", { n: quick ? 300 : 1000, seed: 1, pool: 4 });
const lrTest = sampleFashion("test", { n: quick ? 20 : 100, seed: 2, pool: 4 });
const lr = new LogisticRegression(lrTrain.dim, 10);
const lrParams = fitNewton(lr, lrTrain, { l2: 0.01 });
const task = { model: lr, params: lrParams, train: lrTrain, test: lrTest, l2: 0.01, seed: 1 };
const pairs = lrTrain.n * lrTest.n;
printTable(`Scored train × test pairs per second (logistic regression, ${lr.numParams} parameters, ${lrTrain.n} × ${lrTest.n})`,
  [["grad-dot", new GradDot()], ["datainf", new DataInf()], ["influence-exact", new ExactInfluence()], ["trak-1 (k=256)", new TRAK({ projectionDim: 256 })]].map(([name, m]: any) => {
    const s = seconds(() => m.attribute(task));
    return { method: name, seconds: s, "pairs/s": Math.round(pairs / s) };
  }));

// 3 · memory with and without projection
const full = perExampleGradients(mlp, mlpParams, train);
const rows = [{ gradients: "full", "dimension": full.dim, "MiB": full.data.byteLength / 2 ** 20, "× full": 1 }];
for (const k of [2048, 512, 128]) {
  const g = perExampleGradients(mlp, mlpParams, train, { projection: { kind: "rademacher", dim: k, seed: 1 } });
  rows.push({ gradients: `Rademacher k=${k}`, dimension: k, MiB: g.data.byteLength / 2 ** 20, "× full": g.data.byteLength / full.data.byteLength });
}
printTable(`Stored per-example gradients, ${n} examples`, rows);

// 4 · DataInf vs LiSSA at equal quality (LoRA gradients, per-layer damped Gauss–Newton Hessian)
const s = loraDatanetSetup({ seed: 1, pool: 2, hidden: 32, rank: 4, pretrainN: quick ? 1000 : 2000, perDatanet: quick ? 40 : 100, nTest: quick ? 3 : 10, epochs: 15, lr: 0.003, l2: 1e-4, lissaIterations: [] });
const G = perExampleGradients(s.model, s.params, s.train);
const V = perExampleGradients(s.model, s.params, s.test);
const exact = layerwiseInfluence(G, V, "exact").data;
let di!: Float64Array;
const diS = seconds(() => { di = layerwiseInfluence(G, V, "datainf").data; });
const diQ = pearson(di, exact);
const lissaRows: Record<string, string | number>[] = [{ method: "DataInf (closed form)", seconds: diS, "quality (Pearson vs exact)": diQ, "DataInf speed-up": 1 }];
for (const iters of [1, 2, 5, 10, 20]) {
  let li!: Float64Array;
  const t = seconds(() => { li = layerwiseInfluence(G, V, "lissa", { lissaIterations: iters }).data; });
  lissaRows.push({ method: `LiSSA ${iters} iterations`, seconds: t, "quality (Pearson vs exact)": pearson(li, exact), "DataInf speed-up": t / diS });
}
printTable(`DataInf vs LiSSA, LoRA r=4 (${s.model.numParams} parameters, ${G.n} × ${V.n})`, lissaRows);
