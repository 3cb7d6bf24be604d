import { gunzipSync } from "node:zlib";
import { DatasetError } from "../errors.js";
import { FASHION_MNIST, readVerified } from "./dataset-files.js";

export const FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"] as const;

export interface ImageSet {
  /** Pixels scaled to [0, 1], row-major, n × rows × cols. */
  x: Float32Array;
  y: Int32Array;
  n: number;
  rows: number;
  cols: number;
  classes: readonly string[];
}

/** Parses an IDX file (big-endian header: magic 0x0000 TT DD, then DD dimension sizes). */
export function parseIdx(bytes: Uint8Array, what: string): { dims: number[]; data: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4 || view.getUint16(0) !== 0 || view.getUint8(2) !== 0x08) {
    throw new DatasetError({
      code: "dataset/not-idx",
      message: `${what} is not an IDX file of unsigned bytes`,
      hint: "reinstall the data set package",
      fields: { file: what },
    });
  }
  const ndim = view.getUint8(3);
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) dims.push(view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * ndim;
  const count = dims.reduce((a, b) => a * b, 1);
  if (bytes.byteLength !== offset + count) {
    throw new DatasetError({
      code: "dataset/idx-size-mismatch",
      message: `${what}: IDX header says ${count} values, file holds ${bytes.byteLength - offset}`,
      hint: "reinstall the data set package",
      fields: { file: what, declared: count, held: bytes.byteLength - offset },
    });
  }
  return { dims, data: bytes.subarray(offset) };
}

const cache = new Map<string, ImageSet>();

/** Loads Fashion-MNIST ("train": 60 000 images, "test": 10 000) after checking file hashes. */
export function loadFashionMnist(split: "train" | "test", opts: { dir?: string } = {}): ImageSet {
  const key = `${split}:${opts.dir ?? ""}:${process.env.LAB_DATASETS_FASHION_MNIST ?? ""}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const images = parseIdx(gunzipSync(readVerified(FASHION_MNIST, `${split}Images`, opts.dir)), `${split} images`);
  const labels = parseIdx(gunzipSync(readVerified(FASHION_MNIST, `${split}Labels`, opts.dir)), `${split} labels`);
  const [n, rows, cols] = images.dims;
  if (labels.dims[0] !== n)
    throw new DatasetError({
      code: "dataset/label-count-mismatch",
      message: `${split}: ${n} images but ${labels.dims[0]} labels`,
      hint: "reinstall the data set package",
      fields: { split, images: n, labels: labels.dims[0] },
    });
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  const y = Int32Array.from(labels.data);
  const set: ImageSet = { x, y, n, rows, cols, classes: FASHION_MNIST_CLASSES };
  cache.set(key, set);
  return set;
}
