import { encodeModule, F32, FunctionBody, I32, signedLeb128, unsignedLeb128, V128, type ValueType } from "../wasm-emitter.js";

/**
 * A batched matrix product for tfjs-backend-wasm written as a small WebAssembly SIMD module that
 * runs on the backend's own heap.
 *
 * tfjs-backend-wasm 4.22 multiplies a batch of more than one matrix with a scalar loop (its
 * `slow_batch_matmul`: one multiply-add at a time, the right operand read down its columns), at
 * about 3 GFLOP/s here against XNNPACK's 16-30 for one dense product. Attention's products (QKᵀ and
 * attention×V per head, and their gradients) and the per-example gradient rows Σₜ xₜ ⊗ δₜ are
 * all such batches of small matrices. This module computes the same products four columns at a
 * time (f32x4), on a register block of R rows × V vectors, reading the right operand along its
 * rows. It keeps the stock loop's order of summation exactly: each output is the sum over the
 * shared dimension in chunks of 48 (the stock loop's block), each chunk summed term by term from
 * the first, multiply then add in float32 (WebAssembly never fuses them), and each chunk's sum
 * added to the output. So its results are bitwise those of the stock kernel. Called with one chunk
 * of the whole shared dimension, it sums each output term by term from zero, which is XNNPACK's
 * order for one dense product (its f32 GEMM never splits the shared dimension), so it gives
 * XNNPACK's bits too.
 *
 * The module is assembled here from its instructions (the WebAssembly core specification's binary
 * format; no compiler is needed) and imports the backend's memory, so it reads and writes the
 * tensors where they live.
 */

/** The stock loop's block along the shared dimension: partial sums are added to the output per chunk. */
export const STOCK_CHUNK = 48;

/** The chunk argument for XNNPACK's order: one chunk of the whole shared dimension, summed term by term from zero. */
export const WHOLE_CHUNK = 0;

/** Register block: rows of the left operand per step, and f32x4 vectors of output columns per step. */
const ROWS = 2;
const VECTORS = 4;

// --- instructions (WebAssembly core specification, section 5.4) -------------------------------

/** The instructions used here, by their names in the specification's text format. */
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  if: [0x04, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...unsignedLeb128(depth)],
  brIf: (depth: number) => [0x0d, ...unsignedLeb128(depth)],
  select: [0x1b],
  localGet: (i: number) => [0x20, ...unsignedLeb128(i)],
  localSet: (i: number) => [0x21, ...unsignedLeb128(i)],
  i32Const: (n: number) => [0x41, ...signedLeb128(BigInt(n))],
  i32Eqz: [0x45],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  i32LtU: [0x49],
  i32LeU: [0x4d],
  f32Load: (offset: number) => [0x2a, 2, ...unsignedLeb128(offset)],
  f32Store: (offset: number) => [0x38, 2, ...unsignedLeb128(offset)],
  f32Const0: [0x43, 0, 0, 0, 0],
  f32Add: [0x92],
  f32Mul: [0x94],
  memoryFill: [0xfc, ...unsignedLeb128(11), 0x00],
  // SIMD (prefix 0xfd); alignment hints of 4 bytes, as tensors are only 4-byte aligned
  v128Load: (offset: number) => [0xfd, ...unsignedLeb128(0x00), 2, ...unsignedLeb128(offset)],
  v128Load32Splat: [0xfd, ...unsignedLeb128(0x09), 2, 0],
  v128Store: (offset: number) => [0xfd, ...unsignedLeb128(0x0b), 2, ...unsignedLeb128(offset)],
  v128Const0: [0xfd, ...unsignedLeb128(0x0c), ...new Array(16).fill(0)],
  f32x4Add: [0xfd, ...unsignedLeb128(0xe4)],
  f32x4Mul: [0xfd, ...unsignedLeb128(0xe6)],
};

// --- the kernel ---------------------------------------------------------------------------------

/** The exported function's parameters, in order (all i32; pointers and strides in bytes). */
const PARAMS = ["a", "b", "out", "batch", "m", "k", "n", "aBatchBytes", "bBatchBytes", "aRowBytes", "aColBytes", "outBatchBytes", "chunk"] as const;

/**
 * The function body of
 *   bmm(a, b, out, batch, m, k, n, aBatchBytes, bBatchBytes, aRowBytes, aColBytes, outBatchBytes, chunk)
 * out[p] = A[p]·B[p] for p < batch, where out[p] is [m, n] row-major at out + p·outBatchBytes, B[p]
 * is [k, n] row-major at b + p·bBatchBytes, and A[p]'s element (i, s) is at a + p·aBatchBytes +
 * i·aRowBytes + s·aColBytes (a transposed left operand is read through its strides; a batch
 * stride of 0 broadcasts one matrix over the batch). An output batch stride larger than m·n·4
 * lets a call compute some rows of every matrix (a thread's share: wasm-batched-matmul-threads.ts).
 * `chunk` is the number of terms in each partial sum added to the output: STOCK_CHUNK for the
 * stock loop's order, WHOLE_CHUNK (0, read as k) for XNNPACK's.
 */
function kernelBody(): FunctionBody {
  const fn = new FunctionBody(PARAMS.map(() => I32));
  const names = new Map<string, number>(PARAMS.map((p, i) => [p, i]));
  const local = (name: string, type: ValueType) => names.set(name, fn.local(type));
  for (const name of ["p", "i", "j", "kk", "k0", "kEnd", "A", "B", "O", "ap", "bp", "op", "nBytes"]) local(name, I32);
  for (let r = 0; r < ROWS; r++) for (let v = 0; v < VECTORS; v++) local(`acc${r}_${v}`, V128);
  for (let v = 0; v < VECTORS; v++) local(`b${v}`, V128);
  local("av", V128);
  for (let r = 0; r < ROWS; r++) local(`sacc${r}`, F32);
  local("sb", F32);
  const at = (name: string) => names.get(name)!;
  const get = (name: string) => op.localGet(at(name));
  const set = (name: string, ...value: number[][]) => [...value.flat(), ...op.localSet(at(name))];
  const add = (name: string, ...amount: number[][]) => set(name, get(name), ...amount, op.i32Add);
  /** while (cond) { body }: cond leaves an i32 on the stack. */
  const whileLoop = (cond: number[], body: number[]) => [...op.block, ...op.loop, ...cond, ...op.i32Eqz, ...op.brIf(1), ...body, ...op.br(0), ...op.end, ...op.end];

  /**
   * One block of `rows` output rows × `width` columns (16 = four vectors, 4 = one vector, 1 = a
   * scalar column) at (i, j), summed over the shared dimension in the stock loop's chunks.
   */
  const columns = (rows: number, width: number): number[] => {
    const vectors = width >= 4 ? width / 4 : 0;
    const accs = Array.from({ length: rows }, (_, r) => (vectors ? Array.from({ length: vectors }, (_, v) => `acc${r}_${v}`) : [`sacc${r}`]));
    const aAddress = (r: number) => (r === 0 ? get("ap") : [...get("ap"), ...get("aRowBytes"), ...op.i32Add]);
    const oAddress = (r: number) => (r === 0 ? get("op") : [...get("op"), ...get("nBytes"), ...op.i32Add]);
    const step: number[] = [];
    if (vectors) {
      for (let v = 0; v < vectors; v++) step.push(...set(`b${v}`, get("bp"), op.v128Load(16 * v)));
      for (let r = 0; r < rows; r++) {
        step.push(...set("av", aAddress(r), op.v128Load32Splat));
        for (let v = 0; v < vectors; v++) step.push(...set(accs[r][v], get(accs[r][v]), get("av"), get(`b${v}`), op.f32x4Mul, op.f32x4Add));
      }
    } else {
      step.push(...set("sb", get("bp"), op.f32Load(0)));
      for (let r = 0; r < rows; r++) step.push(...set(accs[r][0], get(accs[r][0]), aAddress(r), op.f32Load(0), get("sb"), op.f32Mul, op.f32Add));
    }
    step.push(...add("ap", get("aColBytes")), ...add("bp", get("nBytes")), ...add("kk", op.i32Const(1)));
    const flush: number[] = [];
    for (let r = 0; r < rows; r++) {
      accs[r].forEach((acc, v) => {
        if (vectors) flush.push(...oAddress(r), ...oAddress(r), ...op.v128Load(16 * v), ...get(acc), ...op.f32x4Add, ...op.v128Store(16 * v));
        else flush.push(...oAddress(r), ...oAddress(r), ...op.f32Load(0), ...get(acc), ...op.f32Add, ...op.f32Store(0));
      });
    }
    const chunk = [
      // kEnd = min(k0 + chunk, k)
      ...set("kEnd", get("k0"), get("chunk"), op.i32Add, get("k"), get("k0"), get("chunk"), op.i32Add, get("k"), op.i32LtU, op.select),
      ...accs.flat().flatMap((acc) => set(acc, vectors ? op.v128Const0 : op.f32Const0)),
      ...set("ap", get("A"), get("i"), get("aRowBytes"), op.i32Mul, op.i32Add, get("k0"), get("aColBytes"), op.i32Mul, op.i32Add),
      ...set("bp", get("B"), get("k0"), get("nBytes"), op.i32Mul, op.i32Add, get("j"), op.i32Const(2), op.i32Shl, op.i32Add),
      ...set("kk", get("k0")),
      ...whileLoop([...get("kk"), ...get("kEnd"), ...op.i32LtU], step),
      ...set("op", get("O"), get("i"), get("n"), op.i32Mul, get("j"), op.i32Add, op.i32Const(2), op.i32Shl, op.i32Add),
      ...flush,
      ...add("k0", get("chunk")),
    ];
    return [...set("k0", op.i32Const(0)), ...whileLoop([...get("k0"), ...get("k"), ...op.i32LtU], chunk), ...add("j", op.i32Const(width))];
  };

  /** Output rows i … i + rows − 1: full blocks of 16 columns, then of 4, then single columns. */
  const rowBlock = (rows: number): number[] => [
    ...set("j", op.i32Const(0)),
    ...whileLoop([...get("j"), ...op.i32Const(4 * VECTORS), ...op.i32Add, ...get("n"), ...op.i32LeU], columns(rows, 4 * VECTORS)),
    ...whileLoop([...get("j"), ...op.i32Const(4), ...op.i32Add, ...get("n"), ...op.i32LeU], columns(rows, 4)),
    ...whileLoop([...get("j"), ...get("n"), ...op.i32LtU], columns(rows, 1)),
  ];

  const matrix = [
    ...set("A", get("a"), get("p"), get("aBatchBytes"), op.i32Mul, op.i32Add),
    ...set("B", get("b"), get("p"), get("bBatchBytes"), op.i32Mul, op.i32Add),
    ...set("O", get("out"), get("p"), get("outBatchBytes"), op.i32Mul, op.i32Add),
    // the stock loop starts from a zeroed output and adds each chunk's sum to it
    ...get("O"),
    ...op.i32Const(0),
    ...get("m"),
    ...get("nBytes"),
    ...op.i32Mul,
    ...op.memoryFill,
    ...set("i", op.i32Const(0)),
    ...whileLoop([...get("i"), ...op.i32Const(ROWS), ...op.i32Add, ...get("m"), ...op.i32LeU], [...rowBlock(ROWS), ...add("i", op.i32Const(ROWS))]),
    ...whileLoop([...get("i"), ...get("m"), ...op.i32LtU], [...rowBlock(1), ...add("i", op.i32Const(1))]),
    ...add("p", op.i32Const(1)),
  ];
  return fn.emit(
    // chunk = chunk || k (WHOLE_CHUNK), so no chunk is empty and the loop over chunks ends
    ...set("chunk", get("chunk"), get("k"), get("chunk"), op.select),
    ...set("nBytes", get("n"), op.i32Const(2), op.i32Shl),
    ...set("p", op.i32Const(0)),
    ...whileLoop([...get("p"), ...get("batch"), ...op.i32LtU], matrix),
  );
}

/** The module's bytes: one function `bmm`, importing memory `env.memory` (shared or not, as the backend's is). */
export function batchedMatMulModule(sharedMemory: boolean): Uint8Array {
  return encodeModule([{ name: "bmm", body: kernelBody(), results: [] }], { imported: true, shared: sharedMemory });
}

/** bmm's signature (see kernelBody). */
export type BatchedMatMulFn = (
  a: number,
  b: number,
  out: number,
  batch: number,
  m: number,
  k: number,
  n: number,
  aBatchBytes: number,
  bBatchBytes: number,
  aRowBytes: number,
  aColBytes: number,
  outBatchBytes: number,
  chunk: number,
) => void;

/** True when `memory` is a shared WebAssembly.Memory (the threaded build's heap). */
export function isSharedMemory(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * The compiled kernel for `memory`'s kind (shared or not): a WebAssembly.Module, which other
 * threads instantiate on the same memory. Undefined where the engine does not take the module (no
 * WebAssembly SIMD or bulk memory).
 */
export function compileBatchedMatMul(memory: WebAssembly.Memory): WebAssembly.Module | undefined {
  const bytes = batchedMatMulModule(isSharedMemory(memory));
  if (!WebAssembly.validate(bytes as BufferSource)) return undefined;
  return new WebAssembly.Module(bytes as BufferSource);
}

/**
 * Instantiates the kernel on `memory` (the wasm backend's heap); synchronous, the module is small.
 * Undefined where the engine does not take the module.
 */
export function instantiateBatchedMatMul(memory: WebAssembly.Memory, module = compileBatchedMatMul(memory)): BatchedMatMulFn | undefined {
  if (!module) return undefined;
  return new WebAssembly.Instance(module, { env: { memory } }).exports.bmm as BatchedMatMulFn;
}
