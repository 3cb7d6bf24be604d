import type * as TF from "@tensorflow/tfjs";
import { BackendError } from "./errors.js";
import { instantiateBatchedMatMul, STOCK_CHUNK, WHOLE_CHUNK } from "./wasm-batched-matmul.js";
import { BatchedMatMulThreads, type BatchedProduct, kernelArgs } from "./wasm-batched-matmul-threads.js";
import { type TransposedOperand, TransposedOperands } from "./wasm-transposed-operands.js";

/**
 * Kernels the wasm backend lacks but training needs: UnsortedSegmentSum (the gradient of
 * `gather`, so every embedding layer) and Conv2DBackpropFilter (the weight gradient of a
 * convolution). Both are written plainly over the backend's heap; they are not the hot path of
 * the lab's models, and correctness against the cpu backend is tested.
 */
interface WasmBackendLike {
  readSync(dataId: object): ArrayLike<number>;
  makeOutput(shape: number[], dtype: string): TF.TensorInfo;
  typedArrayFromHeap(info: TF.TensorInfo): Float32Array | Int32Array;
  incRef(dataId: object): void;
}

/** The emscripten module under the wasm backend: its allocator and its heap. */
interface WasmModuleLike {
  _malloc(bytes: number): number;
  _free(pointer: number): void;
  HEAPU8: Uint8Array;
}

type KernelArgs = { inputs: Record<string, TF.TensorInfo>; backend: unknown; attrs?: Record<string, unknown> };

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TF.TensorInfo {
  const be = backend as WasmBackendLike;
  const { x, segmentIds } = inputs;
  const numSegments = Number(attrs!.numSegments);
  const innerShape = x.shape.slice(segmentIds.shape.length);
  const inner = size(innerShape);
  const xs = be.readSync(x.dataId); // cpu-only: a wasm kernel reads its inputs where they live, on the wasm heap
  const ids = be.readSync(segmentIds.dataId); // cpu-only: a wasm kernel reads its inputs where they live, on the wasm heap
  const out = be.makeOutput([numSegments, ...innerShape], x.dtype);
  const acc = be.typedArrayFromHeap(out);
  acc.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const segment = ids[i];
    if (segment < 0 || segment >= numSegments) continue; // tf semantics: out-of-range ids are dropped
    const src = i * inner;
    const dst = segment * inner;
    for (let j = 0; j < inner; j++) acc[dst + j] += xs[src + j];
  }
  return out;
}

function makeConv2DBackpropFilter(tf: typeof TF) {
  return ({ inputs, backend, attrs }: KernelArgs): TF.TensorInfo => {
    const be = backend as WasmBackendLike;
    const { x, dy } = inputs;
    const a = attrs as {
      strides: number | [number, number];
      pad: "valid" | "same" | number;
      dataFormat: "NHWC" | "NCHW";
      dimRoundingMode?: "floor" | "round" | "ceil";
      filterShape: [number, number, number, number];
    };
    if (a.dataFormat === "NCHW") throw new Error("Conv2DBackpropFilter on wasm supports NHWC (channelsLast) only");
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, "channelsLast");
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const xs = be.readSync(x.dataId); // cpu-only: a wasm kernel reads its inputs where they live, on the wasm heap
    const dys = be.readSync(dy.dataId); // cpu-only: a wasm kernel reads its inputs where they live, on the wasm heap
    const out = be.makeOutput(a.filterShape, x.dtype);
    const dw = be.typedArrayFromHeap(out);
    dw.fill(0);
    for (let b = 0; b < batchSize; b++) {
      for (let yR = 0; yR < outHeight; yR++) {
        for (let yC = 0; yC < outWidth; yC++) {
          const dyBase = ((b * outHeight + yR) * outWidth + yC) * outChannels;
          for (let wR = 0; wR < filterHeight; wR++) {
            const xR = yR * strideHeight + wR * dilationHeight - top;
            if (xR < 0 || xR >= inHeight) continue;
            for (let wC = 0; wC < filterWidth; wC++) {
              const xC = yC * strideWidth + wC * dilationWidth - left;
              if (xC < 0 || xC >= inWidth) continue;
              const xBase = ((b * inHeight + xR) * inWidth + xC) * inChannels;
              const wBase = (wR * filterWidth + wC) * inChannels * outChannels;
              for (let d1 = 0; d1 < inChannels; d1++) {
                const xv = xs[xBase + d1];
                if (xv === 0) continue;
                const row = wBase + d1 * outChannels;
                for (let d2 = 0; d2 < outChannels; d2++) dw[row + d2] += xv * dys[dyBase + d2];
              }
            }
          }
        }
      }
    }
    return out;
  };
}

/** Side of the square tiles transposeLastTwo copies: 16 was the fastest of 4–32 on [1024, 1536] here (measured once). */
const TRANSPOSE_TILE = 16;

/**
 * Copies `batch` row-major [rows, cols] matrices from `src` to `dst` as [cols, rows], one tile of
 * TRANSPOSE_TILE × TRANSPOSE_TILE at a time, writing along the output's rows: every value moves
 * unchanged, so this is the stock kernel's result at any size.
 */
function transposeLastTwo(src: Float32Array | Int32Array, dst: Float32Array | Int32Array, batch: number, rows: number, cols: number): void {
  const tile = TRANSPOSE_TILE;
  for (let p = 0, base = 0; p < batch; p++, base += rows * cols)
    for (let j0 = 0; j0 < cols; j0 += tile) {
      const j1 = Math.min(j0 + tile, cols);
      for (let i0 = 0; i0 < rows; i0 += tile) {
        const i1 = Math.min(i0 + tile, rows);
        for (let j = j0; j < j1; j++) for (let i = i0, to = base + j * rows + i0, from = base + i0 * cols + j; i < i1; i++, to++, from += cols) dst[to] = src[from];
      }
    }
}

/**
 * tfjs-backend-wasm 4.22's Transpose moved 0.07–0.12 G elements/s here on [1024, 384] and
 * [1536, 384] (5.3 and 5.6 ms; 20 ms for [1024, 1536]), where the tiled copy moves about 1 G
 * elements/s alone and about half that inside a training step, whose operands are not in cache
 * (the large preset's transposes: about 80 → 42 ms a step). Every linear layer's x·Wᵀ and
 * every weight gradient transposes one operand (fastMatMul), so a float32 or int32 transpose that
 * swaps the last two axes, any leading axes kept in place, is the tiled copy here; other
 * permutations and dtypes keep the stock kernel.
 */
function fastTranspose(tf: typeof TF): boolean {
  const original = tf.getKernel("Transpose", "wasm");
  if (!original || (original.kernelFunc as { tiled?: boolean }).tiled) return false;
  const kernelFunc = (args: KernelArgs): TF.TensorInfo => {
    const { inputs, backend, attrs } = args as KernelArgs & { attrs: { perm: number[] } };
    const { x } = inputs;
    const r = x.shape.length;
    const swapsLastTwo = r >= 2 && attrs.perm.length === r && attrs.perm.every((axis, i) => axis === (i < r - 2 ? i : i === r - 2 ? r - 1 : r - 2));
    if (!swapsLastTwo || (x.dtype !== "float32" && x.dtype !== "int32")) return original.kernelFunc(args as never) as TF.TensorInfo;
    const be = backend as WasmBackendLike;
    const [rows, cols] = x.shape.slice(-2);
    const out = be.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
    // the views are taken after the output's allocation, which may have grown (and moved) the heap
    transposeLastTwo(be.typedArrayFromHeap(x), be.typedArrayFromHeap(out), size(x.shape.slice(0, -2)), rows, cols);
    return out;
  };
  Object.assign(kernelFunc, { tiled: true, stock: original.kernelFunc });
  tf.unregisterKernel("Transpose", "wasm");
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc });
  return true;
}

/**
 * tfjs-backend-wasm 4.22 multiplies with XNNPACK only when neither operand is transposed and the
 * batch holds one matrix; everything else falls to a scalar loop (`slow_batch_matmul`) that runs
 * 10-30x slower (measured here: 28 GFLOP/s plain, 2.5 with transposeB, 1 with transposeA, for
 * 512×512; about 3 for batches of attention's 48×16 products). This replaces the wasm
 * BatchMatMul kernel:
 *  - a batch of more than one matrix goes to the lab's SIMD batched product
 *    (lib/tf/wasm-batched-matmul.ts: bitwise the stock loop's sums; 36-39 GFLOP/s against 3 on
 *    attention's shapes, where a JavaScript loop over the heap's views reached 2; shared among the
 *    threads on the threaded build, wasm-batched-matmul-threads.ts); a transposed
 *    left operand is read through its strides, a transposed right one is transposed explicitly
 *    first (a cheap, memory-bound copy);
 *  - one matrix with a transposed left operand and fewer than four output columns (a LoRA
 *    factor's gradient, [tokens, out]ᵀ·[tokens, r]) goes to the same SIMD kernel, summed in
 *    XNNPACK's order (term by term from zero), so its bits are XNNPACK's: XNNPACK needs the left
 *    operand transposed first, and the wasm Transpose kernel (about 0.12 G elements/s here) took
 *    3.25 ms of such a product's 3.4 ms on the large preset's [1024, 384]ᵀ·[1024, 2];
 *  - one matrix with a transposed left operand of fewer than 4 rows (a LoRA A factor's gradient)
 *    goes there too, in XNNPACK's order, because XNNPACK packs its whole right operand at every
 *    call (fewRowsOfTransposed);
 *  - any other matrix with transposeA or transposeB (every linear layer's x·Wᵀ and both products
 *    of every matmul gradient) has the flagged operand transposed explicitly and is then
 *    multiplied without flags by XNNPACK: the same product, summed in XNNPACK's order.
 * A right operand taken transposed a second time (a frozen weight's x·Wᵀ) keeps its transposed
 * copy for as long as it lives (wasm-transposed-operands.ts), the copy a batch's product reads too.
 */
function fastMatMul(tf: typeof TF, threads: number): boolean {
  const original = tf.getKernel("BatchMatMul", "wasm");
  const transpose = tf.getKernel("Transpose", "wasm");
  if (!original || !transpose || (original.kernelFunc as { transposesExplicitly?: boolean }).transposesExplicitly) return false;
  type Backend = WasmBackendLike & { disposeData(dataId: object, force?: boolean): boolean; getMemoryOffset(dataId: object): number; wasm: unknown; dispose(): void };
  const flip = (t: TF.TensorInfo, backend: unknown): TF.TensorInfo => {
    const perm = t.shape.map((_, i) => i);
    const r = perm.length;
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return transpose.kernelFunc({ inputs: { x: t }, backend, attrs: { perm } } as never) as TF.TensorInfo;
  };
  // a right operand taken as Bᵀ: kept transposed from its second use (a frozen weight's x·Wᵀ)
  const operands = new WeakMap<object, TransposedOperands>();
  const transposedRight = (b: TF.TensorInfo, be: Backend): TransposedOperand => {
    let kept = operands.get(be);
    if (!kept) {
      kept = new TransposedOperands(be, (t) => flip(t, be));
      operands.set(be, kept);
    }
    return kept.of(b);
  };
  const kernelFunc = (args: KernelArgs) => {
    const { inputs, backend, attrs } = args as KernelArgs & { attrs: { transposeA: boolean; transposeB: boolean } };
    const be = backend as Backend;
    const plan = productPlan(tf, inputs.a, inputs.b, attrs.transposeA, attrs.transposeB);
    const thin = plan !== undefined && attrs.transposeA && plan.n < 4 && plan.m >= 4;
    const bmm = plan && (plan.batch > 1 || thin || fewRowsOfTransposed(plan, attrs.transposeA, attrs.transposeB)) && batchedMatMulOn(be, threads);
    if (plan && bmm) {
      const { batch, m, k, n } = plan;
      // a batch replaces the stock loop, one matrix XNNPACK: each keeps its order of summation
      const chunk = batch > 1 ? STOCK_CHUNK : WHOLE_CHUNK;
      const at = (t: TF.TensorInfo) => be.getMemoryOffset(t.dataId);
      const [aBatch, bBatch] = [plan.broadcastA ? 0 : m * k * 4, plan.broadcastB ? 0 : k * n * 4];
      if (thin) {
        // Fewer output columns than a vector (a LoRA factor's rank): the kernel computes (A·B)ᵀ =
        // Bᵀ·Aᵀ instead, whose right operand Aᵀ is A as stored ([k, m], row-major), vectorised
        // along m, and the [n, m] result is transposed; every sum runs in the same order.
        const [bRow, bCol] = attrs.transposeB ? [k * 4, 4] : [4, n * 4];
        const swapped = be.makeOutput([...plan.outShape.slice(0, -2), n, m], "float32");
        bmm({ a: at(inputs.b), b: at(inputs.a), out: at(swapped), batch, m: n, k, n: m, aBatchBytes: bBatch, bBatchBytes: aBatch, aRowBytes: bRow, aColBytes: bCol, outBatchBytes: n * m * 4, chunk });
        const out = flip(swapped, backend);
        be.disposeData(swapped.dataId);
        return out;
      }
      const right = attrs.transposeB ? transposedRight(inputs.b, be) : undefined;
      const b = right?.transposed ?? inputs.b;
      const out = be.makeOutput(plan.outShape, "float32");
      const [aRow, aCol] = attrs.transposeA ? [4, m * 4] : [k * 4, 4];
      bmm({ a: at(inputs.a), b: at(b), out: at(out), batch, m, k, n, aBatchBytes: aBatch, bBatchBytes: bBatch, aRowBytes: aRow, aColBytes: aCol, outBatchBytes: m * n * 4, chunk });
      if (right?.temporary) be.disposeData(b.dataId);
      return out;
    }
    if (!attrs.transposeA && !attrs.transposeB) return original.kernelFunc(args as never);
    const a = attrs.transposeA ? flip(inputs.a, backend) : inputs.a;
    const right = attrs.transposeB ? transposedRight(inputs.b, be) : undefined;
    const b = right?.transposed ?? inputs.b;
    const out = original.kernelFunc({ inputs: { a, b }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } } as never);
    if (a !== inputs.a) be.disposeData(a.dataId);
    if (right?.temporary) be.disposeData(b.dataId);
    return out;
  };
  Object.assign(kernelFunc, { transposesExplicitly: true, stock: original.kernelFunc });
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc });
  return true;
}

/**
 * The kernel tfjs-backend-wasm registered under `name` (BatchMatMul or Transpose) where the lab's
 * replaces it (the tests hold the two to the same bits); undefined before registerWasmKernels has run.
 */
export function stockWasmKernel(tf: typeof TF, name: "BatchMatMul" | "Transpose"): TF.KernelFunc | undefined {
  return (tf.getKernel(name, "wasm")?.kernelFunc as { stock?: TF.KernelFunc } | undefined)?.stock;
}

/** The shape of a product the SIMD kernel can take. */
interface ProductPlan {
  batch: number;
  m: number;
  k: number;
  n: number;
  /** One left (right) matrix for the whole batch. */
  broadcastA: boolean;
  broadcastB: boolean;
  outShape: number[];
}

/**
 * The SIMD kernel's plan for a product, or undefined where the stock path stays: float32
 * products, non-empty, whose batch dimensions are equal or one side's are all 1 (other broadcasts,
 * such as [2, 1] against [1, 3], keep the stock path). The caller decides which single matrices
 * (batch 1) it takes.
 */
function productPlan(tf: typeof TF, a: TF.TensorInfo, b: TF.TensorInfo, transposeA: boolean, transposeB: boolean): ProductPlan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const [batchA, batchB] = [size(outerA), size(outerB)];
  const batch = Math.max(batchA, batchB);
  if (batch === 0) return undefined; // an empty batch: the stock kernel's
  const same = outerA.length === outerB.length && outerA.every((d, i) => d === outerB[i]);
  if (!same && batchA !== 1 && batchB !== 1) return undefined;
  const [ra, ca] = a.shape.slice(-2);
  const [rb, cb] = b.shape.slice(-2);
  const [m, k] = transposeA ? [ca, ra] : [ra, ca];
  const [kb, n] = transposeB ? [cb, rb] : [rb, cb];
  if (k !== kb || m === 0 || n === 0 || k === 0) return undefined; // the stock kernel names a mismatch and handles empty products
  const outer = tf.backend_util.assertAndGetBroadcastShape(outerA, outerB);
  return { batch, m, k, n, broadcastA: batchA === 1, broadcastB: batchB === 1, outShape: [...outer, m, n] };
}

/**
 * One matrix with a transposed left operand of fewer than 4 rows and a right operand as stored (a
 * LoRA A factor's gradient, [tokens, r]ᵀ·[tokens, in]): XNNPACK would pack the whole right operand
 * for these few rows at every call (about 1 GFLOP/s measured on the large preset's
 * [1024, 2]ᵀ·[1024, 1536]), where the SIMD kernel reads it once, as stored.
 */
function fewRowsOfTransposed(plan: ProductPlan, transposeA: boolean, transposeB: boolean): boolean {
  return plan.batch === 1 && transposeA && !transposeB && plan.m < 4 && plan.n >= 4;
}

/**
 * Multiply-adds (batch·m·k·n) below which a batched product stays on the calling thread. Handing a
 * slice to a helper and waiting for it costs about 10 µs here (2 cores; a product of 2^18
 * multiply-adds took 0.011 ms alone and 0.021 ms shared), and a shared product of 2^20 was still
 * slower than one thread on a loaded machine (0.84×): from 2^21 (about 0.09 ms on one thread) the
 * hand-off is a tenth of the work or less. bench/platform.bench.ts times the attention products.
 */
export const THREADED_MIN_MULTIPLY_ADDS = 2 ** 21;

/** A batched product's runner: the kernel on the calling thread, or shared with the helper threads. */
type BatchedRunner = (product: BatchedProduct) => void;

const batchedRunners = new WeakMap<object, BatchedRunner | null>();
/** The helper pools by backend module, for batchedProductThreads. */
const batchedPools = new WeakMap<object, BatchedMatMulThreads>();

/**
 * The threads the SIMD batched product shares its large products among on `tf`'s current backend:
 * 1 on one thread, before the backend's first batched product, or after a helper was lost.
 */
export function batchedProductThreads(tf: typeof TF): number {
  const module = (tf.backend() as unknown as { wasm?: object }).wasm;
  return (module && batchedPools.get(module)?.threads) ?? 1;
}

/**
 * Starts the batched product's helper threads on `tf`'s wasm backend (they start at its first
 * batched product) and settles when they have: what a measurement waits for before it times.
 * Returns the threads products will be shared among.
 */
export async function batchedProductReady(tf: typeof TF): Promise<number> {
  tf.tidy(() => tf.matMul(tf.ones([2, 1, 1]), tf.ones([2, 1, 1])));
  const module = (tf.backend() as unknown as { wasm?: object }).wasm;
  const pool = module && batchedPools.get(module);
  return pool ? pool.ready() : 1;
}

/**
 * The SIMD kernel on a wasm backend's memory (the threaded build's shared `wasmMemory`, or the
 * single-threaded build's exported `memory`), once per backend module; null where neither is
 * found or the engine does not take the module, and the stock path stays. On the threaded build
 * with more than one thread, products of at least THREADED_MIN_MULTIPLY_ADDS are shared with
 * `threads − 1` helper threads (wasm-batched-matmul-threads.ts), which the backend's dispose ends.
 */
function batchedMatMulOn(backend: { wasm: unknown; dispose(): void }, threads: number): BatchedRunner | null {
  const module = backend.wasm as { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } } | undefined;
  if (!module) return null;
  let runner = batchedRunners.get(module);
  if (runner === undefined) {
    const memory = module.wasmMemory ?? module.asm?.memory;
    const pool = memory && BatchedMatMulThreads.start(memory, threads);
    const bmm = pool?.bmm ?? (memory && instantiateBatchedMatMul(memory));
    runner = null;
    if (pool) {
      batchedPools.set(module, pool);
      const dispose = backend.dispose.bind(backend);
      backend.dispose = () => {
        pool.close();
        dispose();
      };
      runner = (p) => (p.batch * p.m * p.k * p.n >= THREADED_MIN_MULTIPLY_ADDS ? pool.run(p) : pool.bmm(...kernelArgs(p)));
    } else if (bmm) runner = (p) => bmm(...kernelArgs(p));
    batchedRunners.set(module, runner);
  }
  return runner;
}

/**
 * The engine keeps every tensor a gradient needs by cloning it (Engine.saveTensorsForBackwardMode
 * calls the Identity kernel for each saved input and output). The cpu, webgl and webgpu backends'
 * Identity shares the data and counts a reference; tfjs-backend-wasm 4.22's copies it. So on wasm
 * every activation the backward pass keeps existed twice: measured on fortunes-gpt-large (LoRA,
 * windows of 256), the copies were 47% of the bytes the step allocated, and at 8 windows the heap
 * reached 3.4 GiB of wasm32's 4 GiB. Tensors are immutable (a variable's assign swaps its data
 * id) and the wasm backend already counts references (Reshape shares its input the same way), so
 * Identity shares here too: the same values, half the memory.
 */
function shareIdentity(tf: typeof TF): boolean {
  const original = tf.getKernel("Identity", "wasm");
  if (!original || (original.kernelFunc as { sharesData?: boolean }).sharesData) return false;
  const kernelFunc = ({ inputs, backend }: KernelArgs): TF.TensorInfo => {
    const { x } = inputs;
    (backend as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  Object.assign(kernelFunc, { sharesData: true });
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({ ...original, kernelFunc: kernelFunc as unknown as TF.KernelFunc });
  return true;
}

/** wasm32's address space: the most memory the wasm backend's heap can grow to (4 GiB less one 64 KiB page). */
export const WASM_HEAP_MAX_BYTES = 2 ** 32 - 2 ** 16;

/**
 * The largest single allocation the wasm heap's allocator handles: emscripten's sbrk takes a
 * signed increment, so a request of 2 GiB or more wraps to a negative one and malloc answers a
 * pointer to memory it does not have (measured: 4 GiB − 1 MiB answered address 92 376).
 */
export const WASM_MAX_ALLOCATION_BYTES = 2 ** 31 - 1;

/**
 * tfjs-backend-wasm takes a tensor's memory with `_malloc` and never checks the answer. When the
 * heap cannot grow (wasm32 stops at 4 GiB), malloc answers 0, the tensor is registered at address
 * 0, and the kernel writing it overwrites the allocator's own state and the static data from the
 * bottom of memory; a later kernel then dies with "memory access out of bounds" (the Transpose
 * of a transposed matrix product, typically) or the module aborts, and the backend is unusable
 * for the rest of the process. This guard refuses such an allocation with a structured error
 * before anything is written (and one too large for the allocator before it is asked), so the
 * step fails cleanly, its tidy scope frees what it made, and the message says what to change.
 */
function guardAllocations(tf: typeof TF): boolean {
  const wasm = (tf.backend() as unknown as { wasm?: WasmModuleLike & { allocationsGuarded?: boolean } }).wasm;
  if (!wasm?._malloc || wasm.allocationsGuarded) return false;
  // emscripten's _malloc is a stub that replaces itself with the module's export on its first
  // call: call it once so the function captured below is the allocator itself
  wasm._free(wasm._malloc(8));
  const malloc = wasm._malloc;
  wasm._malloc = (bytes: number) => {
    if (bytes > WASM_MAX_ALLOCATION_BYTES) throw wasmOutOfMemory(bytes, wasm.HEAPU8.length);
    const pointer = malloc(bytes) >>> 0;
    if (bytes > 0 && (pointer === 0 || pointer + bytes > wasm.HEAPU8.length)) throw wasmOutOfMemory(bytes, wasm.HEAPU8.length);
    return pointer;
  };
  wasm.allocationsGuarded = true;
  return true;
}

/** The refusal of an allocation the wasm heap cannot hold. */
export function wasmOutOfMemory(bytes: number, heapBytes: number): BackendError {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  const what =
    bytes > WASM_MAX_ALLOCATION_BYTES
      ? `${mib(bytes)} in one piece (its allocator stops below 2 GiB)`
      : `${mib(bytes)}: its heap holds ${mib(heapBytes)} of the ${mib(WASM_HEAP_MAX_BYTES)} wasm32 can address`;
  return new BackendError({
    code: "wasm/out-of-memory",
    message: `the wasm backend could not allocate ${what}`,
    hint: "lower the batch size (training.batch_size, or the batch the caller passes), use a smaller model, or run on a GPU backend (LAB_TF_BACKEND=webgpu; README, section GPU)",
    fields: { bytes, heapBytes, heapMaxBytes: WASM_HEAP_MAX_BYTES, allocationMaxBytes: WASM_MAX_ALLOCATION_BYTES },
  });
}

/**
 * Registers the missing kernels on the wasm backend; idempotent. `threads`: the backend's thread
 * count, which the SIMD batched product shares its work among (on the threaded build).
 */
export function registerWasmKernels(tf: typeof TF, threads = 1): string[] {
  const added: string[] = [];
  const kernels: Array<[string, (args: KernelArgs) => TF.TensorInfo]> = [
    ["UnsortedSegmentSum", unsortedSegmentSum],
    ["Conv2DBackpropFilter", makeConv2DBackpropFilter(tf)],
  ];
  for (const [kernelName, kernelFunc] of kernels) {
    if (tf.getKernel(kernelName, "wasm")) continue;
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: kernelFunc as unknown as TF.KernelFunc });
    added.push(kernelName);
  }
  // before fastMatMul, which transposes its flagged operands with the Transpose kernel it finds
  if (fastTranspose(tf)) added.push("Transpose (the last two axes swapped in tiles)");
  if (fastMatMul(tf, threads)) added.push(`BatchMatMul (batches and rank-r products on SIMD${threads > 1 ? ` on ${threads} threads` : ""}, other transposed operands through XNNPACK)`);
  if (shareIdentity(tf)) added.push("Identity (shares its input's data)");
  if (tf.getBackend() === "wasm" && guardAllocations(tf)) added.push("allocation guard (wasm/out-of-memory)");
  return added;
}
