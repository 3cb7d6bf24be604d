import type { ErrorFields } from "../../errors.js";
import { SafetensorsDecodingError, SafetensorsEncodingError } from "../errors.js";

/**
 * The safetensors format (huggingface/safetensors): an unsigned 64-bit little-endian header
 * length N, N bytes of JSON mapping each tensor name to { dtype, shape, data_offsets: [begin,
 * end] } (offsets relative to the byte buffer after the header) plus an optional
 * "__metadata__" string map, then the tensor bytes, contiguous and without holes. This writes
 * F32 tensors in key order and pads the header with spaces to an 8-byte boundary.
 */
export interface SafeTensor {
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsHeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const MAX_HEADER = 100 * 1024 * 1024;

export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new SafetensorsEncodingError({
      code: "safetensors/encode-shape-mismatch",
      message: `tensor ${name}: shape [${t.shape}] holds ${count} values, data has ${t.data.length}`,
      hint: "pass data whose length is the product of the shape",
      fields: { tensor: name, shape: t.shape, values: t.data.length },
    });
    header[name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const data = tensors[name].data;
    // safetensors stores little-endian; so does every platform Node runs on, checked here anyway
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("big-endian hosts are not supported");
    out.set(bytes, pos);
    pos += bytes.length;
  }
  return out;
}

export function readSafetensorsHeader(bytes: Uint8Array): { header: Record<string, SafetensorsHeaderEntry>; metadata: Record<string, string>; dataStart: number } {
  const bad = (code: string, what: string, fields: ErrorFields = {}) => new SafetensorsDecodingError({
    code: `safetensors/${code}`,
    message: `not a valid safetensors file: ${what}`,
    hint: "write the file with encodeSafetensors / saveAdapter, or re-export it from PEFT",
    fields,
  });
  if (bytes.byteLength < 8) throw bad("truncated-header", "shorter than the 8-byte header length", { bytes: bytes.byteLength });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.byteLength - 8))) throw bad("header-too-long", `header length ${n} exceeds the file`, { headerLength: n, bytes: bytes.byteLength });
  const headerLen = Number(n);
  let parsed: Record<string, any>;
  try {
    parsed = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString("utf8"));
  } catch (error) {
    throw bad("header-not-json", `header is not JSON (${(error as Error).message})`, { reason: (error as Error).message });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw bad("header-not-object", "header is not a JSON object");
  const metadata = (parsed.__metadata__ ?? {}) as Record<string, string>;
  delete parsed.__metadata__;
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const spans: Array<[number, number, string]> = [];
  for (const [name, e] of Object.entries(parsed)) {
    if (!e || typeof e.dtype !== "string" || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) throw bad("incomplete-entry", `entry ${name} lacks dtype, shape or data_offsets`, { tensor: name });
    const [b, end] = e.data_offsets;
    if (!Number.isInteger(b) || !Number.isInteger(end) || b < 0 || end < b || end > dataLen) throw bad("offsets-outside-buffer", `entry ${name} has offsets [${b}, ${end}] outside the ${dataLen}-byte buffer`, { tensor: name, start: b, end, buffer: dataLen });
    spans.push([b, end, name]);
  }
  spans.sort((p, q) => p[0] - q[0]);
  let expect = 0;
  for (const [b, end, name] of spans) {
    if (b !== expect) throw bad("hole-or-overlap", `buffer has a hole or overlap before ${name} (offset ${b}, expected ${expect})`, { tensor: name, offset: b, expected: expect });
    expect = end;
  }
  if (expect !== dataLen) throw bad("buffer-not-covered", `tensors cover ${expect} bytes of a ${dataLen}-byte buffer`, { covered: expect, buffer: dataLen });
  return { header: parsed as Record<string, SafetensorsHeaderEntry>, metadata, dataStart };
}

export function decodeSafetensors(bytes: Uint8Array): { tensors: Record<string, SafeTensor>; metadata: Record<string, string> } {
  const { header, metadata, dataStart } = readSafetensorsHeader(bytes);
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, e] of Object.entries(header)) {
    if (e.dtype !== "F32") throw new SafetensorsDecodingError({
      code: "safetensors/unsupported-dtype",
      message: `tensor ${name} has dtype ${e.dtype}; this reader handles F32`,
      hint: "save the adapter in float32 (PEFT: model.float() before save_pretrained)",
      fields: { tensor: name, dtype: e.dtype },
    });
    const count = e.shape.reduce((a: number, b: number) => a * b, 1);
    const [b, end] = e.data_offsets;
    if (end - b !== 4 * count) throw new SafetensorsDecodingError({
      code: "safetensors/size-mismatch",
      message: `tensor ${name}: shape [${e.shape}] needs ${4 * count} bytes, offsets span ${end - b}`,
      hint: "the file is corrupt; export it again",
      fields: { tensor: name, shape: e.shape, needed: 4 * count, span: end - b },
    });
    const copy = new Uint8Array(end - b);
    copy.set(bytes.subarray(dataStart + b, dataStart + end));
    tensors[name] = { shape: e.shape, data: new Float32Array(copy.buffer) };
  }
  return { tensors, metadata };
}
