/**
 * How long work reports its progress: layers take an optional `onProgress(done, total, stage?)`
 * and never draw (lib/notebook/progress.ts draws). `done` rises to `total`; the last call has
 * `done === total`. A callback only observes: passing one never changes what is computed.
 */
export type OnProgress = (done: number, total: number, stage?: string) => void;

/**
 * One turn of the event loop, so that a progress line drawn between synchronous stages reaches
 * the notebook while the work goes on (a resolved promise alone would not let I/O run).
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
