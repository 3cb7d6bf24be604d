// Small byte utilities shared by the format modules: concatenation, hex, the protobuf
// uvarint and the span-batch "standard bitlist" (big-endian, left-padded to whole bytes).
import { DecodingError, EncodingError } from "./errors.js";

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  return `0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")}`;
}

export function fromHex(h: string): Uint8Array {
  const s = h.startsWith("0x") ? h.slice(2) : h;
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) {
    throw new DecodingError("hex/malformed", { input: `${h.slice(0, 20)}…` });
  }
  return new Uint8Array(Buffer.from(s, "hex"));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A cursor over bytes that throws a DecodingError instead of reading past the end. */
export class Reader {
  pos = 0;
  constructor(readonly buf: Uint8Array) {}
  get remaining(): number {
    return this.buf.length - this.pos;
  }
  take(n: number, what: string): Uint8Array {
    if (n < 0 || this.pos + n > this.buf.length) {
      throw new DecodingError("bytes/truncated", { field: what, need: n, left: this.remaining });
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(what: string): number {
    return this.take(1, what)[0]!;
  }
  u16(what: string): number {
    const b = this.take(2, what);
    return (b[0]! << 8) | b[1]!;
  }
  u32(what: string): number {
    const b = this.take(4, what);
    return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!;
  }
  /** Protobuf unsigned varint, limited to 64 bits like Go's binary.ReadUvarint. */
  uvarint(what: string): bigint {
    let x = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      const b = this.u8(what);
      if (i === 9 && b > 1) throw new DecodingError("uvarint/overflow", { field: what });
      x |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return x;
      shift += 7n;
    }
    throw new DecodingError("uvarint/overflow", { field: what });
  }
  /** A uvarint bounded by a protocol limit that fits a JS number (counts). */
  uvarintNumber(what: string, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.uvarint(what);
    if (v > BigInt(max)) throw new DecodingError("uvarint/over-limit", { field: what, value: v, max });
    return Number(v);
  }
}

export const MAX_UINT64 = (1n << 64n) - 1n;

/** Protobuf unsigned varint of a uint64 (Go's binary.AppendUvarint). */
export function encodeUvarint(v: bigint | number, field = "uvarint"): Uint8Array {
  let x = BigInt(v);
  if (x < 0n || x > MAX_UINT64) throw new EncodingError("uvarint/out-of-range", { field, value: x });
  const out: number[] = [];
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return Uint8Array.from(out);
}

/** Standard bitlist: bit i of the list is bit i of a big-endian integer, left-padded to bytes. */
export function encodeBitlist(bits: readonly boolean[]): Uint8Array {
  const n = Math.ceil(bits.length / 8);
  const out = new Uint8Array(n);
  for (let i = 0; i < bits.length; i++) {
    if (bits[i]) out[n - 1 - (i >> 3)]! |= 1 << (i & 7);
  }
  return out;
}

export function decodeBitlist(r: Reader, count: number, what: string): boolean[] {
  const n = Math.ceil(count / 8);
  const b = r.take(n, what);
  const bits: boolean[] = new Array(count);
  for (let i = 0; i < count; i++) bits[i] = ((b[n - 1 - (i >> 3)]! >> (i & 7)) & 1) === 1;
  // Go's big.Int decoding accepts no bits above `count`; a set padding bit means corrupt data.
  const pad = n * 8 - count;
  if (pad > 0 && b[0]! >> (8 - pad) !== 0) {
    throw new DecodingError("bitlist/padding-set", { field: what, count });
  }
  return bits;
}
