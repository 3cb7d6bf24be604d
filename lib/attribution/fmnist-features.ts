/**
 * Fashion-MNIST for the attribution experiments, through the Intelligence layer's loader (Debian's
 * dataset-fashion-mnist, every file checked against its recorded sha256). Images are average-pooled
 * to small feature vectors so that the convex problems have Hessians small enough to invert exactly.
 */
import { FASHION_MNIST_CLASSES, loadFashionMnist } from "../intelligence/datasets/index.js";
import { rng as makeRng } from "../random.js";
import { AttributionError } from "./errors.js";
import type { Batch } from "./model.js";

export const FASHION_CLASSES: readonly string[] = FASHION_MNIST_CLASSES;

export interface SampleOptions {
  n: number;
  seed: number;
  /** Keep only these classes (relabelled 0..C−1 in the given order). Default all ten. */
  classes?: number[];
  /** Average-pool factor: 28/pool pixels a side (1 = raw 784 features). */
  pool?: number;
  /** Rows of the source split to draw from (the rest stays unseen). */
  exclude?: Set<number>;
}

export interface Sample extends Batch {
  /** Row in the source split of each example. */
  source: Int32Array;
  classes: number[];
  side: number;
}

/** A seeded, class-filtered, pooled sample, features scaled to [0, 1]. */
export function sampleFashion(split: "train" | "test", opts: SampleOptions): Sample {
  const raw = loadFashionMnist(split);
  if (raw.rows !== 28 || raw.cols !== 28)
    throw new AttributionError({
      code: "dataset/unexpected-image-size",
      message: `Fashion-MNIST images are ${raw.rows}×${raw.cols}, expected 28×28`,
      hint: "reinstall dataset-fashion-mnist",
      fields: { rows: raw.rows, cols: raw.cols },
    });
  const classes = opts.classes ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const pool = opts.pool ?? 1;
  if (28 % pool !== 0)
    throw new AttributionError({
      code: "dataset/bad-pool",
      message: `pool ${pool} does not divide 28`,
      hint: "use 1, 2, 4, 7, 14 or 28",
      fields: { pool },
    });
  const side = 28 / pool;
  const dim = side * side;
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const eligible: number[] = [];
  for (let i = 0; i < raw.n; i++) if (classIndex.has(raw.y[i]) && !opts.exclude?.has(i)) eligible.push(i);
  makeRng(opts.seed).fork(`sample/${split}`).shuffle(eligible);
  if (eligible.length < opts.n)
    throw new AttributionError({
      code: "dataset/too-few-examples",
      message: `only ${eligible.length} examples available, ${opts.n} asked`,
      hint: "ask for fewer examples",
      fields: { available: eligible.length, asked: opts.n },
    });
  const picked = eligible.slice(0, opts.n);
  const x = new Float64Array(opts.n * dim);
  const y = new Int32Array(opts.n);
  const source = new Int32Array(picked);
  picked.forEach((src, i) => {
    y[i] = classIndex.get(raw.y[src])!;
    // the loader scales bytes to float32 k/255; rounding recovers the byte exactly, so pooled sums
    // are the same integers (and the features the same float64 values) as from the raw IDX bytes
    const img = raw.x.subarray(src * 784, (src + 1) * 784);
    for (let r = 0; r < side; r++)
      for (let c = 0; c < side; c++) {
        let s = 0;
        for (let a = 0; a < pool; a++) for (let b = 0; b < pool; b++) s += Math.round(img[(r * pool + a) * 28 + c * pool + b] * 255);
        x[i * dim + r * side + c] = s / (255 * pool * pool);
      }
  });
  return { x, y, n: opts.n, dim, source, classes, side };
}
