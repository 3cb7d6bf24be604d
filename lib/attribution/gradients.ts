/**
 * Per-example gradients, batched. For a dense block y = x·W + b the gradient of example i's value
 * is ∂ℓᵢ/∂W = aᵢ ⊗ δᵢ and ∂ℓᵢ/∂b = δᵢ, where aᵢ is the block's input and δᵢ the signal
 * back-propagated to its output. One forward/backward pass over a chunk yields (aᵢ, δᵢ) for every
 * example and block; the outer products give all per-example gradients without n backward passes.
 *
 * Gradient sets can be projected (projection.ts) and stored on disk with the hash of the
 * parameters they were taken at and of their own payload, so a reload is refused if either changed.
 */
import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { leastRecentlyUsedEvictions, parseByteSize } from "../cache.js";
import { sha256Hex, writeFileAtomic, writeJsonAtomic } from "../files.js";
import { type JobRef, type PoolOptions, runJobs } from "../worker-pool.js";
import { AttributionError, HashMismatchError } from "./errors.js";
import { type JobModel, jobModel, modelOf } from "./job-models.js";
import type { Batch, Target, TraceableModel } from "./model.js";
import { DEFAULT_GRADIENT_CHUNK, subset } from "./model.js";
import { makeProjection, type Projection, type ProjectionSpec, project } from "./projection.js";
import { hashParams } from "./retrain.js";

export interface BlockSpan {
  name: string;
  offset: number;
  size: number;
}

/** n gradients of `dim` entries each (row-major), with where they came from. */
export interface GradientSet {
  n: number;
  dim: number;
  data: Float64Array;
  /** Per-layer spans of each row (absent once projected: projection mixes layers). */
  blocks?: BlockSpan[];
  target: Target;
  paramsHash: string;
  projection?: ProjectionSpec;
}

export interface GradientOptions {
  target?: Target;
  /** Examples per forward/backward pass: bounds the memory of the traces (absent: the model's gradientChunk, else DEFAULT_GRADIENT_CHUNK). */
  chunk?: number;
  projection?: ProjectionSpec | Projection;
  /**
   * Run the chunks as shards on the pool's workers (workers absent: LAB_WORKERS), where the model
   * has a recipe. Absent: in this process. Opt-in because a shard at the lab's sizes takes
   * milliseconds (600 rows of the MLP: 40 ms in all) against about 2 s to start a worker.
   */
  pool?: PoolOptions;
}

/**
 * Per-example gradients of `target` for every row of `batch` at `params`, in chunks of
 * `opts.chunk` rows (absent: the model's gradientChunk). With `opts.pool`, where the model has a recipe (job-models.ts) and the pool
 * more than one worker, the chunks are shards run as worker jobs and gathered in order: the same
 * rows either way.
 */
export async function perExampleGradients(model: TraceableModel, params: Float64Array, batch: Batch, opts: GradientOptions = {}): Promise<GradientSet> {
  const target = opts.target ?? "loss";
  const p = model.numParams;
  const chunk = opts.chunk ?? model.gradientChunk ?? DEFAULT_GRADIENT_CHUNK;
  const P = opts.projection ? ("matrix" in opts.projection ? opts.projection : makeProjection(p, opts.projection)) : undefined;
  if (P && P.inputDim !== p)
    throw new AttributionError({
      code: "gradients/projection-mismatch",
      message: `projection made for ${P.inputDim} parameters, model has ${p}`,
      hint: "make the projection with makeProjection(model.numParams, spec)",
      fields: { projectionInput: P.inputDim, params: p },
    });
  const dim = P ? P.dim : p;
  const data = new Float64Array(batch.n * dim);
  const shards: Batch[] = [];
  for (let s = 0; s < batch.n; s += chunk)
    shards.push(
      s === 0 && chunk >= batch.n
        ? batch
        : subset(
            batch,
            Array.from({ length: Math.min(chunk, batch.n - s) }, (_, i) => s + i),
          ),
    );
  const jobs = jobModel(model, opts.pool);
  // a projection given as a matrix is sent as its spec only where makeProjection made it from one
  const sendable = !(opts.projection && "matrix" in opts.projection);
  if (opts.pool && shards.length > 1 && jobs.model !== model && sendable) {
    const projection = P ? { kind: P.kind, dim: P.dim, seed: P.seed } : undefined;
    const rows = await runJobs<GradientShardSpec, Float64Array>(
      GRADIENT_SHARD,
      shards.map((part) => ({ model: jobs.model, params, batch: part, target, projection })),
      jobs.options,
    );
    for (const [i, r] of rows.entries()) data.set(r, i * chunk * dim);
  } else {
    for (const [i, part] of shards.entries()) {
      const at = i * chunk * dim;
      if (P) data.set(project(await chunkGradients(model, params, part, target), part.n, P), at);
      else await chunkGradients(model, params, part, target, data.subarray(at, at + part.n * dim)); // straight into place
    }
  }
  return {
    n: batch.n,
    dim,
    data,
    blocks: P ? undefined : model.blocks.map((b) => ({ name: b.name, offset: b.offset, size: b.size })),
    target,
    paramsHash: hashParams(params),
    projection: P ? { kind: P.kind, dim: P.dim, seed: P.seed } : undefined,
  };
}

/** One shard of a gradient set: its rows, and the projection's spec (a worker makes the same matrix from it). */
export interface GradientShardSpec {
  model: JobModel;
  params: Float64Array;
  batch: Batch;
  target: Target;
  projection?: ProjectionSpec;
}

/** The last projection a worker made, kept for its next shard. */
let lastProjection: { key: string; projection: Projection } | undefined;

/** The job: the shard's per-example gradients (projected where the spec says). */
export async function gradientShardJob(spec: GradientShardSpec): Promise<Float64Array> {
  const model = await modelOf(spec.model);
  const rows = await chunkGradients(model, spec.params, spec.batch, spec.target);
  if (!spec.projection) return rows;
  const key = JSON.stringify([model.numParams, spec.projection]);
  if (lastProjection?.key !== key) lastProjection = { key, projection: makeProjection(model.numParams, spec.projection) };
  return project(rows, spec.batch.n, lastProjection.projection);
}

const GRADIENT_SHARD: JobRef = { module: import.meta.url, name: "gradientShardJob", local: gradientShardJob };

/** n×p per-example gradients from one traced pass: outer products aᵢ ⊗ δᵢ per block. */
async function chunkGradients(model: TraceableModel, params: Float64Array, batch: Batch, target: Target, out = new Float64Array(batch.n * model.numParams)): Promise<Float64Array> {
  const p = model.numParams;
  const n = batch.n;
  if (model.gradientRows) return model.gradientRows(params, batch, target, out);
  const { traces } = await model.trace(params, batch, target);
  for (const { block, input, signal, positions = 1 } of traces) {
    const { rows, cols } = block;
    for (let i = 0; i < n; i++) {
      const base = i * p + block.offset;
      // Σ over the example's positions of input ⊗ signal (one position for a classifier)
      for (let t = i * positions; t < (i + 1) * positions; t++) {
        for (let a = 0; a < rows; a++) {
          const av = input[t * rows + a];
          if (av === 0) continue;
          const o = base + a * cols;
          for (let c = 0; c < cols; c++) out[o + c] += av * signal[t * cols + c];
        }
        if (block.bias) {
          const o = base + rows * cols;
          for (let c = 0; c < cols; c++) out[o + c] += signal[t * cols + c];
        }
      }
    }
  }
  return out;
}

/** Row i of a gradient set (a view). */
export function row(G: GradientSet, i: number): Float64Array {
  return G.data.subarray(i * G.dim, (i + 1) * G.dim);
}

/** The rows of one block, as its own gradient set (DataInf works layer by layer). */
export function blockRows(G: GradientSet, span: BlockSpan): Float64Array {
  const out = new Float64Array(G.n * span.size);
  for (let i = 0; i < G.n; i++) out.set(G.data.subarray(i * G.dim + span.offset, i * G.dim + span.offset + span.size), i * span.size);
  return out;
}

const MAGIC = "OLGRAD01";

function payloadHash(data: Float64Array): string {
  return `0x${sha256Hex(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))}`;
}

/**
 * Writes a gradient set: "OLGRAD01", a u32 header length, a JSON header (shape, target, blocks,
 * projection, paramsHash, sha256 of the payload), then the payload as little-endian float64.
 */
export function saveGradients(path: string, G: GradientSet): string {
  const sha = payloadHash(G.data);
  const header = Buffer.from(JSON.stringify({ n: G.n, dim: G.dim, dtype: "float64le", target: G.target, blocks: G.blocks, projection: G.projection, paramsHash: G.paramsHash, payloadSha256: sha }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const payload = Buffer.from(G.data.buffer, G.data.byteOffset, G.data.byteLength);
  writeFileAtomic(path, Buffer.concat([Buffer.from(MAGIC, "ascii"), len, header, payload]));
  return sha;
}

/** Reads a gradient set back, refusing it if its payload or the parameters it was taken at changed. */
export function loadGradients(path: string, expect: { paramsHash?: string; payloadSha256?: string } = {}): GradientSet {
  const buf = readFileSync(path);
  if (buf.subarray(0, 8).toString("ascii") !== MAGIC) {
    throw new AttributionError({
      code: "gradients/bad-magic",
      message: `${path} is not a gradient file (bad magic)`,
      hint: "write it with saveGradients()",
      fields: { path },
    });
  }
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString("utf8"));
  const bytes = buf.subarray(12 + hlen);
  if (bytes.length !== header.n * header.dim * 8) {
    throw new AttributionError({
      code: "gradients/truncated",
      message: `${path} holds ${bytes.length} payload bytes, header says ${header.n}×${header.dim} float64`,
      hint: "the file is truncated: recompute the gradients",
      fields: { path, payloadBytes: bytes.length, n: header.n, dim: header.dim },
    });
  }
  const data = new Float64Array(header.n * header.dim);
  new Uint8Array(data.buffer).set(bytes);
  const sha = payloadHash(data);
  if (sha !== header.payloadSha256 || (expect.payloadSha256 && sha !== expect.payloadSha256)) {
    throw new HashMismatchError({
      code: "gradients/hash-mismatch",
      message: `gradients in ${path} hash to ${sha}, recorded ${expect.payloadSha256 ?? header.payloadSha256}`,
      hint: "the gradient file was altered: recompute it with perExampleGradients() and save again",
      fields: { path, actual: sha, recorded: expect.payloadSha256 ?? header.payloadSha256 },
    });
  }
  if (expect.paramsHash && expect.paramsHash !== header.paramsHash) {
    throw new HashMismatchError({
      code: "gradients/params-mismatch",
      message: `gradients in ${path} were taken at parameters ${header.paramsHash}, not the model's ${expect.paramsHash}`,
      hint: "recompute the gradients at the current checkpoint",
      fields: { path, takenAt: header.paramsHash, model: expect.paramsHash },
    });
  }
  return { n: header.n, dim: header.dim, data, blocks: header.blocks, target: header.target, paramsHash: header.paramsHash, projection: header.projection };
}

/** A tag for the model a gradient set belongs to: kind, block layout, and its outputs on a probe. */
async function modelFingerprint(model: TraceableModel, params: Float64Array, batch: Batch): Promise<string> {
  const parts: (string | Uint8Array)[] = [model.kind, JSON.stringify(model.blocks.map((b) => [b.name, b.rows, b.cols, !!b.bias, b.offset]))];
  // LoRA models carry frozen base weights outside `params`: two adapters with equal params on
  // different bases have different gradients; their outputs on a few examples tell the bases apart
  const k = Math.min(batch.n, 4);
  if (k > 0) {
    const out = await model.logits(params, batch.x.subarray(0, k * batch.dim), k);
    parts.push(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  }
  return sha256Hex(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(`${p}\u0000`) : p))));
}

function batchHash(batch: Batch): string {
  const w = batch.weights;
  return sha256Hex(
    Buffer.concat([
      Buffer.from(new Uint8Array(batch.x.buffer, batch.x.byteOffset, batch.x.byteLength)),
      Buffer.from(new Uint8Array(batch.y.buffer, batch.y.byteOffset, batch.y.byteLength)),
      Buffer.from(`${batch.n}x${batch.dim}`),
      // a language model's position weights choose what is differentiated (a continuation, not its prompt)
      ...(w ? [Buffer.from(new Uint8Array(w.buffer, w.byteOffset, w.byteLength))] : []),
    ]),
  );
}

interface StoreEntry {
  file: string;
  n: number;
  dim: number;
  target: Target;
  paramsHash: string;
  projection?: ProjectionSpec;
  payloadSha256: string;
  /** File size, and when the set was last written or read (ms): what eviction weighs. */
  bytes?: number;
  lastUsed?: number;
}

/** Default size limit of a gradient store: 1 GiB; LAB_GRADIENT_STORE_LIMIT (bytes, or 512M, 2G) changes it. */
export const DEFAULT_GRADIENT_STORE_LIMIT = 1024 ** 3;

/** Now (ms), but always after every use recorded in the index, so uses within one millisecond keep their order. */
function useStamp(index: Record<string, StoreEntry>): number {
  return Math.max(Date.now(), ...Object.values(index).map((e) => (e.lastUsed ?? 0) + 1));
}

function defaultStoreLimit(): number {
  const setting = process.env.LAB_GRADIENT_STORE_LIMIT;
  return setting === undefined ? DEFAULT_GRADIENT_STORE_LIMIT : parseByteSize(setting, "LAB_GRADIENT_STORE_LIMIT");
}

/**
 * The on-disk gradient store: per-example gradients are computed once per (model, parameters,
 * examples, target, projection) and read back by every method that needs them. Each set is an
 * OLGRAD01 file named by that key; `index.json` records its payload hash, so a file altered after
 * it was written is refused (HashMismatchError), never silently used. The store keeps to a size
 * limit: writing a set evicts the least recently used others until the files fit (an evicted set
 * is recomputed, with the same bytes, when next asked for).
 */
export class GradientStore {
  /** Sets read back from disk / computed and written, since this store was opened. */
  hits = 0;
  misses = 0;
  evictions = 0;
  readonly maxBytes: number;
  private readonly indexPath: string;
  constructor(
    readonly dir: string,
    options: { maxBytes?: number } = {},
  ) {
    this.indexPath = join(dir, "index.json");
    this.maxBytes = options.maxBytes ?? defaultStoreLimit();
  }

  private index(): Record<string, StoreEntry> {
    return existsSync(this.indexPath) ? JSON.parse(readFileSync(this.indexPath, "utf8")) : {};
  }

  async keyOf(model: TraceableModel, params: Float64Array, batch: Batch, opts: GradientOptions = {}): Promise<string> {
    const P = opts.projection;
    const proj = P ? { kind: P.kind, dim: P.dim, seed: P.seed } : null;
    return sha256Hex(
      JSON.stringify({ model: await modelFingerprint(model, params, batch), params: hashParams(params), batch: batchHash(batch), target: opts.target ?? "loss", projection: proj }),
    ).slice(0, 32);
  }

  /** Whether the store holds the set get() would answer (unchecked until get reads it). */
  async has(model: TraceableModel, params: Float64Array, batch: Batch, opts: GradientOptions = {}): Promise<boolean> {
    return existsSync(join(this.dir, `${await this.keyOf(model, params, batch, opts)}.olgrad`));
  }

  /**
   * The gradients from the store if present (hash-checked), else computed and stored. `compute`
   * computes them (default: perExampleGradients here), e.g. from a worker job's answer.
   */
  async get(model: TraceableModel, params: Float64Array, batch: Batch, opts: GradientOptions = {}, compute = () => perExampleGradients(model, params, batch, opts)): Promise<GradientSet> {
    const key = await this.keyOf(model, params, batch, opts);
    const path = join(this.dir, `${key}.olgrad`);
    const entry = this.index()[key];
    if (existsSync(path)) {
      const G = loadGradients(path, { paramsHash: hashParams(params), payloadSha256: entry?.payloadSha256 });
      if (G.n !== batch.n)
        throw new HashMismatchError({
          code: "gradients/row-count-mismatch",
          message: `stored gradients ${path} hold ${G.n} rows for a batch of ${batch.n}`,
          hint: "delete the file: the store recomputes it",
          fields: { path, rows: G.n, batch: batch.n },
        });
      this.hits++;
      this.touch(key, path);
      return G;
    }
    const G = await compute();
    const sha = saveGradients(path, G);
    // re-read the index just before writing: another method may have added entries meanwhile
    const index = this.index();
    index[key] = {
      file: `${key}.olgrad`,
      n: G.n,
      dim: G.dim,
      target: G.target,
      paramsHash: G.paramsHash,
      projection: G.projection,
      payloadSha256: sha,
      bytes: statSync(path).size,
      lastUsed: useStamp(index),
    };
    this.evictBeyondLimit(index, key);
    writeJsonAtomic(this.indexPath, index);
    this.misses++;
    return G;
  }

  /** Marks a set as just used, so eviction takes it last. */
  private touch(key: string, path: string): void {
    const index = this.index();
    if (!index[key]) return;
    index[key] = { ...index[key], bytes: index[key].bytes ?? statSync(path).size, lastUsed: useStamp(index) };
    writeJsonAtomic(this.indexPath, index);
  }

  /** Removes the least recently used sets (never `keep`) until the store fits its limit. */
  private evictBeyondLimit(index: Record<string, StoreEntry>, keep: string): void {
    const entries = Object.entries(index).map(([key, e]) => ({ key, bytes: e.bytes ?? 0, lastUsed: e.lastUsed ?? 0 }));
    for (const key of leastRecentlyUsedEvictions(entries, this.maxBytes, new Set([keep]))) {
      rmSync(join(this.dir, index[key].file), { force: true });
      delete index[key];
      this.evictions++;
    }
  }
}

/** Per-example gradients for an attribution task: through its store when it has one. */
export function taskGradients(task: { model: TraceableModel; gradients?: GradientStore }, params: Float64Array, batch: Batch, opts: GradientOptions = {}): Promise<GradientSet> {
  return task.gradients ? task.gradients.get(task.model, params, batch, opts) : perExampleGradients(task.model, params, batch, opts);
}
