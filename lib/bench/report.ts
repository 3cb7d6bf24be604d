import { textTable, type Row } from "../notebook/table.js";

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
