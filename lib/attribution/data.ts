/**
 * Fashion-MNIST for the attribution experiments, read from Debian's dataset-fashion-mnist package
 * (IDX files, gzip). Images are average-pooled to small feature vectors so that the convex
 * problems have Hessians small enough to invert exactly.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { rng as makeRng } from "../notebook/random.js";
import { AttributionError } from "./errors.js";
import type { Batch } from "./model.js";

export const FASHION_MNIST_DIR = process.env.LAB_FASHION_MNIST_DIR ?? "/usr/share/datasets/fashion-mnist";
export const FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

export interface RawImages {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  rows: number;
  cols: number;
  sha256: { images: string; labels: string };
}

const cache = new Map<string, RawImages>();

function readIdxFile(path: string): { bytes: Buffer; sha: string } {
  if (!existsSync(path)) {
    throw new AttributionError(`${path} not found`, "install Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or set LAB_FASHION_MNIST_DIR");
  }
  const gz = readFileSync(path);
  return { bytes: gunzipSync(gz), sha: createHash("sha256").update(gz).digest("hex") };
}

/** The raw split as stored: IDX3 images (magic 0x00000803) and IDX1 labels (0x00000801). */
export function loadFashionMnist(split: "train" | "test"): RawImages {
  const hit = cache.get(split);
  if (hit) return hit;
  const prefix = split === "train" ? "train" : "t10k";
  const img = readIdxFile(join(FASHION_MNIST_DIR, `${prefix}-images-idx3-ubyte.gz`));
  const lab = readIdxFile(join(FASHION_MNIST_DIR, `${prefix}-labels-idx1-ubyte.gz`));
  if (img.bytes.readUInt32BE(0) !== 0x803 || lab.bytes.readUInt32BE(0) !== 0x801) {
    throw new AttributionError("Fashion-MNIST files have the wrong IDX magic numbers", "reinstall dataset-fashion-mnist");
  }
  const n = img.bytes.readUInt32BE(4);
  const rows = img.bytes.readUInt32BE(8);
  const cols = img.bytes.readUInt32BE(12);
  const out: RawImages = {
    images: new Uint8Array(img.bytes.subarray(16, 16 + n * rows * cols)),
    labels: new Uint8Array(lab.bytes.subarray(8, 8 + n)),
    n,
    rows,
    cols,
    sha256: { images: img.sha, labels: lab.sha },
  };
  cache.set(split, out);
  return out;
}

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
  const classes = opts.classes ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const pool = opts.pool ?? 1;
  if (28 % pool !== 0) throw new AttributionError(`pool ${pool} does not divide 28`, "use 1, 2, 4, 7, 14 or 28");
  const side = 28 / pool;
  const dim = side * side;
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const eligible: number[] = [];
  for (let i = 0; i < raw.n; i++) if (classIndex.has(raw.labels[i]) && !opts.exclude?.has(i)) eligible.push(i);
  makeRng(opts.seed).fork(`sample/${split}`).shuffle(eligible);
  if (eligible.length < opts.n) throw new AttributionError(`only ${eligible.length} examples available, ${opts.n} asked`, "ask for fewer examples");
  const picked = eligible.slice(0, opts.n);
  const x = new Float64Array(opts.n * dim);
  const y = new Int32Array(opts.n);
  const source = new Int32Array(picked);
  picked.forEach((src, i) => {
    y[i] = classIndex.get(raw.labels[src])!;
    const img = raw.images.subarray(src * 784, (src + 1) * 784);
    for (let r = 0; r < side; r++)
      for (let c = 0; c < side; c++) {
        let s = 0;
        for (let a = 0; a < pool; a++) for (let b = 0; b < pool; b++) s += img[(r * pool + a) * 28 + c * pool + b];
        x[i * dim + r * side + c] = s / (255 * pool * pool);
      }
  });
  return { x, y, n: opts.n, dim, source, classes, side };
}
