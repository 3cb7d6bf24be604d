/**
 * The SIMD batched product (wasm-batched-matmul.ts) on every configured thread.
 *
 * XNNPACK's thread pool serves only the products XNNPACK computes; the lab's batched product ran
 * on the calling thread alone. Here a product is cut into slices of whole batch entries or of
 * whole output rows, never along the shared dimension, so each output element is summed by one
 * thread in the kernel's own order and the result is bitwise the single-threaded one (and so the
 * stock kernel's). Helper threads (node:worker_threads), started once, instantiate the same
 * compiled module on the backend's own shared WebAssembly.Memory (the threaded build's heap; a
 * shared memory's growth is seen by every thread's instance, and the heap only grows in the
 * allocator, never while a product runs). Each helper takes its slice from a control block in a
 * SharedArrayBuffer (Atomics.notify); the calling thread computes the first slice itself and then
 * waits (Atomics.wait) for the others.
 *
 * Failures: a helper whose kernel throws (a trap) reports it, and the call fails with
 * `wasm/helper-thread-failed`. A helper that has exited, or that does not answer within
 * LOST_AFTER_MS plus a hundred times the calling thread's own slice, fails the call with
 * `wasm/helper-thread-lost` (it cannot be told apart from a very slow one: a blocked caller hears no
 * exit event); the pool then closes for good and every later product runs on the
 * calling thread alone, with the same bits. The helpers never keep the process alive (unref), and
 * close() (called when the backend is disposed) ends them.
 */
import { Worker } from "node:worker_threads";
import { BackendError } from "./errors.js";
import { type BatchedMatMulFn, compileBatchedMatMul, instantiateBatchedMatMul, isSharedMemory } from "./wasm-batched-matmul.js";

/** One call of the kernel: bmm's thirteen arguments (pointers and strides in bytes). */
export interface BatchedProduct {
  a: number;
  b: number;
  out: number;
  batch: number;
  m: number;
  k: number;
  n: number;
  aBatchBytes: number;
  bBatchBytes: number;
  aRowBytes: number;
  aColBytes: number;
  outBatchBytes: number;
  /** Terms per partial sum: STOCK_CHUNK (the stock loop's order) or WHOLE_CHUNK (XNNPACK's). */
  chunk: number;
}

/** The kernel's arguments in its parameter order. */
export const kernelArgs = (p: BatchedProduct): Parameters<BatchedMatMulFn> => [
  p.a,
  p.b,
  p.out,
  p.batch,
  p.m,
  p.k,
  p.n,
  p.aBatchBytes,
  p.bBatchBytes,
  p.aRowBytes,
  p.aColBytes,
  p.outBatchBytes,
  p.chunk,
];

/** The kernel's register block is two rows: row slices start on even rows. */
const ROW_STEP = 2;

/** Cuts [0, count) into `parts` contiguous ranges whose sizes (multiples of `step`, but the last) differ by at most one step. */
function ranges(count: number, parts: number, step: number): Array<[number, number]> {
  const units = Math.ceil(count / step);
  const out: Array<[number, number]> = [];
  for (let t = 0, start = 0; t < parts && start < count; t++) {
    const share = Math.floor(units / parts) + (t < units % parts ? 1 : 0);
    const end = Math.min(count, start + share * step);
    if (end > start) out.push([start, end]);
    start = end;
  }
  return out;
}

/**
 * `product` cut into at most `parts` slices that together write each output element exactly once,
 * each summed as the whole product sums it: by batch entries when they divide evenly among the
 * threads (or the matrices have too few rows to share), else by output rows of every matrix.
 */
export function sliceProduct(product: BatchedProduct, parts: number): BatchedProduct[] {
  const { batch, m } = product;
  if (parts <= 1) return [product];
  const byEntries = batch % parts === 0 || m < ROW_STEP * parts;
  if (byEntries) {
    return ranges(batch, parts, 1).map(([p0, p1]) => ({
      ...product,
      a: product.a + p0 * product.aBatchBytes,
      b: product.b + p0 * product.bBatchBytes,
      out: product.out + p0 * product.outBatchBytes,
      batch: p1 - p0,
    }));
  }
  return ranges(m, parts, ROW_STEP).map(([i0, i1]) => ({
    ...product,
    a: product.a + i0 * product.aRowBytes,
    out: product.out + i0 * product.n * 4,
    m: i1 - i0,
  }));
}

// --- the control block: one row of Int32 per helper -------------------------------------------

/** A helper's state, in the first word of its row. */
const State = { idle: 0, posted: 1, done: 2, failed: 3, close: 4, broken: 5, starting: 6 } as const;
/** Words per helper: the state, then the kernel's thirteen arguments. */
const ROW_WORDS = 16;

/** Seconds of silence, beyond a hundred times the calling thread's own slice, after which a helper is taken for lost. */
export const LOST_AFTER_MS = 10_000;

/**
 * What each helper runs: instantiate the kernel on the shared memory, then take slices from its
 * row of the control block until told to close. It is given work only once it reports `idle`
 * (ready), so a helper still starting never delays a product. A kernel that throws reports
 * `failed`; an instantiation that throws reports `broken` and ends the helper.
 */
const HELPER_SOURCE = `
"use strict";
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, control, row } = workerData;
const S = ${JSON.stringify(State)};
const words = new Int32Array(control, row * ${ROW_WORDS} * 4, ${ROW_WORDS});
let bmm;
try {
  bmm = new WebAssembly.Instance(module, { env: { memory } }).exports.bmm;
  Atomics.compareExchange(words, 0, S.starting, S.idle);
  parentPort.postMessage("ready");
} catch {
  Atomics.store(words, 0, S.broken);
  Atomics.notify(words, 0);
}
while (bmm) {
  const state = Atomics.load(words, 0);
  if (state === S.close) break;
  if (state !== S.posted) {
    Atomics.wait(words, 0, state);
    continue;
  }
  let outcome = S.done;
  try {
    bmm(words[1], words[2], words[3], words[4], words[5], words[6], words[7], words[8], words[9], words[10], words[11], words[12], words[13]);
  } catch {
    outcome = S.failed;
  }
  Atomics.store(words, 0, outcome);
  Atomics.notify(words, 0);
}
`;

/** The batched product on the calling thread and `threads − 1` helpers, over one shared memory. */
export class BatchedMatMulThreads {
  /** The kernel on the calling thread. */
  readonly bmm: BatchedMatMulFn;
  private readonly helpers: Worker[] = [];
  private readonly control: Int32Array;
  /** Why the helpers can no longer be used (a lost helper, or close()); undefined while they can. */
  private closedBecause: string | undefined;
  /** A helper seen to exit between calls: the next call fails naming it. */
  private exited: { helper: number; exitCode: number } | undefined;

  private constructor(
    memory: WebAssembly.Memory,
    module: WebAssembly.Module,
    bmm: BatchedMatMulFn,
    threads: number,
    private readonly lostAfterMs: number,
  ) {
    this.bmm = bmm;
    this.control = new Int32Array(new SharedArrayBuffer((threads - 1) * ROW_WORDS * 4));
    for (let row = 0; row < threads - 1; row++) this.control[row * ROW_WORDS] = State.starting;
    for (let row = 0; row < threads - 1; row++) {
      const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { module, memory, control: this.control.buffer, row }, stdout: false, stderr: false });
      worker.unref();
      worker.on("error", () => {}); // its exit is what counts, recorded below
      worker.on("exit", (exitCode) => {
        if (this.closedBecause === undefined) this.exited ??= { helper: row, exitCode };
      });
      this.helpers.push(worker);
    }
    this.started = Promise.all(this.helpers.map((worker) => new Promise<void>((resolve) => worker.once("message", () => resolve()).once("exit", () => resolve())))).then(() => {});
  }

  /** Settles when every helper has started (or failed to): until then products go to the helpers that have. */
  private readonly started: Promise<void>;

  /** The threads products are shared among once every helper has started. */
  async ready(): Promise<number> {
    await this.started;
    return this.threads;
  }

  /** The helpers that have started and wait for work. */
  private readyRows(): number[] {
    const rows: number[] = [];
    for (let row = 0; row < this.helpers.length; row++) if (Atomics.load(this.control, row * ROW_WORDS) === State.idle) rows.push(row);
    return rows;
  }

  /**
   * The pool for `memory` on `threads` threads; undefined where there is nothing to share (one
   * thread, a memory that is not shared) or the engine does not take the kernel.
   */
  static start(memory: WebAssembly.Memory, threads: number, options: { lostAfterMs?: number } = {}): BatchedMatMulThreads | undefined {
    if (threads <= 1 || !isSharedMemory(memory)) return undefined;
    const module = compileBatchedMatMul(memory);
    const bmm = module && instantiateBatchedMatMul(memory, module);
    return module && bmm ? new BatchedMatMulThreads(memory, module, bmm, threads, options.lostAfterMs ?? LOST_AFTER_MS) : undefined;
  }

  /** The threads a product is shared among now: the calling one and each helper that has started, or 1 once closed. */
  get threads(): number {
    return this.closedBecause === undefined ? this.readyRows().length + 1 : 1;
  }

  /** Test hook: the helper threads, to end one as a crash would. */
  get helperThreads(): readonly Worker[] {
    return this.helpers;
  }

  /**
   * Computes `product`, shared among the threads. Fails with `wasm/helper-thread-failed` when a
   * helper's kernel threw, `wasm/helper-thread-lost` when a helper has gone (the pool then closes).
   */
  run(product: BatchedProduct): void {
    if (this.exited) {
      const { helper, exitCode } = this.exited;
      this.exited = undefined;
      this.close(`helper thread ${helper} exited with code ${exitCode}`);
      throw lostHelper(helper, `exited with code ${exitCode}`);
    }
    if (this.closedBecause !== undefined) {
      this.bmm(...kernelArgs(product));
      return;
    }
    const rows = this.readyRows();
    const [own, ...others] = sliceProduct(product, rows.length + 1);
    const posted = rows.slice(0, others.length);
    for (let i = 0; i < posted.length; i++) this.post(posted[i], others[i]);
    const started = performance.now();
    try {
      this.bmm(...kernelArgs(own));
    } catch (error) {
      // the helpers finish their slices before the error leaves: a helper still computing would
      // otherwise overwrite the next call's posting with this call's answer
      for (const row of posted) if (this.await(row, this.lostAfterMs) === State.posted) this.close(`helper thread ${row} did not answer`);
      throw error;
    }
    const limitMs = this.lostAfterMs + 100 * (performance.now() - started);
    const failed: number[] = [];
    for (const row of posted) {
      const outcome = this.await(row, limitMs);
      if (outcome === State.done) continue;
      if (outcome === State.failed) {
        failed.push(row);
        continue;
      }
      // lost: the helper may still write this call's output until it stops, so the output must
      // not be reused (the kernel that throws here leaves its output tensor allocated, unregistered)
      const what = `did not answer within ${Math.round(limitMs)} ms`;
      this.close(`helper thread ${row} ${what}`);
      throw lostHelper(row, what);
    }
    if (failed.length) {
      throw new BackendError({
        code: "wasm/helper-thread-failed",
        message: `the batched matrix product [${product.batch}, ${product.m}, ${product.k}, ${product.n}] failed on helper thread${failed.length > 1 ? "s" : ""} ${failed.join(", ")} (the kernel trapped: an operand outside the heap)`,
        hint: "this is a bug in the caller's pointers or shapes; run with LAB_THREADS=1 to see the same failure on one thread",
        fields: { helpers: failed, batch: product.batch, m: product.m, k: product.k, n: product.n },
      });
    }
  }

  /** Ends the helpers (idempotent); later products run on the calling thread alone. */
  close(reason = "closed"): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    for (let row = 0; row < this.helpers.length; row++) {
      Atomics.store(this.control, row * ROW_WORDS, State.close);
      Atomics.notify(this.control, row * ROW_WORDS);
      void this.helpers[row].terminate();
    }
  }

  private post(row: number, slice: BatchedProduct): void {
    const base = row * ROW_WORDS;
    this.control.set(kernelArgs(slice), base + 1);
    Atomics.store(this.control, base, State.posted);
    Atomics.notify(this.control, base);
  }

  /** Waits for helper `row` to finish its slice; its outcome (`done`, `failed`), or `posted` when it stayed silent past `limitMs`. */
  private await(row: number, limitMs: number): number {
    const base = row * ROW_WORDS;
    const deadline = performance.now() + limitMs;
    for (;;) {
      const state = Atomics.load(this.control, base);
      if (state !== State.posted) {
        if (state === State.done || state === State.failed) Atomics.store(this.control, base, State.idle);
        return state;
      }
      const left = deadline - performance.now();
      if (left <= 0) return state;
      Atomics.wait(this.control, base, State.posted, Math.min(left, 1000));
    }
  }
}

function lostHelper(helper: number, what: string): BackendError {
  return new BackendError({
    code: "wasm/helper-thread-lost",
    message: `helper thread ${helper} of the batched matrix product ${what}; this product failed, and later ones run on the calling thread alone`,
    hint: "retry the step (the next products give the same numbers on one thread); if helpers keep dying, run with LAB_THREADS=1 and report the exit code",
    fields: { helper, what },
  });
}
