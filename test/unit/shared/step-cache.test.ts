import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { fromRoot } from "../../../lib/files.js";
import { cachedStep, codeIdentity, decodeValue, encodeValue, importClosure, resetStepCacheStats, stepCacheMode, stepCacheStats, stepKey } from "../../../lib/step-cache.js";
import { expectCode, expectCodeAsync, refusal } from "../expect-code.js";

describe("step cache (lib/step-cache.ts)", () => {
  const saved = { LAB_CACHE_DIR: process.env.LAB_CACHE_DIR, LAB_STEP_CACHE: process.env.LAB_STEP_CACHE };
  const module = fromRoot("lib", "attribution", "experiments", "logreg-fmnist.ts");
  beforeEach(() => {
    process.env.LAB_CACHE_DIR = mkdtempSync(join(tmpdir(), "lab-step-cache-"));
    delete process.env.LAB_STEP_CACHE;
    resetStepCacheStats();
  });
  after(() => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetStepCacheStats();
  });

  it("keys steps by the canonical JSON of their inputs (RFC 8785): member order and typed arrays do not matter, values JSON cannot hold are refused", () => {
    expect(stepKey({ step: "t/a", module, inputs: { b: 1, a: Float64Array.of(0.1, 2) } })).to.equal(stepKey({ step: "t/a", module, inputs: { a: [0.1, 2], b: 1 } }));
    expectCode(() => stepKey({ step: "t/a", module, inputs: { lr: Number.NaN } }), LabError, "cache/bad-input", { path: "inputs.lr", got: "NaN" });
    expectCode(() => stepKey({ step: "t/a", module, inputs: { when: new Date(0) } }), LabError, "cache/bad-input", { path: "inputs.when" });
  });

  it("keeps typed arrays bit for bit through the cache's encoding", () => {
    const value = { outputs: [Float64Array.of(Math.PI, -0, 5e-324, Number.NaN)], ids: Int32Array.of(-1, 7), loss: Number.POSITIVE_INFINITY };
    const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(value)))) as typeof value;
    expect(back.outputs[0]).to.be.instanceOf(Float64Array);
    expect(Buffer.from(back.outputs[0].buffer).equals(Buffer.from(value.outputs[0].buffer))).to.equal(true);
    expect(Array.from(back.ids)).to.deep.equal([-1, 7]);
    expect(back.loss).to.equal(Number.POSITIVE_INFINITY);
  });

  it("keys a step by the source of its import closure and by its inputs", () => {
    const closure = importClosure(module).map((f) => f.slice(fromRoot().length + 1));
    expect(closure).to.include.members(["lib/attribution/experiments/logreg-fmnist.ts", "lib/attribution/retrain.ts", "lib/attribution/evaluation/lds.ts", "lib/random.ts", "lib/step-cache.ts"]);
    expect(Object.keys(codeIdentity(module))).to.include("package-lock.json");
    expect(codeIdentity(fromRoot("dist", "lib", "attribution", "experiments", "logreg-fmnist.js")), "the build maps to its lib/ source").to.deep.equal(codeIdentity(module));
    const key = stepKey({ step: "t/a", module, inputs: { seed: 1, n: 2 } });
    expect(stepKey({ step: "t/a", module, inputs: { n: 2, seed: 1 } })).to.equal(key);
    expect(stepKey({ step: "t/a", module, inputs: { seed: 2, n: 2 } })).not.to.equal(key);
    expect(stepKey({ step: "t/b", module, inputs: { seed: 1, n: 2 } })).not.to.equal(key);
  });

  it("computes a step once and reads it back; bypassing, recomputes and shows a cached value that differs", async () => {
    let runs = 0;
    const step = () => cachedStep({ step: "test/square", module, inputs: { x: 3 } }, () => Float64Array.of(++runs * 9));
    expect(Array.from(await step())).to.deep.equal([9]);
    expect(Array.from(await step())).to.deep.equal([9]);
    expect(runs).to.equal(1);
    expect(stepCacheStats()).to.include({ mode: "use", computed: 1, read: 1 });

    process.env.LAB_STEP_CACHE = "bypass";
    resetStepCacheStats();
    runs = 0;
    await step();
    expect(stepCacheStats()).to.include({ mode: "bypass", computed: 1, matched: 1 });
    const dir = join(process.env.LAB_CACHE_DIR as string, "steps", "test", "square");
    const [file] = readdirSync(dir);
    const entry = JSON.parse(readFileSync(join(dir, file), "utf8"));
    entry.value = encodeValue(Float64Array.of(10));
    writeFileSync(join(dir, file), JSON.stringify(entry));
    resetStepCacheStats();
    runs = 0;
    expect(Array.from(await step()), "bypass returns the fresh value").to.deep.equal([9]);
    expect(stepCacheStats().differed).to.deep.equal([{ step: "test/square", key: file.replace(/\.json$/, "") }]);
    expect(JSON.parse(readFileSync(join(dir, file), "utf8")).value, "bypass leaves the cache as it was").to.deep.equal(encodeValue(Float64Array.of(10)));
  });

  it("refuses an unknown LAB_STEP_CACHE mode and a step name that is not a path of names", async () => {
    expect(refusal(() => stepCacheMode({ LAB_STEP_CACHE: "off" })).code).to.equal("cache/bad-mode");
    await expectCodeAsync(
      cachedStep({ step: "../up", module, inputs: {} }, () => 1),
      LabError,
      "cache/bad-step-name",
      { step: "../up" },
    );
  });
});
