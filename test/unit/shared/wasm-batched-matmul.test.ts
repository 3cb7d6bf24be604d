import * as tf from "@tensorflow/tfjs";
import { expect } from "chai";
import { rng } from "../../../lib/random.js";
import { instantiateBatchedMatMul, STOCK_CHUNK, WHOLE_CHUNK } from "../../../lib/tf/wasm-batched-matmul.js";
import { registerWasmKernels, stockWasmKernel } from "../../../lib/tf/wasm-kernels.js";

/**
 * The stock wasm loop's arithmetic, emulated in float32: each output is the sum over the shared
 * dimension in chunks of 48, each chunk summed term by term (product rounded, then the sum), and
 * each chunk's sum added to the output. A[p] is [m, k], B[p] is [k, n], both row-major. With a
 * chunk of the whole shared dimension it is XNNPACK's order: term by term from zero.
 */
function stockOrder(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number, chunkLength = STOCK_CHUNK): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(batch * m * n);
  for (let p = 0; p < batch; p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let total = 0;
        for (let k0 = 0; k0 < k; k0 += chunkLength) {
          let chunk = 0;
          for (let s = k0; s < Math.min(k0 + chunkLength, k); s++) chunk = f(chunk + f(a[(p * m + i) * k + s] * b[(p * k + s) * n + j]));
          total = f(total + chunk);
        }
        out[(p * m + i) * n + j] = total;
      }
  return out;
}

/** The product in float64, for the cases the stock kernel does not compute (broadcast batches). */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, m: number, k: number, n: number, aBatch: number, bBatch: number): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let p = 0; p < batch; p++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let s = 0; s < k; s++) acc += a[(p % aBatch) * m * k + i * k + s] * b[(p % bBatch) * k * n + s * n + j];
        out[(p * m + i) * n + j] = acc;
      }
  return out;
}

const size = (shape: number[]) => shape.reduce((x, y) => x * y, 1);

const randoms = (count: number, seed: number) => {
  const r = rng(seed);
  return Float32Array.from({ length: count }, () => r.normal());
};

/** [batch, m, k, n]: batch 2 (the smallest the SIMD kernel takes), single rows, columns and terms, column tails 1-3 past a vector or a block of 16, odd rows, two and three chunks of 48, and fewer than 4 columns (computed transposed when the left operand is). */
const EDGE_SHAPES: Array<[number, number, number, number]> = [
  [2, 1, 1, 1],
  [2, 1, 7, 1],
  [2, 7, 1, 5],
  [3, 5, 7, 4],
  [2, 17, 50, 33],
  [4, 48, 16, 48],
  [4, 48, 48, 16],
  [2, 3, 97, 19],
  [5, 2, 1, 18],
  [2, 64, 130, 2],
  [7, 9, 48, 21],
  [2, 6, 49, 35],
  [3, 20, 9, 3],
  [2, 256, 48, 2],
  [2, 4, 5, 1],
];

describe("the SIMD batched matrix product on a bare WebAssembly memory", () => {
  for (const shared of [false, true]) {
    it(`sums in the stock loop's order, bit for bit, on a ${shared ? "shared" : "growable"} memory, and writes nothing outside its output`, () => {
      const memory = new WebAssembly.Memory({ initial: 4, maximum: 64, shared });
      const bmm = instantiateBatchedMatMul(memory)!;
      expect(bmm, "this Node takes WebAssembly SIMD").to.be.a("function");
      for (const [batch, m, k, n] of EDGE_SHAPES) {
        const a = randoms(batch * m * k, m * 1000 + k);
        const b = randoms(batch * k * n, n * 1000 + k);
        const [aAt, bAt] = [64, 64 + a.byteLength + 16];
        const outAt = bAt + b.byteLength + 16;
        const heap = new Float32Array(memory.buffer);
        heap.fill(Number.NaN); // stale values where the output goes: the kernel must overwrite them all
        heap.set(a, aAt / 4);
        heap.set(b, bAt / 4);
        bmm(aAt, bAt, outAt, batch, m, k, n, m * k * 4, k * n * 4, k * 4, 4, m * n * 4, STOCK_CHUNK);
        const view = new Float32Array(memory.buffer);
        expect(Array.from(view.subarray(outAt / 4, outAt / 4 + batch * m * n)), `[${batch}, ${m}, ${k}, ${n}]`).to.deep.equal(Array.from(stockOrder(a, b, batch, m, k, n)));
        expect(Number.isNaN(view[outAt / 4 + batch * m * n]), "the float after the output is untouched").to.equal(true);
      }
    });
  }

  it("sums each output term by term from zero, XNNPACK's order, bit for bit, when given one chunk of the whole shared dimension", () => {
    const memory = new WebAssembly.Memory({ initial: 4, maximum: 64 });
    const bmm = instantiateBatchedMatMul(memory)!;
    for (const [batch, m, k, n] of [...EDGE_SHAPES, [1, 2, 1024, 20] as [number, number, number, number]]) {
      const a = randoms(batch * m * k, m * 1000 + k);
      const b = randoms(batch * k * n, n * 1000 + k);
      const [aAt, bAt] = [64, 64 + a.byteLength + 16];
      const outAt = bAt + b.byteLength + 16;
      const heap = new Float32Array(memory.buffer);
      heap.fill(Number.NaN);
      heap.set(a, aAt / 4);
      heap.set(b, bAt / 4);
      bmm(aAt, bAt, outAt, batch, m, k, n, m * k * 4, k * n * 4, k * 4, 4, m * n * 4, WHOLE_CHUNK);
      const got = Array.from(new Float32Array(memory.buffer, outAt, batch * m * n));
      expect(got, `[${batch}, ${m}, ${k}, ${n}]`).to.deep.equal(Array.from(stockOrder(a, b, batch, m, k, n, k)));
      if (k === 1024) expect(got, "another order than the stock loop's").to.not.deep.equal(Array.from(stockOrder(a, b, batch, m, k, n)));
    }
  });

  it("reads a transposed left operand through its strides and broadcasts a batch stride of 0", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
    const bmm = instantiateBatchedMatMul(memory)!;
    const [batch, m, k, n] = [3, 5, 9, 6];
    const a = randoms(m * k, 1); // one [m, k] matrix for the whole batch, stored transposed [k, m]
    const b = randoms(batch * k * n, 2);
    const aT = new Float32Array(k * m);
    for (let i = 0; i < m; i++) for (let s = 0; s < k; s++) aT[s * m + i] = a[i * k + s];
    const heap = new Float32Array(memory.buffer);
    heap.set(aT, 0);
    heap.set(b, 256);
    bmm(0, 1024, 4096, batch, m, k, n, 0, k * n * 4, 4, m * 4, m * n * 4, STOCK_CHUNK);
    const got = new Float32Array(memory.buffer, 4096, batch * m * n);
    const want = stockOrder(new Float32Array(Array.from({ length: batch }, () => Array.from(a)).flat()), b, batch, m, k, n);
    expect(Array.from(got)).to.deep.equal(Array.from(want));
  });
});

/** The enclosing describe runs on the wasm backend with the lab's kernels registered (then `ready`), and the previous backend after it. */
function onWasmWithLabKernels(ready: () => void): void {
  let previous: string | undefined;
  before(async () => {
    previous = tf.getBackend();
    await import("@tensorflow/tfjs-backend-wasm");
    await tf.setBackend("wasm");
    registerWasmKernels(tf);
    ready();
  });
  after(async () => {
    if (previous) await tf.setBackend(previous);
  });
}

describe("the wasm backend's BatchMatMul against the stock kernel", () => {
  let stock: tf.KernelFunc;
  onWasmWithLabKernels(() => {
    stock = stockWasmKernel(tf, "BatchMatMul")!;
  });

  const viaStock = (a: tf.Tensor, b: tf.Tensor, transposeA: boolean, transposeB: boolean) =>
    tf.engine().makeTensorFromTensorInfo(stock({ inputs: { a, b }, backend: tf.backend(), attrs: { transposeA, transposeB } }) as tf.TensorInfo);
  /** x·Bᵀ's values, the product disposed: through the stock kernel or the lab's. */
  const productValues = (a: tf.Tensor, b: tf.Tensor, kernel: "stock" | "lab" = "lab") => {
    const y = kernel === "stock" ? viaStock(a, b, false, true) : tf.matMul(a, b, false, true);
    const values = Array.from(y.dataSync());
    y.dispose();
    return values;
  };
  const operands = (batch: number[], m: number, k: number, n: number, transposeA: boolean, transposeB: boolean, seed: number) => [
    tf.tensor(randoms(batch.reduce((x, y) => x * y, 1) * m * k, seed), [...batch, ...(transposeA ? [k, m] : [m, k])]),
    tf.tensor(randoms(batch.reduce((x, y) => x * y, 1) * k * n, seed + 1), [...batch, ...(transposeB ? [n, k] : [k, n])]),
  ];

  it("gives the stock kernel's bits on batches of more than one matrix: edge and random shapes, every transpose, rank 3 and 4", () => {
    const r = rng(24);
    const shapes: Array<[number[], number, number, number]> = EDGE_SHAPES.map(([batch, m, k, n]) => [[batch], m, k, n]);
    for (let i = 0; i < 12; i++) shapes.push([[2 + r.int(6)], 1 + r.int(70), 1 + r.int(110), 1 + r.int(70)]);
    shapes.push([[2, 3], 11, 13, 6], [[3, 4], 48, 16, 48]);
    let seed = 1;
    for (const [batch, m, k, n] of shapes)
      for (const transposeA of [false, true])
        for (const transposeB of [false, true]) {
          const [a, b] = operands(batch, m, k, n, transposeA, transposeB, seed++);
          const got = tf.matMul(a, b, transposeA, transposeB);
          const want = viaStock(a, b, transposeA, transposeB);
          expect(got.shape).to.deep.equal([...batch, m, n]);
          expect(Array.from(got.dataSync()), `[${batch}] ${m}×${k}×${n} tA=${transposeA} tB=${transposeB}`).to.deep.equal(Array.from(want.dataSync()));
          tf.dispose([a, b, got, want]);
        }
  });

  it("keeps the path of a single matrix (XNNPACK): the stock kernel's bits without transposes, float32 rounding with them", () => {
    for (const [m, k, n] of [
      [1, 1, 1],
      [5, 7, 4],
      [33, 70, 17],
    ])
      for (const transposeA of [false, true])
        for (const transposeB of [false, true]) {
          const [a, b] = operands([1], m, k, n, transposeA, transposeB, m + k + n);
          const got = tf.matMul(a, b, transposeA, transposeB).dataSync();
          const want = viaStock(a, b, transposeA, transposeB).dataSync();
          if (!transposeA && !transposeB) expect(Array.from(got)).to.deep.equal(Array.from(want));
          else for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).to.be.below(1e-5 * (1 + Math.abs(want[i])));
        }
  });

  it("computes a single matrix with a transposed left operand and fewer than 4 columns or rows (a LoRA factor's gradient) on the SIMD kernel with XNNPACK's bits", () => {
    for (const [m, k, n] of [
      [4, 1, 1],
      [5, 7, 3],
      [384, 1024, 2],
      [70, 130, 1],
      [33, 49, 3],
      [2, 1024, 384],
      [1, 7, 4],
      [3, 130, 70],
    ])
      for (const transposeB of [false, true]) {
        const [a, b] = operands([], m, k, n, true, transposeB, m + k + n);
        const [aFlat, bFlat] = [tf.transpose(a), transposeB ? tf.transpose(b) : b];
        const got = tf.matMul(a, b, true, transposeB);
        const want = tf.matMul(aFlat, bFlat); // XNNPACK: one matrix without flags
        expect(got.shape).to.deep.equal([m, n]);
        expect(Array.from(got.dataSync()), `${m}×${k}×${n} tB=${transposeB}`).to.deep.equal(Array.from(want.dataSync()));
        tf.dispose([a, b, aFlat, bFlat, got, want]);
      }
  });

  it("broadcasts one matrix over the batch on either side (rank 2 against rank 3) as the stock kernel does, bit for bit, and as the float64 product", () => {
    const [batch, m, k, n] = [4, 6, 50, 7];
    const cases: Array<[number[], number[], number, number]> = [
      [[1, m, k], [batch, k, n], 1, batch],
      [[batch, m, k], [k, n], batch, 1],
      [[m, k], [batch, k, n], 1, batch],
      [[2, 1, m, k], [2, 3, k, n], 1, 1], // a broadcast inside the batch dimensions: the stock path
    ];
    for (const [aShape, bShape] of cases) {
      const a = tf.tensor(
        randoms(
          aShape.reduce((x, y) => x * y, 1),
          5,
        ),
        aShape,
      );
      const b = tf.tensor(
        randoms(
          bShape.reduce((x, y) => x * y, 1),
          6,
        ),
        bShape,
      );
      const got = tf.matMul(a, b);
      const want = viaStock(a, b, false, false);
      expect(got.shape).to.deep.equal(want.shape);
      expect(Array.from(got.dataSync()), `${aShape} · ${bShape}`).to.deep.equal(Array.from(want.dataSync()));
      tf.dispose([a, b, got, want]);
    }
    for (const [aShape, bShape, aBatch, bBatch] of cases.slice(0, 3)) {
      const a = tf.tensor(randoms(aBatch * m * k, 5), aShape);
      const b = tf.tensor(randoms(bBatch * k * n, 6), bShape);
      const g = tf.matMul(a, b).dataSync();
      const want = reference(a.dataSync(), b.dataSync(), batch, m, k, n, aBatch, bBatch);
      for (let i = 0; i < want.length; i++) expect(Math.abs(g[i] - want[i]), `${aShape} · ${bShape} at ${i}`).to.be.below(1e-5 * (1 + Math.abs(want[i])));
      tf.dispose([a, b]);
    }
  });

  it("leaves no tensor or heap data behind (the transposed right operand is freed) and still computes after the heap grows", () => {
    const [a, b] = operands([8], 48, 16, 48, false, true, 99);
    const before = tf.memory().numTensors;
    const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const first = tf.matMul(a, b, false, true);
    first.dispose();
    expect(tf.memory().numTensors).to.equal(before);
    expect((tf.backend() as unknown as { numDataIds(): number }).numDataIds()).to.equal(dataIds);
    const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.length;
    const start = heapBytes();
    const ballast: tf.Tensor[] = [];
    while (heapBytes() === start && ballast.length < 128) ballast.push(tf.zeros([2 ** 22])); // 16 MiB each until the heap grows
    expect(heapBytes()).to.be.above(start);
    const got = tf.matMul(a, b, false, true);
    const want = viaStock(a, b, false, true);
    expect(Array.from(got.dataSync())).to.deep.equal(Array.from(want.dataSync()));
    tf.dispose([a, b, ...ballast, got, want]);
  });

  it("keeps a right operand's transposed copy from its second use at a shape (a frozen weight's x·Wᵀ), with the same bits, and frees it with the operand's last reference", () => {
    const dataIds = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    for (const [batch, rows] of [
      [[1], 3],
      [[6], 5],
    ] as Array<[number[], number]>) {
      const [x, w] = operands(batch, rows, 24, 40, false, true, 7 + rows);
      // k = 24, under the stock loop's chunk of 48: the stock kernel sums in XNNPACK's order here too
      const want = productValues(x, w, "stock");
      // the same data read at another shape (a reshape shares the data id)
      const reread = w.reshape([...batch, 24, 40]);
      const ones = tf.ones([...batch, 2, 40]);
      const wantReread = productValues(ones, reread, "stock");
      const held = dataIds();
      const product = (a: tf.Tensor, b: tf.Tensor) => productValues(a, b);
      expect(product(x, w), "first use").to.deep.equal(want);
      expect(dataIds(), "a first use's copy is freed at once").to.equal(held);
      expect(product(x, w), "second use").to.deep.equal(want);
      expect(dataIds(), "from the second use the copy is kept").to.equal(held + 1);
      expect(product(x, w), "third use, on the kept copy").to.deep.equal(want);
      expect(dataIds(), "and reused, not copied again").to.equal(held + 1);
      // read at another shape, the data is transposed for that use alone
      expect(product(ones, reread)).to.deep.equal(wantReread);
      expect(product(ones, reread)).to.deep.equal(wantReread);
      expect(dataIds(), "another shape's copy is not kept").to.equal(held + 1);
      // a clone shares the data (Identity counts a reference): the copy lives until the last reference goes
      const twin = w.clone();
      tf.dispose([w, reread]);
      expect(dataIds(), "one reference left: the copy stays").to.equal(held + 1);
      expect(product(x, twin)).to.deep.equal(want);
      twin.dispose();
      expect(dataIds(), "the operand freed, its copy with it").to.equal(held - 1);
      tf.dispose([x, ones]);
    }
  });

  it("multiplies by a variable's new values after an assign, never by a kept copy of the old ones", () => {
    const [x, w0] = operands([1], 3, 24, 40, false, true, 31);
    const [, w1] = operands([1], 3, 24, 40, false, true, 32);
    const v = tf.variable(w0);
    const values = (b: tf.Tensor) => productValues(x, b);
    const [before, after] = [values(w0), values(w1)];
    expect(after).to.not.deep.equal(before);
    for (let i = 0; i < 3; i++) expect(values(v)).to.deep.equal(before);
    v.assign(w1);
    expect(values(v)).to.deep.equal(after);
    expect(values(v)).to.deep.equal(after);
    tf.dispose([x, w0, w1, v]);
  });
});

describe("the wasm backend's Transpose against the stock kernel", () => {
  let stock: tf.KernelFunc;
  onWasmWithLabKernels(() => {
    stock = stockWasmKernel(tf, "Transpose")!;
  });

  const viaStock = (x: tf.Tensor, perm: number[]) => tf.engine().makeTensorFromTensorInfo(stock({ inputs: { x }, backend: tf.backend(), attrs: { perm } }) as tf.TensorInfo);

  it("swaps the last two axes value for value: tile edges, single rows and columns, leading axes, int32", () => {
    const shapes = [
      [1, 1],
      [1, 37],
      [37, 1],
      [16, 16],
      [17, 33],
      [48, 15],
      [2, 3, 31, 18],
      [4, 17, 16],
      [1024, 40],
    ];
    for (const shape of shapes) {
      const r = shape.length;
      const perm = [...shape.keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      for (const dtype of ["float32", "int32"] as const) {
        const x =
          dtype === "float32"
            ? tf.tensor(randoms(size(shape), r + shape[r - 1]), shape)
            : tf.tensor(
                Int32Array.from({ length: size(shape) }, (_, i) => i * 7 - 3),
                shape,
                "int32",
              );
        const got = tf.transpose(x, perm);
        const want = viaStock(x, perm);
        expect(got.shape).to.deep.equal(want.shape);
        expect(got.dtype).to.equal(dtype);
        expect(Array.from(got.dataSync()), `${dtype} [${shape}]`).to.deep.equal(Array.from(want.dataSync()));
        tf.dispose([x, got, want]);
      }
    }
  });

  it("keeps the stock kernel for other permutations and dtypes", () => {
    const x = tf.tensor(randoms(2 * 3 * 4 * 5, 8), [2, 3, 4, 5]);
    for (const perm of [
      [0, 2, 1, 3],
      [3, 2, 1, 0],
      [1, 0, 2, 3],
    ]) {
      const got = tf.transpose(x, perm);
      const want = viaStock(x, perm);
      expect(got.shape, `perm ${perm}`).to.deep.equal(want.shape);
      expect(Array.from(got.dataSync()), `perm ${perm}`).to.deep.equal(Array.from(want.dataSync()));
      tf.dispose([got, want]);
    }
    const flags = tf.tensor([true, false, false, true, true, false], [2, 3], "bool");
    expect(Array.from(tf.transpose(flags).dataSync())).to.deep.equal([1, 1, 0, 1, 0, 0]);
    tf.dispose([x, flags]);
  });
});
