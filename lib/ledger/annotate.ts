// Annotated hex dumps: the byte ranges of a frame and of a span batch, each named by its spec
// field, so a reader can match every byte against derivation.md and span-batches.md. The ranges
// and names come from the decoders themselves (their field traces): there is no second parser.
import { Reader, toHex } from "./bytes.js";
import { readFrame } from "./frame.js";
import { decodeSpanBatch, type SpanBatchCodecConfig } from "./span-batch.js";

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
  const shown = bytes.length > maxHex ? `${toHex(bytes.subarray(0, maxHex))}… (+${bytes.length - maxHex} bytes)` : toHex(bytes);
  return { offset: start, length: end - start, field, hex: shown, value };
}

/** Layout of one encoded frame (channel_id, frame_number, frame_data_length, frame_data, is_last). */
export function frameLayout(frame: Uint8Array, maxHex = 24): Segment[] {
  const out: Segment[] = [];
  readFrame(new Reader(frame), (field, start, end, value) => out.push(seg(frame, start, end, field, value(), maxHex)));
  return out;
}

/**
 * Layout of a span batch (batch_version 1 ++ prefix ++ payload), as the span batch decoder reads
 * it. The byte ranges do not depend on the codec (it only places the rebuilt blocks in time and
 * signs legacy transactions' v for a chain), so any codec gives the same layout.
 */
export function spanBatchLayout(batch: Uint8Array, maxHex = 24, codec: SpanBatchCodecConfig = { genesisTimestamp: 0, blockTime: 2, l2ChainId: 0n }): Segment[] {
  const out: Segment[] = [seg(batch, 0, 1, "batch_version", String(batch[0]), maxHex)];
  decodeSpanBatch(batch.subarray(1), codec, (field, start, end, value) => out.push(seg(batch, start + 1, end + 1, field, value(), maxHex)));
  return out;
}

/** Classic 16-bytes-per-line hex dump with the field each line starts in. */
export function hexDump(buf: Uint8Array, segments: readonly Segment[], maxLines = 24): string {
  const lines: string[] = [];
  for (let off = 0; off < buf.length && lines.length < maxLines; off += 16) {
    const row = Array.from(buf.subarray(off, off + 16), (b) => b.toString(16).padStart(2, "0")).join(" ");
    const field = segments
      .filter((s) => s.offset < off + 16 && s.offset + s.length > off)
      .map((s) => s.field.split(" ")[0])
      .join(", ");
    lines.push(`${off.toString(16).padStart(6, "0")}  ${row.padEnd(47)}  ${field}`);
  }
  if (buf.length > maxLines * 16) lines.push(`… ${buf.length - maxLines * 16} more bytes`);
  return lines.join("\n");
}
