import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { LabError } from "../../../lib/errors.js";
import { createGpt } from "../../../lib/intelligence/models/gpt.js";
import { loraAKey } from "../../../lib/intelligence/models/peft-keys.js";
import { AdapterStore, weightsSha256, writeGeneratedAdapter } from "../../../lib/serving/index.js";
import { expectCode } from "../expect-code.js";
import { generatedAdapters, servingStack, tf, tinyBase } from "./fixtures.js";

const base = await tinyBase();

describe("OpenLoRA adapter store", () => {
  it("registers generated PEFT adapters and reads them back bit for bit", () => {
    const { dirs } = generatedAdapters(base.info, 2);
    const store = new AdapterStore(base.info);
    const rec = store.register("x", dirs[1]);
    expect(rec.config.r).to.equal(4);
    expect(rec.modules.map((m) => m.name)).to.include("h.1.mlp.fc_in");
    const host = store.read("x");
    expect(host.modules).to.have.length(rec.modules.length);
    expect(host.bytes).to.equal(rec.tensorBytes);
    expect(host.scaling).to.equal(2); // alpha = 2r
  });

  it("refuses an adapter trained on another base model (hash), naming both hashes", async () => {
    const other = await tinyBase(2);
    const { dirs } = generatedAdapters(other.info, 1);
    expectCode(() => new AdapterStore(base.info).register("foreign", dirs[0]), LabError, "adapter/base-mismatch", { adapterBase: other.info.sha256, servedBase: base.info.sha256 });
  });

  it("refuses an adapter whose shapes do not fit the base, even under the right hash", () => {
    const wide = createGpt(tf, { vocabSize: 13, blockSize: 12, nLayer: 2, nHead: 2, nEmbd: 24 });
    const { root } = generatedAdapters(base.info, 0);
    const dir = join(root, "wide");
    writeGeneratedAdapter(dir, { sha256: base.info.sha256, modules: wide.linearModules }, { r: 2, targetModules: ["q_proj"], seed: 1 });
    const e = expectCode(() => new AdapterStore(base.info).register("wide", dir), LabError, "adapter/shape-mismatch");
    expect((e.fields.problems as string[])[0]).to.contain(loraAKey("h.0.attn.q_proj"));
  });

  it("refuses a corrupted safetensors file, an unknown id, and a file changed after registration", () => {
    const { dirs } = generatedAdapters(base.info, 2);
    const file = join(dirs[0], "adapter_model.safetensors");
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 7)); // truncated: offsets exceed the buffer
    const store = new AdapterStore(base.info);
    expectCode(() => store.register("broken", dirs[0]), LabError, "adapter/corrupt");
    expectCode(() => store.get("nope"), LabError, "adapter/unknown");
    store.register("ok", dirs[1]);
    const other = join(dirs[1], "adapter_model.safetensors");
    const b = readFileSync(other);
    b[b.length - 1] ^= 0xff;
    writeFileSync(other, b);
    expectCode(() => store.read("ok"), LabError, "adapter/changed");
  });

  it("finds a Model Factory adapter's base hash in result.json beside it", () => {
    const { root } = generatedAdapters(base.info, 0);
    // a Factory run folder: adapter/ with PEFT files, result.json naming the base hash
    const factoryDir = join(root, "run");
    const adapterDir = join(factoryDir, "adapter");
    writeGeneratedAdapter(adapterDir, { ...base.info, sha256: "" }, { r: 2, targetModules: ["v_proj"], seed: 3 });
    writeFileSync(join(factoryDir, "result.json"), JSON.stringify({ base_model_sha256: base.info.sha256 }));
    // the metadata key is empty in this file, so result.json decides
    expect(new AdapterStore(base.info).register("factory", adapterDir).baseSha256).to.equal(base.info.sha256);
  });
});

describe("OpenLoRA tiered cache", () => {
  it("keeps host memory within its byte budget and slots within their count, evicting least recently used", () => {
    const { dirs } = generatedAdapters(base.info, 12, [2]);
    const sizes = servingStack(base.info, dirs)
      .store.list()
      .map((r) => r.tensorBytes);
    const budget = Math.floor(3.5 * Math.max(...sizes)); // room for three adapters, not twelve
    const { cache } = servingStack(base.info, dirs, { slots: 2, hostBudget: budget });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 12; i++) {
        const { resident } = cache.acquire(`a${i}`);
        cache.release(resident);
        expect(cache.hostBytes()).to.be.at.most(budget);
        expect(cache.bank.occupied().length).to.be.at.most(2);
      }
    }
    expect(cache.stats.hostEvictions).to.be.greaterThan(0);
    expect(cache.stats.slotEvictions).to.be.greaterThan(0);
    expect(cache.hostCount()).to.be.lessThan(12);
    expect(cache.location("a11")).to.equal("slot");
    expect(cache.location("a0")).to.equal("disk");
  });

  it("never evicts a pinned slot: a full set of pinned slots refuses with cache/slots-busy", () => {
    const { dirs } = generatedAdapters(base.info, 3);
    const { cache } = servingStack(base.info, dirs, { slots: 2 });
    const a = cache.acquire("a0").resident;
    cache.acquire("a1");
    expect(cache.canAcquire("a2")).to.equal(false);
    expectCode(() => cache.acquire("a2"), LabError, "cache/slots-busy");
    cache.release(a);
    expect(cache.canAcquire("a2")).to.equal(true);
    cache.acquire("a2");
    expect(cache.location("a0")).to.equal("host");
  });

  it("prefetch moves a queued adapter to host memory, so its acquire is a host hit", async () => {
    const { dirs } = generatedAdapters(base.info, 2);
    const { cache } = servingStack(base.info, dirs);
    await cache.prefetch("a1");
    expect(cache.location("a1")).to.equal("host");
    cache.acquire("a1");
    expect(cache.stats).to.include({ hostHits: 1, diskLoads: 0, prefetches: 1 });
    expect(cache.stats.coldStarts[0].from).to.equal("host");
  });

  it("a weightsSha256 of the same weights is stable (the base identity adapters are checked against)", async () => {
    expect(await weightsSha256(base.weights)).to.equal(base.info.sha256);
  });
});
