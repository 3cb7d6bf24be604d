// Annotated hex dumps: the byte ranges of a frame and of a span batch, each named by its spec
// field, so a reader can match every byte against derivation.md and span-batches.md.
import { decodeBitlist, Reader, toHex } from "./bytes.js";
import { CHANNEL_ID_LENGTH } from "./frame.js";
import { rlpReadNext } from "./rlp.js";

export interface Segment {
  offset: number;
  length: number;
  field: string;
  /** Hex of the bytes (shortened past `maxHex` bytes). */
  hex: string;
  /** The decoded value, where one exists. */
  value: string;
}

function seg(buf: Uint8Array, start: number, end: number, field: string, value: string, maxHex: number): Segment {
  const bytes = buf.subarray(start, end);
  const shown = bytes.length > maxHex ? toHex(bytes.subarray(0, maxHex)) + `… (+${bytes.length - maxHex} bytes)` : toHex(bytes);
  return { offset: start, length: end - start, field, hex: shown, value };
}

/** Layout of one encoded frame (channel_id, frame_number, frame_data_length, frame_data, is_last). */
export function frameLayout(frame: Uint8Array, maxHex = 24): Segment[] {
  const r = new Reader(frame);
  const out: Segment[] = [];
  r.take(CHANNEL_ID_LENGTH, "channel_id");
  out.push(seg(frame, 0, 16, "channel_id", "random 16 bytes chosen by the batcher", maxHex));
  const n = r.u16("frame_number");
  out.push(seg(frame, 16, 18, "frame_number (uint16)", String(n), maxHex));
  const len = r.u32("frame_data_length");
  out.push(seg(frame, 18, 22, "frame_data_length (uint32)", String(len), maxHex));
  r.take(len, "frame_data");
  const first = frame[22];
  const kind = first === 1 ? "brotli channel (Fjord version byte 0x01)" : first !== undefined && (first & 0x0f) === 8 ? "zlib channel (CMF byte)" : "continuation of the channel";
  out.push(seg(frame, 22, 22 + len, "frame_data", n === 0 ? kind : "channel bytes, continued", maxHex));
  const last = r.u8("is_last");
  out.push(seg(frame, 22 + len, 23 + len, "is_last", last === 1 ? "1: closes the channel" : "0", maxHex));
  return out;
}

/** Layout of a span batch (batch_version 1 ++ prefix ++ payload). */
export function spanBatchLayout(batch: Uint8Array, maxHex = 24): Segment[] {
  const out: Segment[] = [];
  const r = new Reader(batch);
  let start = 0;
  const mark = (field: string, value: string) => {
    out.push(seg(batch, start, r.pos, field, value, maxHex));
    start = r.pos;
  };
  mark("batch_version", String(r.u8("version")));
  mark("rel_timestamp (uvarint)", String(r.uvarint("rel_timestamp")) + " s since L2 genesis");
  mark("l1_origin_num (uvarint)", String(r.uvarint("l1_origin_num")));
  r.take(20, "parent_check");
  mark("parent_check", "first 20 bytes of the parent's hash");
  r.take(20, "l1_origin_check");
  mark("l1_origin_check", "first 20 bytes of the last L1 origin's hash");
  const blocks = Number(r.uvarint("block_count"));
  mark("block_count (uvarint)", String(blocks));
  const bits = decodeBitlist(r, blocks, "origin_bits");
  mark("origin_bits", bits.map((b) => (b ? "1" : "0")).join(""));
  let total = 0;
  const counts: number[] = [];
  for (let i = 0; i < blocks; i++) {
    const c = Number(r.uvarint("block_tx_count"));
    counts.push(c);
    total += c;
  }
  mark("block_tx_counts (uvarints)", counts.join(", "));
  const creation = decodeBitlist(r, total, "contract_creation_bits");
  mark("contract_creation_bits", `${creation.filter(Boolean).length} of ${total} create contracts`);
  const parity = decodeBitlist(r, total, "y_parity_bits");
  mark("y_parity_bits", `${parity.filter(Boolean).length} of ${total} odd`);
  r.take(64 * total, "tx_sigs");
  mark("tx_sigs", `${total} × (r 32 bytes, s 32 bytes)`);
  const tos = creation.filter((c) => !c).length;
  r.take(20 * tos, "tx_tos");
  mark("tx_tos", `${tos} × 20-byte address`);
  let legacy = 0;
  for (let i = 0; i < total; i++) {
    if (r.buf[r.pos]! < 0xc0) r.u8("type");
    else legacy++;
    rlpReadNext(r);
  }
  mark("tx_datas", `${total} RLP items (value, fees, calldata, access list); ${legacy} legacy`);
  for (let i = 0; i < total; i++) r.uvarint("nonce");
  mark("tx_nonces (uvarints)", `${total} nonces`);
  for (let i = 0; i < total; i++) r.uvarint("gas");
  mark("tx_gases (uvarints)", `${total} gas limits`);
  const prot = decodeBitlist(r, legacy, "protected_bits");
  mark("protected_bits", `${prot.filter(Boolean).length} of ${legacy} legacy txs EIP-155 protected`);
  return out;
}

/** Classic 16-bytes-per-line hex dump with the field each line starts in. */
export function hexDump(buf: Uint8Array, segments: readonly Segment[], maxLines = 24): string {
  const lines: string[] = [];
  for (let off = 0; off < buf.length && lines.length < maxLines; off += 16) {
    const row = Array.from(buf.subarray(off, off + 16), (b) => b.toString(16).padStart(2, "0")).join(" ");
    const field = segments.filter((s) => s.offset < off + 16 && s.offset + s.length > off).map((s) => s.field.split(" ")[0]).join(", ");
    lines.push(`${off.toString(16).padStart(6, "0")}  ${row.padEnd(47)}  ${field}`);
  }
  if (buf.length > maxLines * 16) lines.push(`… ${buf.length - maxLines * 16} more bytes`);
  return lines.join("\n");
}
