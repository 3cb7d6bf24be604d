/**
 * Per-example gradients, batched. For a dense block y = x·W + b the gradient of example i's value
 * is ∂ℓᵢ/∂W = aᵢ ⊗ δᵢ and ∂ℓᵢ/∂b = δᵢ, where aᵢ is the block's input and δᵢ the signal
 * back-propagated to its output. One forward/backward pass over a chunk yields (aᵢ, δᵢ) for every
 * example and block; the outer products give all per-example gradients without n backward passes.
 *
 * Gradient sets can be projected (projection.ts) and stored on disk with the hash of the
 * parameters they were taken at and of their own payload, so a reload is refused if either changed.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { dirname } from "node:path";
import type { Batch, Target, TraceableModel } from "./model.js";
import { subset } from "./model.js";
import { makeProjection, project, type Projection, type ProjectionSpec } from "./projection.js";
import { hashParams } from "./train.js";
import { AttributionError, HashMismatchError } from "./errors.js";

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
  /** Examples per forward/backward pass: bounds the memory of the traces. */
  chunk?: number;
  projection?: ProjectionSpec | Projection;
}

/** Per-example gradients of `target` for every row of `batch` at `params`. */
export function perExampleGradients(model: TraceableModel, params: Float64Array, batch: Batch, opts: GradientOptions = {}): GradientSet {
  const target = opts.target ?? "loss";
  const p = model.numParams;
  const chunk = opts.chunk ?? 256;
  const P = opts.projection ? ("matrix" in opts.projection ? opts.projection : makeProjection(p, opts.projection)) : undefined;
  if (P && P.inputDim !== p) throw new AttributionError(`projection made for ${P.inputDim} parameters, model has ${p}`, "make the projection with makeProjection(model.numParams, spec)");
  const dim = P ? P.dim : p;
  const data = new Float64Array(batch.n * dim);
  for (let s = 0; s < batch.n; s += chunk) {
    const idx = Array.from({ length: Math.min(chunk, batch.n - s) }, (_, i) => s + i);
    const part = idx.length === batch.n ? batch : subset(batch, idx);
    if (P) data.set(project(chunkGradients(model, params, part, target), part.n, P), s * dim);
    else chunkGradients(model, params, part, target, data.subarray(s * dim, (s + part.n) * dim)); // straight into place
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

/** n×p per-example gradients from one traced pass: outer products aᵢ ⊗ δᵢ per block. */
function chunkGradients(model: TraceableModel, params: Float64Array, batch: Batch, target: Target, out = new Float64Array(batch.n * model.numParams)): Float64Array {
  const p = model.numParams;
  const n = batch.n;
  const { traces } = model.trace(params, batch, target);
  for (const { block, input, signal } of traces) {
    const { rows, cols } = block;
    for (let i = 0; i < n; i++) {
      const base = i * p + block.offset;
      for (let a = 0; a < rows; a++) {
        const av = input[i * rows + a];
        if (av === 0) continue;
        const o = base + a * cols;
        for (let c = 0; c < cols; c++) out[o + c] = av * signal[i * cols + c];
      }
      if (block.bias) {
        const o = base + rows * cols;
        for (let c = 0; c < cols; c++) out[o + c] = signal[i * cols + c];
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
  return "0x" + createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");
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
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([Buffer.from(MAGIC, "ascii"), len, header, payload]));
  renameSync(tmp, path);
  return sha;
}

/** Reads a gradient set back, refusing it if its payload or the parameters it was taken at changed. */
export function loadGradients(path: string, expect: { paramsHash?: string; payloadSha256?: string } = {}): GradientSet {
  const buf = readFileSync(path);
  if (buf.subarray(0, 8).toString("ascii") !== MAGIC) {
    throw new AttributionError(`${path} is not a gradient file (bad magic)`, "write it with saveGradients()");
  }
  const hlen = buf.readUInt32LE(8);
  const header = JSON.parse(buf.subarray(12, 12 + hlen).toString("utf8"));
  const bytes = buf.subarray(12 + hlen);
  if (bytes.length !== header.n * header.dim * 8) {
    throw new AttributionError(`${path} holds ${bytes.length} payload bytes, header says ${header.n}×${header.dim} float64`, "the file is truncated: recompute the gradients");
  }
  const data = new Float64Array(header.n * header.dim);
  new Uint8Array(data.buffer).set(bytes);
  const sha = payloadHash(data);
  if (sha !== header.payloadSha256 || (expect.payloadSha256 && sha !== expect.payloadSha256)) {
    throw new HashMismatchError(`gradients in ${path} hash to ${sha}, recorded ${expect.payloadSha256 ?? header.payloadSha256}`, "the gradient file was altered: recompute it with perExampleGradients() and save again");
  }
  if (expect.paramsHash && expect.paramsHash !== header.paramsHash) {
    throw new HashMismatchError(`gradients in ${path} were taken at parameters ${header.paramsHash}, not the model's ${expect.paramsHash}`, "recompute the gradients at the current checkpoint");
  }
  return { n: header.n, dim: header.dim, data, blocks: header.blocks, target: header.target, paramsHash: header.paramsHash, projection: header.projection };
}
