import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { AbiCoder, keccak256 } from "ethers";
import { devWallet } from "../chain/keys.js";
import { type Rng, rng } from "../random.js";
import { FASHION_MNIST, FORTUNES_MIN } from "./datasets/dataset-files.js";
import { type ImageSet, loadFashionMnist } from "./datasets/fashion-mnist.js";
import { IntelligenceError } from "./errors.js";

/**
 * A datanet: a data set contributed by several parties (addresses), with its manifest: one
 * hash per sample and a Merkle root over (index, contributor, sampleHash) leaves, so a
 * contributor can prove on chain that a given sample is theirs and part of this datanet.
 */
export type ContributorKind = "iid" | "non-iid" | "duplicate" | "label-flip";

export interface ContributorPlan {
  name: string;
  kind: ContributorKind;
  samples: number;
  /** non-iid: Dirichlet concentration over classes (small = few classes). Default 0.3. */
  dirichletAlpha?: number;
  /** non-iid: restrict to these classes instead of a Dirichlet draw. */
  classes?: number[];
  /** duplicate: whose samples this contributor re-submits (exact copies). */
  duplicateOf?: string;
  /** label-flip: label mapping; default swaps pairs 0↔6 (T-shirt↔Shirt), 2↔4 (Pullover↔Coat), 5↔7 (Sandal↔Sneaker), ... */
  flip?: Record<number, number>;
}

/** A shift of 8-bit pixels, exact in bytes (so sample hashes are well defined): what a datanet plan names. */
interface ByteShift {
  pixels: "uint8";
  meaning: string;
  apply(src: Uint8Array, rows: number, cols: number): Uint8Array;
}

/** A shift of pixel intensities in [0, 1], per pixel, with its inverse (to draw a shifted image as it was). */
interface UnitShift {
  pixels: "unit";
  meaning: string;
  apply(v: number): number;
  undo(v: number): number;
}

/**
 * Input shifts: a datanet's domain differs from the base model's pretraining data. One catalogue
 * for every layer: the Factory's datanets shift bytes; the attribution benchmark's LoRA datanets
 * shift intensities in [0, 1]. The two low-contrast entries are different transformations (a dark
 * quarter-range band, and a mid-grey band of 0.4), each kept as the runs recorded with it used it.
 */
export const IMAGE_SHIFTS = {
  none: { pixels: "uint8", meaning: "unchanged", apply: (src) => src },
  invert: { pixels: "uint8", meaning: "inverted: 255 − p", apply: (src) => src.map((p) => 255 - p) },
  translate: {
    pixels: "uint8",
    meaning: "moved 4 px right and 3 px down, an off-centre camera",
    apply(src, rows, cols) {
      const out = new Uint8Array(src.length);
      for (let r = 3; r < rows; r++) for (let c = 4; c < cols; c++) out[r * cols + c] = src[(r - 3) * cols + (c - 4)];
      return out;
    },
  },
  "low-contrast": { pixels: "uint8", meaning: "a quarter of the contrast on a grey floor (dim light): 64 + ⌊p/4⌋, in [64, 127]", apply: (src) => src.map((p) => 64 + (p >> 2)) },
  "low-contrast-mid-grey": { pixels: "unit", meaning: "intensities squeezed into a mid-grey band: 0.3 + 0.4v, in [0.3, 0.7]", apply: (v) => 0.3 + 0.4 * v, undo: (v) => (v - 0.3) / 0.4 },
} satisfies Record<string, ByteShift | UnitShift>;

type ShiftsOf<Pixels> = { [K in keyof typeof IMAGE_SHIFTS]: (typeof IMAGE_SHIFTS)[K]["pixels"] extends Pixels ? K : never }[keyof typeof IMAGE_SHIFTS];

/** The shifts of 8-bit pixels, which a datanet plan may name. */
export type ImageShift = ShiftsOf<"uint8">;
/** The shifts of intensities in [0, 1]. */
export type UnitImageShift = ShiftsOf<"unit">;

/** Intensities in [0, 1] shifted. */
export function shiftIntensities<T extends Float32Array | Float64Array>(x: T, shift: UnitImageShift): T {
  return x.map(IMAGE_SHIFTS[shift].apply) as T;
}

/** Shifted intensities taken back to the image as it was (to draw it). */
export function unshiftIntensities<T extends Float32Array | Float64Array>(x: T, shift: UnitImageShift): T {
  return x.map(IMAGE_SHIFTS[shift].undo) as T;
}

export interface DatanetPlan {
  name: string;
  dataset: "fashion-mnist";
  /** Source images drawn from this index range of the training split, [start, end). */
  sourceRange: [number, number];
  shift: ImageShift;
  contributors: ContributorPlan[];
  seed: number;
}

export interface Contributor {
  address: string;
  name: string;
  kind: ContributorKind;
  samples: number;
}

export interface DatanetManifest {
  id: string;
  name: string;
  dataset: { name: string; sha256: string; split: string; sourceRange: [number, number] };
  shift: ImageShift | "none";
  seed: number;
  contributors: Contributor[];
  /** Per sample, in datanet order: contributor index, source index, label as contributed, hash. */
  samples: Array<{ contributor: number; source: number; label: number; hash: string }>;
  leafEncoding: ["uint256", "address", "bytes32"];
  merkleRoot: string;
}

export interface Datanet {
  id: string;
  name: string;
  modality: "image" | "text";
  contributors: Contributor[];
  /** Images: n × featureSize pixels in [0, 1]. Text: n × blockSize token ids. */
  x: Float32Array | Int32Array;
  /** Labels as contributed (flipped ones included); text: next-token ids, n × blockSize. */
  y: Int32Array;
  /** Shape of one example's x and y. */
  xShape: number[];
  yShape: number[];
  /** True labels, for analysis only (a trainer must not read them). Text: equal to y. */
  yTrue: Int32Array;
  contributorOf: Int32Array;
  sampleHashes: string[];
  n: number;
  featureSize: number;
  numClasses: number;
  manifest: DatanetManifest;
  /** Text datanets: windows of the source documents no contributor used (a clean test set). */
  heldOut?: { x: Int32Array; y: Int32Array; n: number; xShape: number[]; yShape: number[] };
}

export const DEFAULT_FLIP: Record<number, number> = { 0: 6, 6: 0, 2: 4, 4: 2, 5: 7, 7: 5, 1: 3, 3: 1, 8: 9, 9: 8 };

/** Applies a shift to 8-bit pixels (exact in bytes, so sample hashes are well defined). */
export function shiftImage(src: Uint8Array, rows: number, cols: number, shift: ImageShift): Uint8Array {
  return IMAGE_SHIFTS[shift].apply(src, rows, cols);
}

function pixelsOf(set: ImageSet, i: number): Uint8Array {
  const size = set.rows * set.cols;
  const out = new Uint8Array(size);
  for (let k = 0; k < size; k++) out[k] = Math.round(set.x[i * size + k] * 255);
  return out;
}

/** keccak256(pixels ‖ label): what a contributor commits to for one sample. */
export function sampleHash(pixels: Uint8Array, label: number): string {
  const bytes = new Uint8Array(pixels.length + 1);
  bytes.set(pixels);
  bytes[pixels.length] = label;
  return keccak256(bytes);
}

function gammaSample(r: Rng, shape: number): number {
  // Marsaglia–Tsang; shape < 1 by the boost u^(1/shape)
  if (shape < 1) return gammaSample(r, shape + 1) * (r.next() || 1e-12) ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = r.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = r.next();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

export function dirichlet(r: Rng, alpha: number, k: number): number[] {
  const g = Array.from({ length: k }, () => gammaSample(r, alpha));
  const s = g.reduce((a, b) => a + b, 0);
  return g.map((v) => v / s);
}

export function datanetId(name: string, merkleRoot: string): string {
  return keccak256(AbiCoder.defaultAbiCoder().encode(["string", "bytes32"], [name, merkleRoot]));
}

export function merkleTreeOf(manifest: Pick<DatanetManifest, "samples" | "contributors">): StandardMerkleTree<[number, string, string]> {
  return StandardMerkleTree.of(
    manifest.samples.map((s, i) => [i, manifest.contributors[s.contributor].address, s.hash] as [number, string, string]),
    ["uint256", "address", "bytes32"],
  );
}

/** What a duplicating contributor copies: the samples of the contributor it names, listed before it. */
function originalOf<T>(takenBy: Map<string, T>, c: { name: string; duplicateOf?: string }): T {
  const of = takenBy.get(c.duplicateOf ?? "");
  if (!of) {
    throw new IntelligenceError({
      code: "datanet/duplicate-of-unknown",
      message: `contributor ${c.name} duplicates "${c.duplicateOf}", who is not listed before them`,
      hint: "list the original contributor first and name them in duplicateOf",
      fields: { contributor: c.name, duplicateOf: c.duplicateOf },
    });
  }
  return of;
}
/** Builds a datanet from a plan: deterministic in the plan's seed. */
export function buildDatanet(plan: DatanetPlan, opts: { dir?: string } = {}): Datanet {
  const set = loadFashionMnist("train", opts);
  const [start, end] = plan.sourceRange;
  if (!(start >= 0 && end <= set.n && start < end))
    throw new IntelligenceError({
      code: "datanet/range-outside-data",
      message: `sourceRange [${start}, ${end}) is outside the ${set.n} training images`,
      hint: `use a range within [0, ${set.n})`,
      fields: { start, end, images: set.n },
    });
  const root = rng(plan.seed).fork(`datanet:${plan.name}`);
  const byClass: number[][] = Array.from({ length: set.classes.length }, () => []);
  const pool = root.fork("pool").shuffle(Array.from({ length: end - start }, (_, i) => start + i));
  for (const i of pool) byClass[set.y[i]].push(i);
  const cursor = new Array(byClass.length).fill(0);
  const take = (cls: number): number => {
    if (cursor[cls] >= byClass[cls].length)
      throw new IntelligenceError({
        code: "datanet/class-exhausted",
        message: `datanet ${plan.name}: class ${cls} has no images left in [${start}, ${end})`,
        hint: "widen sourceRange or ask for fewer samples",
        fields: { datanet: plan.name, class: cls, start, end },
      });
    return byClass[cls][cursor[cls]++];
  };
  const takenBy = new Map<string, number[]>();
  const rows: Array<{ contributor: number; source: number; label: number }> = [];
  const contributors: Contributor[] = plan.contributors.map((c, ci) => ({ address: devWallet(ci + 1).address, name: c.name, kind: c.kind, samples: c.samples }));
  plan.contributors.forEach((c, ci) => {
    const r = root.fork(`contributor:${c.name}`);
    const k = byClass.length;
    let sources: number[] = [];
    if (c.kind === "duplicate") {
      sources = r.shuffle(originalOf(takenBy, c).slice()).slice(0, c.samples);
    } else {
      let probs = new Array(k).fill(1 / k);
      if (c.kind === "non-iid") {
        if (c.classes) probs = probs.map((_, j) => (c.classes!.includes(j) ? 1 / c.classes!.length : 0));
        else probs = dirichlet(r, c.dirichletAlpha ?? 0.3, k);
      }
      for (let s = 0; s < c.samples; s++) {
        let u = r.next(),
          cls = 0;
        while (cls < k - 1 && u >= probs[cls]) {
          u -= probs[cls];
          cls++;
        }
        // fall through to the next class when one runs out (keeps counts exact)
        let tries = 0;
        while (cursor[cls] >= byClass[cls].length && tries++ < k) cls = (cls + 1) % k;
        sources.push(take(cls));
      }
    }
    takenBy.set(c.name, sources);
    const flip = c.flip ?? DEFAULT_FLIP;
    for (const src of sources) {
      const label = c.kind === "label-flip" ? (flip[set.y[src]] ?? set.y[src]) : set.y[src];
      rows.push({ contributor: ci, source: src, label });
    }
  });

  const size = set.rows * set.cols;
  const n = rows.length;
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  const yTrue = new Int32Array(n);
  const contributorOf = new Int32Array(n);
  const sampleHashes: string[] = [];
  const samples: DatanetManifest["samples"] = [];
  rows.forEach((row, i) => {
    const px = shiftImage(pixelsOf(set, row.source), set.rows, set.cols, plan.shift);
    for (let k = 0; k < size; k++) x[i * size + k] = px[k] / 255;
    y[i] = row.label;
    yTrue[i] = set.y[row.source];
    contributorOf[i] = row.contributor;
    const h = sampleHash(px, row.label);
    sampleHashes.push(h);
    samples.push({ contributor: row.contributor, source: row.source, label: row.label, hash: h });
  });
  const partial = { samples, contributors };
  const merkleRoot = merkleTreeOf(partial).root;
  const id = datanetId(plan.name, merkleRoot);
  const manifest: DatanetManifest = {
    id,
    name: plan.name,
    dataset: { name: FASHION_MNIST.name, sha256: FASHION_MNIST.files.trainImages.sha256, split: "train", sourceRange: plan.sourceRange },
    shift: plan.shift,
    seed: plan.seed,
    contributors,
    samples,
    leafEncoding: ["uint256", "address", "bytes32"],
    merkleRoot,
  };
  return { id, name: plan.name, modality: "image", contributors, x, y, xShape: [size], yShape: [], yTrue, contributorOf, sampleHashes, n, featureSize: size, numClasses: set.classes.length, manifest };
}

/** Checks a manifest against the datanet's data: every hash and the Merkle root. */
export function verifyManifest(datanet: Datanet): void {
  const tree = merkleTreeOf(datanet.manifest);
  if (tree.root !== datanet.manifest.merkleRoot)
    throw new IntelligenceError({
      code: "datanet/merkle-root-mismatch",
      message: `datanet ${datanet.name}: Merkle root ${tree.root} differs from the manifest's ${datanet.manifest.merkleRoot}`,
      hint: "rebuild the manifest from the data",
      fields: { datanet: datanet.name, actual: tree.root, expected: datanet.manifest.merkleRoot },
    });
  if (datanet.modality === "text") {
    datanet.manifest.samples.forEach((s, i) => {
      const bytes = new Uint8Array(new Int32Array(datanet.x.subarray(i * datanet.featureSize, (i + 1) * datanet.featureSize)).buffer);
      if (keccak256(bytes) !== s.hash)
        throw new IntelligenceError({
          code: "datanet/sample-hash-mismatch",
          message: `datanet ${datanet.name}: window ${i} does not match its manifest hash`,
          hint: "the data was altered after the manifest was made; rebuild the datanet",
          fields: { datanet: datanet.name, sample: i },
        });
    });
    return;
  }
  datanet.manifest.samples.forEach((s, i) => {
    const px = new Uint8Array(datanet.featureSize);
    for (let k = 0; k < px.length; k++) px[k] = Math.round(datanet.x[i * datanet.featureSize + k] * 255);
    if (sampleHash(px, datanet.y[i]) !== s.hash)
      throw new IntelligenceError({
        code: "datanet/sample-hash-mismatch",
        message: `datanet ${datanet.name}: sample ${i} does not match its manifest hash`,
        hint: "the data was altered after the manifest was made; rebuild the datanet",
        fields: { datanet: datanet.name, sample: i },
      });
  });
}

/** The Fashion-MNIST test split under a datanet's shift: the evaluation set for that domain. */
export function shiftedTestSet(shift: ImageShift, opts: { limit?: number; dir?: string } = {}): { x: Float32Array; y: Int32Array; n: number; featureSize: number } {
  const set = loadFashionMnist("test", opts);
  const n = Math.min(opts.limit ?? set.n, set.n);
  const size = set.rows * set.cols;
  const x = new Float32Array(n * size);
  for (let i = 0; i < n; i++) {
    const px = shiftImage(pixelsOf(set, i), set.rows, set.cols, shift);
    for (let k = 0; k < size; k++) x[i * size + k] = px[k] / 255;
  }
  return { x, y: set.y.slice(0, n), n, featureSize: size };
}

/** The example plan used by the notebook and specs: six contributors with realistic mess. */
export function exampleDatanetPlan(name = "fmnist-shifted", opts: { seed?: number; scale?: number; shift?: ImageShift } = {}): DatanetPlan {
  const s = opts.scale ?? 1;
  const n = (k: number) => Math.max(10, Math.round(k * s));
  return {
    name,
    dataset: "fashion-mnist",
    sourceRange: [30000, 60000],
    shift: opts.shift ?? "translate",
    seed: opts.seed ?? 7,
    contributors: [
      { name: "atelier", kind: "iid", samples: n(1200) },
      { name: "boutique", kind: "non-iid", samples: n(1000), dirichletAlpha: 0.3 },
      { name: "cobbler", kind: "non-iid", samples: n(800), classes: [5, 7, 9] },
      { name: "depot", kind: "iid", samples: n(1000) },
      { name: "echo", kind: "duplicate", samples: n(400), duplicateOf: "atelier" },
      { name: "flipper", kind: "label-flip", samples: n(600) },
    ],
  };
}

/** Text contributors: "iid" (random documents), "non-iid" (documents matching a word), "duplicate", "label-flip" (garbled: letters of each word shuffled). */
export interface TextDatanetPlan {
  name: string;
  /** Which fortune file the documents come from. */
  source: "fortunes" | "literature" | "riddles";
  blockSize: number;
  stride: number;
  contributors: Array<{ name: string; kind: ContributorKind; documents: number; match?: RegExp; duplicateOf?: string }>;
  seed: number;
}

function garble(r: Rng, text: string): string {
  return text.replace(/[A-Za-z]{4,}/g, (w) => w[0] + r.shuffle(w.slice(1, -1).split("")).join("") + w[w.length - 1]);
}

/** A text datanet: documents split among contributors, cut into next-token windows. */
export function buildTextDatanet(plan: TextDatanetPlan, corpus: { documents: string[]; sources: string[] }, encode: (s: string) => Int32Array): Datanet {
  const root = rng(plan.seed).fork(`text-datanet:${plan.name}`);
  const pool = root.fork("pool").shuffle(corpus.documents.filter((_, i) => corpus.sources[i] === plan.source));
  const used = new Set<string>();
  const docsOf = new Map<string, string[]>();
  const contributors: Contributor[] = [];
  const xs: Int32Array[] = [],
    ys: Int32Array[] = [],
    owner: number[] = [];
  plan.contributors.forEach((c, ci) => {
    const r = root.fork(`contributor:${c.name}`);
    let docs: string[];
    if (c.kind === "duplicate") {
      docs = originalOf(docsOf, c).slice(0, c.documents);
    } else {
      docs = pool.filter((d) => !used.has(d) && (c.kind !== "non-iid" || !c.match || c.match.test(d))).slice(0, c.documents);
      for (const d of docs) used.add(d);
    }
    docsOf.set(c.name, docs);
    const text = `${docs.map((d) => (c.kind === "label-flip" ? garble(r, d) : d)).join("\n\n")}\n\n`;
    const ids = encode(text);
    let windows = 0;
    for (let s = 0; s + plan.blockSize + 1 <= ids.length; s += plan.stride) {
      xs.push(ids.slice(s, s + plan.blockSize));
      ys.push(ids.slice(s + 1, s + plan.blockSize + 1));
      owner.push(ci);
      windows++;
    }
    contributors.push({ address: devWallet(ci + 1).address, name: c.name, kind: c.kind, samples: windows });
  });
  const heldIds = encode(`${pool.filter((d) => !used.has(d)).join("\n\n")}\n\n`);
  const hx: Int32Array[] = [],
    hy: Int32Array[] = [];
  for (let s = 0; s + plan.blockSize + 1 <= heldIds.length; s += plan.blockSize) {
    hx.push(heldIds.slice(s, s + plan.blockSize));
    hy.push(heldIds.slice(s + 1, s + plan.blockSize + 1));
  }
  const n = xs.length,
    T = plan.blockSize;
  const heldOut = { x: new Int32Array(hx.length * T), y: new Int32Array(hx.length * T), n: hx.length, xShape: [T], yShape: [T] };
  hx.forEach((w, i) => {
    heldOut.x.set(w, i * T);
    heldOut.y.set(hy[i], i * T);
  });
  const x = new Int32Array(n * T),
    y = new Int32Array(n * T);
  xs.forEach((w, i) => {
    x.set(w, i * T);
    y.set(ys[i], i * T);
  });
  const sampleHashes = xs.map((w) => keccak256(new Uint8Array(new Int32Array(w).buffer)));
  const samples = sampleHashes.map((hash, i) => ({ contributor: owner[i], source: i, label: -1, hash }));
  const merkleRoot = merkleTreeOf({ samples, contributors }).root;
  const id = datanetId(plan.name, merkleRoot);
  const manifest: DatanetManifest = {
    id,
    name: plan.name,
    dataset: { name: FORTUNES_MIN.name, sha256: FORTUNES_MIN.files[plan.source].sha256, split: plan.source, sourceRange: [0, pool.length] },
    shift: "none",
    seed: plan.seed,
    contributors,
    samples,
    leafEncoding: ["uint256", "address", "bytes32"],
    merkleRoot,
  };
  return {
    id,
    name: plan.name,
    modality: "text",
    contributors,
    x,
    y,
    xShape: [T],
    yShape: [T],
    yTrue: y,
    contributorOf: Int32Array.from(owner),
    sampleHashes,
    n,
    featureSize: T,
    numClasses: 0,
    manifest,
    heldOut,
  };
}

export function exampleTextDatanetPlan(name = "fortunes-literature", opts: { seed?: number; scale?: number; blockSize?: number } = {}): TextDatanetPlan {
  const s = opts.scale ?? 1;
  const n = (k: number) => Math.max(2, Math.round(k * s));
  return {
    name,
    source: "literature",
    blockSize: opts.blockSize ?? 48,
    stride: 24,
    seed: opts.seed ?? 7,
    contributors: [
      { name: "archivist", kind: "iid", documents: n(100) },
      { name: "bardolator", kind: "non-iid", documents: n(30), match: /Shakespeare|Twain/ },
      { name: "copyist", kind: "duplicate", documents: n(50), duplicateOf: "archivist" },
      { name: "garbler", kind: "label-flip", documents: n(40) },
    ],
  };
}
