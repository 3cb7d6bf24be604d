// Frames and batcher transactions (specs/protocol/derivation.md "Frame Format",
// "Batcher Transaction Format"):
//   frame = channel_id (16 bytes) ++ frame_number (uint16 BE) ++ frame_data_length (uint32 BE)
//           ++ frame_data ++ is_last (1 byte, 0 or 1)
//   batcher transaction data = DERIVATION_VERSION_0 ++ frame ++ frame ++ ...
import { concatBytes, Reader } from "./bytes.js";
import { DecodingError, EncodingError } from "./errors.js";
import { CHANNEL_VERSION_BROTLI, DERIVATION_VERSION_0, FRAME_V0_OVERHEAD_SIZE, MAX_FRAME_LEN } from "./rollup-config.js";
import type { FieldTrace } from "./span-batch.js";

export const CHANNEL_ID_LENGTH = 16;

export interface Frame {
  channelId: Uint8Array;
  frameNumber: number;
  data: Uint8Array;
  isLast: boolean;
}

export function encodeFrame(f: Frame): Uint8Array {
  if (f.channelId.length !== CHANNEL_ID_LENGTH) throw new EncodingError("frame/bad-channel-id", { length: f.channelId.length });
  if (!Number.isInteger(f.frameNumber) || f.frameNumber < 0 || f.frameNumber > 0xffff) throw new EncodingError("frame/number-out-of-range", { frameNumber: f.frameNumber });
  if (f.data.length > MAX_FRAME_LEN) throw new EncodingError("frame/too-large", { length: f.data.length, max: MAX_FRAME_LEN });
  const out = new Uint8Array(FRAME_V0_OVERHEAD_SIZE + f.data.length);
  const dv = new DataView(out.buffer);
  out.set(f.channelId, 0);
  dv.setUint16(16, f.frameNumber);
  dv.setUint32(18, f.data.length);
  out.set(f.data, 22);
  out[22 + f.data.length] = f.isLast ? 1 : 0;
  return out;
}

/**
 * Reads one frame; throws a DecodingError on any violation of the layout or limits. `trace`, when
 * given, hears of each field as it is read (what the annotated hex dump is built from).
 */
export function readFrame(r: Reader, trace?: FieldTrace): Frame {
  let start = r.pos;
  const mark = (field: string, value: () => string) => {
    trace?.(field, start, r.pos, value);
    start = r.pos;
  };
  const channelId = r.take(CHANNEL_ID_LENGTH, "channel_id");
  mark("channel_id", () => "random 16 bytes chosen by the batcher");
  const frameNumber = r.u16("frame_number");
  mark("frame_number (uint16)", () => String(frameNumber));
  const len = r.u32("frame_data_length");
  if (len > MAX_FRAME_LEN) throw new DecodingError("frame/too-large", { length: len, max: MAX_FRAME_LEN });
  mark("frame_data_length (uint32)", () => String(len));
  const data = r.take(len, "frame_data");
  mark("frame_data", () => (frameNumber === 0 ? channelStartKind(data[0]) : "channel bytes, continued"));
  const last = r.u8("is_last");
  if (last > 1) throw new DecodingError("frame/bad-is-last", { value: last });
  mark("is_last", () => (last === 1 ? "1: closes the channel" : "0"));
  return { channelId, frameNumber, data, isLast: last === 1 };
}

/** What the first byte of a channel says about its compression (Fjord's rule). */
function channelStartKind(first: number | undefined): string {
  if (first === CHANNEL_VERSION_BROTLI) return "brotli channel (Fjord version byte 0x01)";
  if (first !== undefined && ((first & 0x0f) === 8 || (first & 0x0f) === 15)) return "zlib channel (CMF byte)";
  return "channel data";
}

export function encodeBatcherTxData(frames: readonly Frame[]): Uint8Array {
  return concatBytes([Uint8Array.of(DERIVATION_VERSION_0), ...frames.map(encodeFrame)]);
}

/**
 * Parses batcher transaction data into frames. The spec rejects the whole transaction
 * when the version byte is unknown or any frame fails to parse, so this is all-or-nothing.
 */
export function parseBatcherTxData(data: Uint8Array): Frame[] {
  if (data.length === 0) throw new DecodingError("batcher-tx/empty");
  if (data[0] !== DERIVATION_VERSION_0) throw new DecodingError("batcher-tx/unknown-version", { version: data[0] });
  const r = new Reader(data.subarray(1));
  const frames: Frame[] = [];
  while (r.remaining > 0) frames.push(readFrame(r));
  if (frames.length === 0) throw new DecodingError("batcher-tx/no-frames");
  return frames;
}

export function channelIdHex(id: Uint8Array): string {
  return Buffer.from(id).toString("hex");
}
