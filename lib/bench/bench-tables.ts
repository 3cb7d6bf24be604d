import { type Row, textTable } from "../notebook/table.js";
import { readScalar } from "../tf/index.js";

/** Prints one benchmark table; ratios measured in the same run are the numbers to compare. */
export function printTable(title: string, rows: Row[], digits = 3): void {
  console.log(`\n${title}\n${"=".repeat(title.length)}`);
  console.log(textTable(rows, digits));
}

/** Median wall time of `fn` over `repeats` runs after one warm-up, in milliseconds. */
export async function timeMs(fn: () => unknown | Promise<unknown>, repeats = 5): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/**
 * Waits until `product` is computed, on any backend, by reading back its first value. Reading all
 * of it would time a copy into fresh host memory as well: on this machine 4 MiB of fresh pages
 * cost 6–12 ms to touch (a 1024² product read back took 24 ms on one thread, where the product
 * itself took 30 ms on two). Disposes the product.
 */
export async function awaitProduct(tf: typeof import("@tensorflow/tfjs"), product: import("@tensorflow/tfjs").Tensor): Promise<void> {
  const first = tf.tidy(() => product.reshape([-1]).slice(0, 1));
  await readScalar(first);
  tf.dispose([first, product]);
}

/**
 * The backend's large-matmul rate in GFLOP/s: the yardstick the training benchmarks divide by.
 * Each product is awaited by its first value (awaitProduct) and disposed outside `tf.tidy`: tidy
 * walks a returned TypedArray element by element looking for tensors, which made this ten times
 * slower than the matmul.
 */
export async function matmulGflops(tf: typeof import("@tensorflow/tfjs"), n: number, repeats = 4): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const ms = await timeMs(() => awaitProduct(tf, tf.matMul(a, b)), repeats);
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / (ms * 1e6);
}
