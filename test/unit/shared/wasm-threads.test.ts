import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { onThreads } from "../../../lib/bench/thread-probe.js";
import { BackendError, selectBackend } from "../../../lib/tf/backend.js";
import { parseThreadCount, WASM_MAX_THREADS } from "../../../lib/tf/wasm-threads.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

describe("LAB_THREADS: the wasm backend's thread count", () => {
  it("defaults to every core this process may use, up to the build's 8", () => {
    expect(parseThreadCount(undefined, 2)).to.equal(2);
    expect(parseThreadCount("", 4)).to.equal(4);
    expect(parseThreadCount(undefined, 64)).to.equal(WASM_MAX_THREADS);
    expect(parseThreadCount(undefined)).to.equal(Math.min(availableParallelism(), WASM_MAX_THREADS));
  });

  it("takes a whole number from 1 to the cores", () => {
    expect(parseThreadCount("1", 2)).to.equal(1);
    expect(parseThreadCount(" 2 ", 2)).to.equal(2);
  });

  it("refuses more threads than cores, naming both", () => {
    expectCode(() => parseThreadCount("3", 2), BackendError, "backend/threads", { threads: 3, cores: 2, limit: 2 });
    expectCode(() => parseThreadCount("9", 16), BackendError, "backend/threads", { threads: 9, cores: 16, limit: WASM_MAX_THREADS });
  });

  for (const value of ["0", "-1", "1.5", "two", "2x"]) {
    it(`refuses LAB_THREADS="${value}"`, () => {
      expectCode(() => parseThreadCount(value, 2), BackendError, "backend/threads", { value });
    });
  }

  it("is refused before any backend is tried", async () => {
    const before = process.env.LAB_THREADS;
    process.env.LAB_THREADS = String(availableParallelism() + 1);
    try {
      await expectCodeAsync(selectBackend({ override: "cpu" }), BackendError, "backend/threads", { cores: availableParallelism() });
    } finally {
      if (before === undefined) delete process.env.LAB_THREADS;
      else process.env.LAB_THREADS = before;
    }
  });
});

/** The probe's adapter after three LoRA steps of the small preset (tfjs 4.22, wasm), as recorded. */
const RECORDED_STEP_ADAPTER_SHA256 = "c1a52364023f49541e328d15fbd212ab1ecc9e0ea8a9fabc8b3edf56dc1e52c8";

describe("the threaded wasm build", function () {
  this.timeout(240_000);

  it("gives the same bits on 2 threads as on 1: LoRA losses, adapter weights, a large product, attention's batched products (shared among 2 threads); runtime.json records the threads", async function () {
    if (availableParallelism() < 2) {
      console.log(`      skipped: this process may use ${availableParallelism()} core, and LAB_THREADS=2 is refused on fewer than 2`);
      this.skip();
    }
    const runDir = mkdtempSync(join(tmpdir(), "lab-threads-"));
    try {
      const [one, two] = await Promise.all([onThreads(1, { task: "step" }), onThreads(2, { task: "step" }, { LAB_RUN_DIR: runDir })]);
      expect([one.backend, one.threads, two.backend, two.threads]).to.deep.equal(["wasm", 1, "wasm", 2]);
      expect(two.step).to.deep.equal(one.step);
      expect([one.batchedThreads, two.batchedThreads], "the batched products ran on the helper threads at 2").to.deep.equal([1, 2]);
      expect(Number(one.step?.losses[2])).to.be.lessThan(Number(one.step?.losses[0]), "the three steps trained");
      // Recorded before the tiled Transpose and the LoRA factors' products on the SIMD kernel, which
      // keep XNNPACK's sums: a kernel change that moves any bit here moves every recorded figure.
      expect(one.step?.adapterSha256, "the adapter's bits as recorded").to.equal(RECORDED_STEP_ADAPTER_SHA256);
      const runtime = JSON.parse(readFileSync(join(runDir, "runtime.json"), "utf8"));
      expect([runtime.tfBackend, runtime.threads]).to.deep.equal(["wasm", 2]);
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
