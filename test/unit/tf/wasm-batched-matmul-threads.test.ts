import { once } from "node:events";
import { expect } from "chai";
import { rng } from "../../../lib/random.js";
import { BackendError } from "../../../lib/tf/errors.js";
import { STOCK_CHUNK } from "../../../lib/tf/wasm-batched-matmul.js";
import { BatchedMatMulThreads, type BatchedProduct, kernelArgs, sliceProduct } from "../../../lib/tf/wasm-batched-matmul-threads.js";
import { expectCode } from "../expect-code.js";

/** 64 KiB pages. */
const PAGE = 2 ** 16;

/** A product of batch × [m, k]·[k, n] laid out from `at` (bytes): A (transposed when asked, or one matrix broadcast), B (or one broadcast), gaps of 16 bytes, then the output. */
function layout(at: number, batch: number, m: number, k: number, n: number, o: { transposeA?: boolean; broadcastA?: boolean; broadcastB?: boolean } = {}) {
  const aCount = (o.broadcastA ? 1 : batch) * m * k;
  const bCount = (o.broadcastB ? 1 : batch) * k * n;
  const a = at;
  const b = a + 4 * aCount + 16;
  const out = b + 4 * bCount + 16;
  const product: BatchedProduct = {
    a,
    b,
    out,
    batch,
    m,
    k,
    n,
    aBatchBytes: o.broadcastA ? 0 : m * k * 4,
    bBatchBytes: o.broadcastB ? 0 : k * n * 4,
    aRowBytes: o.transposeA ? 4 : k * 4,
    aColBytes: o.transposeA ? m * 4 : 4,
    outBatchBytes: m * n * 4,
    chunk: STOCK_CHUNK,
  };
  return { product, aCount, bCount, outCount: batch * m * n, end: out + 4 * batch * m * n };
}

/**
 * Writes random operands and a NaN-filled output region (with NaN sentinels 16 bytes either
 * side), runs `compute`, and returns the output and whether both sentinels survived.
 */
function runOn(memory: WebAssembly.Memory, l: ReturnType<typeof layout>, seed: number, compute: (p: BatchedProduct) => void) {
  const r = rng(seed);
  const heap = new Float32Array(memory.buffer);
  const { product } = l;
  for (let i = 0; i < l.aCount; i++) heap[product.a / 4 + i] = r.normal();
  for (let i = 0; i < l.bCount; i++) heap[product.b / 4 + i] = r.normal();
  heap.fill(Number.NaN, product.out / 4 - 4, product.out / 4 + l.outCount + 4);
  compute(product);
  const view = new Float32Array(memory.buffer);
  const out = Array.from(view.subarray(product.out / 4, product.out / 4 + l.outCount));
  const untouched = [-4, -3, -2, -1].every((d) => Number.isNaN(view[product.out / 4 + d])) && [0, 1, 2, 3].every((d) => Number.isNaN(view[product.out / 4 + l.outCount + d]));
  return { out, untouched };
}

/** [batch, m, k, n]: single rows, columns and terms; batches that do and do not divide among the threads; odd rows; column tails; several chunks of 48; attention's shape at a smaller width. */
const SHAPES: Array<[number, number, number, number]> = [
  [2, 1, 1, 1],
  [3, 1, 7, 5],
  [2, 7, 1, 5],
  [3, 5, 7, 4],
  [3, 17, 50, 33],
  [4, 48, 16, 48],
  [5, 9, 97, 19],
  [2, 64, 130, 2],
  [7, 3, 48, 21],
  [3, 256, 48, 3],
  [6, 64, 64, 64],
];

describe("the batched product's slices", () => {
  it("write each output element exactly once, each summed over the whole shared dimension", () => {
    const r = rng(26);
    const shapes = [...SHAPES];
    for (let i = 0; i < 40; i++) shapes.push([1 + r.int(9), 1 + r.int(40), 1 + r.int(60), 1 + r.int(40)]);
    for (const [batch, m, k, n] of shapes)
      for (const parts of [1, 2, 3, 4, 8])
        for (const transposeA of [false, true]) {
          const { product } = layout(0, batch, m, k, n, { transposeA });
          const slices = sliceProduct(product, parts);
          expect(slices.length).to.be.within(1, parts);
          const written = new Map<number, number>();
          for (const s of slices) {
            expect([s.k, s.n, s.aColBytes, s.aRowBytes, s.outBatchBytes, s.aBatchBytes, s.bBatchBytes]).to.deep.equal([
              k,
              n,
              product.aColBytes,
              product.aRowBytes,
              product.outBatchBytes,
              product.aBatchBytes,
              product.bBatchBytes,
            ]);
            for (let p = 0; p < s.batch; p++)
              for (let i = 0; i < s.m; i++) {
                // the slice's row i of entry p is the whole product's row (entry, row): its A row and B matrix must be that row's
                const outAt = s.out + p * s.outBatchBytes + i * n * 4;
                const entry = Math.floor((outAt - product.out) / product.outBatchBytes);
                const row = (outAt - product.out - entry * product.outBatchBytes) / (n * 4);
                expect(s.a + p * s.aBatchBytes + i * s.aRowBytes, `A row of (${entry}, ${row})`).to.equal(product.a + entry * product.aBatchBytes + row * product.aRowBytes);
                expect(s.b + p * s.bBatchBytes, `B of entry ${entry}`).to.equal(product.b + entry * product.bBatchBytes);
                written.set(outAt, (written.get(outAt) ?? 0) + 1);
              }
          }
          expect(written.size, `[${batch}, ${m}, ${k}, ${n}] on ${parts}`).to.equal(batch * m);
          expect([...written.values()].every((c) => c === 1)).to.equal(true);
        }
  });
});

describe("the batched product on helper threads over a shared memory", function () {
  this.timeout(60_000);
  const pools: BatchedMatMulThreads[] = [];
  /** A pool whose helpers have all started (until then a product goes to those that have). */
  const start = async (memory: WebAssembly.Memory, threads: number, options?: { lostAfterMs?: number }) => {
    const pool = BatchedMatMulThreads.start(memory, threads, options);
    expect(pool, "this Node takes WebAssembly SIMD and shared memory").to.not.equal(undefined);
    pools.push(pool!);
    expect(await pool!.ready()).to.equal(threads);
    return pool!;
  };
  after(() => {
    for (const pool of pools) pool.close();
  });

  it("starts no helpers for one thread or an unshared memory", () => {
    expect(BatchedMatMulThreads.start(new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }), 1)).to.equal(undefined);
    expect(BatchedMatMulThreads.start(new WebAssembly.Memory({ initial: 1, maximum: 2 }), 2)).to.equal(undefined);
  });

  for (const threads of [2, 3]) {
    it(`gives the calling thread's bits on ${threads} threads, writing nothing outside the output: edge and random shapes, a transposed left operand, broadcast batches`, async () => {
      const memory = new WebAssembly.Memory({ initial: 256, maximum: 1024, shared: true });
      const pool = await start(memory, threads);
      const r = rng(threads);
      const shapes = [...SHAPES];
      for (let i = 0; i < 10; i++) shapes.push([2 + r.int(7), 1 + r.int(70), 1 + r.int(110), 1 + r.int(70)]);
      let seed = 1;
      for (const [batch, m, k, n] of shapes)
        for (const o of [{}, { transposeA: true }, { broadcastA: true }, { broadcastB: true, transposeA: true }]) {
          const l = layout(256, batch, m, k, n, o);
          const one = runOn(memory, l, seed, (p) => pool.bmm(...kernelArgs(p)));
          const all = runOn(memory, l, seed++, (p) => pool.run(p));
          const what = `[${batch}, ${m}, ${k}, ${n}] ${JSON.stringify(o)} on ${threads}`;
          expect(all.out, what).to.deep.equal(one.out);
          expect(all.out.some(Number.isNaN), `${what}: every output written`).to.equal(false);
          expect([one.untouched, all.untouched], `${what}: nothing written outside the output`).to.deep.equal([true, true]);
        }
    });
  }

  it("computes on memory the heap grew after the helpers started", async () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 1024, shared: true });
    const pool = await start(memory, 2);
    const before = layout(64, 4, 48, 40, 36);
    expect(runOn(memory, before, 1, (p) => pool.run(p)).out).to.deep.equal(runOn(memory, before, 1, (p) => pool.bmm(...kernelArgs(p))).out);
    const oldBytes = memory.buffer.byteLength;
    memory.grow(64);
    const after = layout(oldBytes + PAGE, 6, 70, 90, 50); // every operand and the output past the old end
    expect(after.product.a).to.be.above(oldBytes);
    const two = runOn(memory, after, 2, (p) => pool.run(p));
    const one = runOn(memory, after, 2, (p) => pool.bmm(...kernelArgs(p)));
    expect(two.out).to.deep.equal(one.out);
    expect(two.untouched).to.equal(true);
  });

  it("fails a product whose helper's slice traps with wasm/helper-thread-failed, and stays usable", async () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 8, shared: true });
    const pool = await start(memory, 2);
    // batch 2 split by entries: the calling thread's entry lies in the heap, the helper's second A lies past its end
    const product: BatchedProduct = { ...layout(64, 2, 8, 8, 8).product, aBatchBytes: 4 * 8 * PAGE };
    expectCode(() => pool.run(product), BackendError, "wasm/helper-thread-failed", { helpers: [0], batch: 2 });
    expect(pool.threads).to.equal(2);
    const l = layout(64, 4, 40, 30, 20);
    expect(runOn(memory, l, 3, (p) => pool.run(p)).out).to.deep.equal(runOn(memory, l, 3, (p) => pool.bmm(...kernelArgs(p))).out);
  });

  it("lets the helpers finish before the calling thread's own trap leaves, and stays usable", async () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 8, shared: true });
    const pool = await start(memory, 2);
    // every slice reads A past the heap's end: the helper traps as well, and must be done before the calling thread's trap leaves
    const product: BatchedProduct = { ...layout(64, 2, 8, 8, 8).product, batch: 4, aBatchBytes: 0, bBatchBytes: 0, a: 4 * 8 * PAGE };
    expect(() => pool.run(product)).to.throw(WebAssembly.RuntimeError);
    expect(pool.threads).to.equal(2);
    const l = layout(64, 4, 40, 30, 20);
    expect(runOn(memory, l, 7, (p) => pool.run(p)).out).to.deep.equal(runOn(memory, l, 7, (p) => pool.bmm(...kernelArgs(p))).out);
  });

  it("fails the product that finds a helper dead with wasm/helper-thread-lost, then computes the same bits on the calling thread", async () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 32, shared: true });
    const pool = await start(memory, 2);
    const l = layout(64, 4, 48, 64, 40);
    const want = runOn(memory, l, 4, (p) => pool.bmm(...kernelArgs(p))).out;
    const [helper] = pool.helperThreads;
    const exited = once(helper, "exit");
    await helper.terminate();
    await exited;
    expectCode(() => pool.run(l.product), BackendError, "wasm/helper-thread-lost", { helper: 0 });
    expect(pool.threads).to.equal(1);
    expect(runOn(memory, l, 4, (p) => pool.run(p)).out).to.deep.equal(want);
  });

  it("does not hang on a helper that dies while the calling thread waits: wasm/helper-thread-lost after the stated wait", async () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 32, shared: true });
    const pool = await start(memory, 2, { lostAfterMs: 300 });
    const l = layout(64, 4, 48, 64, 40);
    runOn(memory, l, 5, (p) => pool.run(p)); // the helper has started and answered once
    // ended with no chance for its exit to be heard: the calling thread stays blocked in this call
    void pool.helperThreads[0].terminate();
    expectCode(() => pool.run(l.product), BackendError, "wasm/helper-thread-lost", { helper: 0 });
    expect(pool.threads).to.equal(1);
  });

  it("runs on the calling thread alone once closed, and closes once", async () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 32, shared: true });
    const pool = await start(memory, 2);
    pool.close();
    pool.close();
    expect(pool.threads).to.equal(1);
    const l = layout(64, 3, 30, 20, 10);
    expect(runOn(memory, l, 6, (p) => pool.run(p)).out).to.deep.equal(runOn(memory, l, 6, (p) => pool.bmm(...kernelArgs(p))).out);
  });
});
