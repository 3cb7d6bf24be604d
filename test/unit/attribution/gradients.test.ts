import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { HashMismatchError } from "../../../lib/attribution/errors.js";
import { loadGradients, perExampleGradients, row, saveGradients } from "../../../lib/attribution/gradients.js";
import { type Batch, batchGradient, LogisticRegression, type TraceableModel } from "../../../lib/attribution/model.js";
import { makeProjection, project } from "../../../lib/attribution/projection.js";
import { hashParams } from "../../../lib/attribution/retrain.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";
import { randomBatch, randomParams } from "./fixtures.js";

// the Factory's models (MLP, GPT; LoRA or full) are checked against a per-example tf.grads loop in factory-model.test.ts
const models = (): [string, TraceableModel][] => [["logistic regression", new LogisticRegression(6, 4)]];

describe("attribution: per-example gradients", () => {
  for (const [name, model] of models()) {
    for (const target of ["loss", "margin"] as const) {
      it(`${name} (${target}): batched outer products equal single-example backward passes`, async () => {
        const batch = randomBatch(7, 6, 4, 1);
        const params = randomParams(model, 2);
        const G = await perExampleGradients(model, params, batch, { target, chunk: 3 });
        for (let i = 0; i < batch.n; i++) {
          const one: Batch = { n: 1, dim: 6, x: batch.x.slice(i * 6, i * 6 + 6), y: batch.y.slice(i, i + 1) };
          const single = (await batchGradient(model, params, one, 0, target)).grad;
          const got = row(G, i);
          for (let j = 0; j < model.numParams; j++) expect(got[j]).to.be.closeTo(single[j], 1e-12);
        }
      });
    }
    for (const target of ["loss", "margin"] as const) {
      it(`${name} (${target}): the backward pass matches central finite differences`, async () => {
        const batch = randomBatch(5, 6, 4, 3);
        const params = randomParams(model, 4);
        const { grad } = await batchGradient(model, params, batch, 0.1, target);
        const eps = 1e-6;
        for (let j = 0; j < model.numParams; j += 3) {
          const up = new Float64Array(params);
          up[j] += eps;
          const dn = new Float64Array(params);
          dn[j] -= eps;
          const fd = ((await batchGradient(model, up, batch, 0.1, target)).value - (await batchGradient(model, dn, batch, 0.1, target)).value) / (2 * eps);
          expect(grad[j]).to.be.closeTo(fd, 1e-6);
        }
      });
    }
  }

  it("projections are seeded, and preserve inner products in expectation", async () => {
    const spec = { kind: "gaussian" as const, dim: 2000, seed: 7 };
    const a = makeProjection(50, spec);
    expect(makeProjection(50, spec).matrix).to.deep.equal(a.matrix);
    expect(makeProjection(50, { ...spec, seed: 8 }).matrix).to.not.deep.equal(a.matrix);
    const r = rng(3);
    const g = Float64Array.from({ length: 100 }, () => r.normal());
    for (const kind of ["gaussian", "rademacher"] as const) {
      const P = makeProjection(50, { kind, dim: 2000, seed: 1 });
      const pg = project(g, 2, P);
      const dotOrig = g.subarray(0, 50).reduce((s, v, i) => s + v * g[50 + i], 0);
      const nOrig = g.subarray(0, 50).reduce((s, v) => s + v * v, 0);
      const nProj = pg.subarray(0, 2000).reduce((s, v) => s + v * v, 0);
      const dotProj = pg.subarray(0, 2000).reduce((s, v, i) => s + v * pg[2000 + i], 0);
      expect(nProj / nOrig).to.be.closeTo(1, 0.1);
      expect(dotProj).to.be.closeTo(dotOrig, 0.1 * nOrig);
    }
  });

  it("stored gradients round-trip, and a changed file or checkpoint is refused", async () => {
    const model = new LogisticRegression(6, 4);
    const params = randomParams(model, 2);
    const G = await perExampleGradients(model, params, randomBatch(5, 6, 4, 1), { projection: { kind: "rademacher", dim: 8, seed: 3 } });
    const path = join(mkdtempSync(join(tmpdir(), "grads-")), "train.grad");
    const sha = saveGradients(path, G);
    const back = loadGradients(path, { paramsHash: hashParams(params), payloadSha256: sha });
    expect(back.data).to.deep.equal(G.data);
    expect(back.projection).to.deep.equal({ kind: "rademacher", dim: 8, seed: 3 });
    const other = new Float64Array(params);
    other[0] += 1e-9;
    expectCode(() => loadGradients(path, { paramsHash: hashParams(other) }), HashMismatchError, "gradients/params-mismatch", { path, takenAt: hashParams(params), model: hashParams(other) });
    const bytes = readFileSync(path);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(path, bytes);
    expectCode(() => loadGradients(path), HashMismatchError, "gradients/hash-mismatch", { path, recorded: sha });
  });
});
