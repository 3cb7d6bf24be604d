import { existsSync, mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { DEFAULT_GRADIENT_STORE_LIMIT, GradientStore } from "../../../lib/attribution/gradients.js";
import { LogisticRegression } from "../../../lib/attribution/model.js";
import { LabError } from "../../../lib/errors.js";
import { expectCode } from "../expect-code.js";
import { randomBatch, randomParams } from "./fixtures.js";

describe("attribution: gradient store size limit", () => {
  const model = new LogisticRegression(6, 4);
  const params = randomParams(model, 1);
  const batches = [randomBatch(7, 6, 4, 2), randomBatch(7, 6, 4, 3), randomBatch(7, 6, 4, 4)];
  const setFiles = (dir: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith(".olgrad"))
      .sort();

  /** A store whose limit holds exactly two of these (equal-sized) sets. */
  async function twoSetStore(): Promise<GradientStore> {
    const probe = new GradientStore(mkdtempSync(join(tmpdir(), "gstore-probe-")));
    await probe.get(model, params, batches[0]);
    const bytes = statSync(join(probe.dir, setFiles(probe.dir)[0])).size;
    return new GradientStore(mkdtempSync(join(tmpdir(), "gstore-")), { maxBytes: 2 * bytes + bytes / 2 });
  }

  it("evicts the least recently used set when a new one does not fit, and recomputes it when asked again", async () => {
    const store = await twoSetStore();
    const [a, b, c] = await Promise.all(batches.map((batch) => store.keyOf(model, params, batch)));
    await store.get(model, params, batches[0]);
    await store.get(model, params, batches[1]);
    await store.get(model, params, batches[0]); // a read: a is now more recent than b
    await store.get(model, params, batches[2]);
    expect(store.evictions).to.equal(1);
    expect(setFiles(store.dir)).to.deep.equal([`${a}.olgrad`, `${c}.olgrad`].sort());
    expect(existsSync(join(store.dir, `${b}.olgrad`))).to.equal(false);
    const again = await store.get(model, params, batches[1]);
    expect(again.n).to.equal(7);
    expect([store.hits, store.misses, store.evictions]).to.deep.equal([1, 4, 2]);
    expect(setFiles(store.dir)).to.deep.equal([`${b}.olgrad`, `${c}.olgrad`].sort());
  });

  it("keeps the set just written even when it alone exceeds the limit", async () => {
    const store = new GradientStore(mkdtempSync(join(tmpdir(), "gstore-")), { maxBytes: 1 });
    await store.get(model, params, batches[0]);
    await store.get(model, params, batches[1]);
    expect(setFiles(store.dir)).to.deep.equal([`${await store.keyOf(model, params, batches[1])}.olgrad`]);
  });

  it("takes its limit from LAB_GRADIENT_STORE_LIMIT, 1 GiB by default, and refuses a value that is not a size", async () => {
    const saved = process.env.LAB_GRADIENT_STORE_LIMIT;
    try {
      delete process.env.LAB_GRADIENT_STORE_LIMIT;
      expect(new GradientStore(tmpdir()).maxBytes)
        .to.equal(DEFAULT_GRADIENT_STORE_LIMIT)
        .and.equal(1024 ** 3);
      process.env.LAB_GRADIENT_STORE_LIMIT = "512M";
      expect(new GradientStore(tmpdir()).maxBytes).to.equal(512 * 1024 ** 2);
      process.env.LAB_GRADIENT_STORE_LIMIT = "lots";
      expectCode(() => new GradientStore(tmpdir()), LabError, "cache/bad-size");
    } finally {
      if (saved === undefined) delete process.env.LAB_GRADIENT_STORE_LIMIT;
      else process.env.LAB_GRADIENT_STORE_LIMIT = saved;
    }
  });
});
