// Recursive Length Prefix over Uint8Array, strict like go-ethereum's decoder (canonical
// sizes only), with a streaming reader: a channel is a concatenation of RLP items, so the
// channel reader needs to take one item at a time from a byte stream.
import { concatBytes, Reader } from "./bytes.js";
import { DecodingError } from "./errors.js";

export type RlpItem = Uint8Array | RlpItem[];

function encodeLength(len: number, offset: number): Uint8Array {
  if (len < 56) return Uint8Array.of(offset + len);
  const lb: number[] = [];
  for (let l = len; l > 0; l = Math.floor(l / 256)) lb.unshift(l & 0xff);
  return Uint8Array.of(offset + 55 + lb.length, ...lb);
}

export function rlpEncode(item: RlpItem): Uint8Array {
  if (item instanceof Uint8Array) {
    if (item.length === 1 && item[0]! < 0x80) return item;
    return concatBytes([encodeLength(item.length, 0x80), item]);
  }
  const body = concatBytes(item.map(rlpEncode));
  return concatBytes([encodeLength(body.length, 0xc0), body]);
}

/** Minimal big-endian bytes of a non-negative integer (RLP's integer encoding: 0 is empty). */
export function uintBytes(v: bigint | number): Uint8Array {
  let x = BigInt(v);
  const out: number[] = [];
  while (x > 0n) {
    out.unshift(Number(x & 0xffn));
    x >>= 8n;
  }
  return Uint8Array.from(out);
}

export function bytesToUint(b: Uint8Array, what: string): bigint {
  if (b.length > 0 && b[0] === 0) throw new DecodingError("rlp/non-canonical", { what: "integer with leading zero byte", field: what });
  let x = 0n;
  for (const v of b) x = (x << 8n) | BigInt(v);
  return x;
}

/** Reads the next RLP item header: whether it is a list, and the payload span. */
function readHeader(r: Reader): { list: boolean; start: number; len: number } {
  const b = r.u8("rlp prefix");
  if (b < 0x80) return { list: false, start: r.pos - 1, len: 1 };
  const list = b >= 0xc0;
  const base = list ? 0xc0 : 0x80;
  let len: number;
  if (b - base < 56) {
    len = b - base;
    if (!list && len === 1) {
      const v = r.buf[r.pos];
      if (v !== undefined && v < 0x80) throw new DecodingError("rlp/non-canonical", { what: "single byte below 0x80 behind a string header" });
    }
  } else {
    const ll = b - base - 55;
    const lb = r.take(ll, "rlp length");
    if (lb[0] === 0) throw new DecodingError("rlp/non-canonical", { what: "length with a leading zero byte" });
    len = 0;
    for (const v of lb) len = len * 256 + v;
    if (len < 56) throw new DecodingError("rlp/non-canonical", { what: "long form for a short item" });
  }
  if (len > r.remaining) throw new DecodingError("rlp/truncated", { length: len, left: r.remaining });
  return { list, start: r.pos, len };
}

function decodeAt(r: Reader, depth: number): RlpItem {
  if (depth > 64) throw new DecodingError("rlp/too-deep", { max: 64 });
  const h = readHeader(r);
  if (!h.list) {
    if (h.len === 1 && h.start === r.pos - 1 && r.buf[h.start]! < 0x80) return r.buf.subarray(h.start, h.start + 1);
    return r.take(h.len, "rlp string");
  }
  const end = h.start + h.len;
  const items: RlpItem[] = [];
  while (r.pos < end) items.push(decodeAt(r, depth + 1));
  if (r.pos !== end) throw new DecodingError("rlp/list-overrun");
  return items;
}

/** Decodes exactly one item spanning all of `buf`. */
export function rlpDecode(buf: Uint8Array): RlpItem {
  const r = new Reader(buf);
  const item = decodeAt(r, 0);
  if (r.remaining !== 0) throw new DecodingError("rlp/trailing-bytes", { count: r.remaining });
  return item;
}

/** Takes the next item from a stream reader (used on decompressed channel data). */
export function rlpReadNext(r: Reader): RlpItem {
  return decodeAt(r, 0);
}

export function asBytes(item: RlpItem | undefined, what: string): Uint8Array {
  if (!(item instanceof Uint8Array)) throw new DecodingError("rlp/expected-string", { field: what });
  return item;
}

export function asList(item: RlpItem | undefined, what: string, len?: number): RlpItem[] {
  if (!Array.isArray(item)) throw new DecodingError("rlp/expected-list", { field: what });
  if (len !== undefined && item.length !== len) throw new DecodingError("rlp/field-count", { field: what, expected: len, got: item.length });
  return item;
}
