// Frames and batcher transactions (specs/protocol/derivation.md "Frame Format",
// "Batcher Transaction Format"):
//   frame = channel_id (16 bytes) ++ frame_number (uint16 BE) ++ frame_data_length (uint32 BE)
//           ++ frame_data ++ is_last (1 byte, 0 or 1)
//   batcher transaction data = DERIVATION_VERSION_0 ++ frame ++ frame ++ ...
import { concatBytes, Reader } from "./bytes.js";
import { DecodeError } from "./errors.js";
import { DERIVATION_VERSION_0, FRAME_OVERHEAD, MAX_FRAME_LEN } from "./params.js";

export const CHANNEL_ID_LENGTH = 16;

export interface Frame {
  channelId: Uint8Array;
  frameNumber: number;
  data: Uint8Array;
  isLast: boolean;
}

export function encodeFrame(f: Frame): Uint8Array {
  if (f.channelId.length !== CHANNEL_ID_LENGTH) throw new DecodeError(`channel_id of ${f.channelId.length} bytes`, "channel ids are 16 bytes");
  if (!Number.isInteger(f.frameNumber) || f.frameNumber < 0 || f.frameNumber > 0xffff) {
    throw new DecodeError(`frame_number ${f.frameNumber} is not a uint16`, "split the channel into at most 65,536 frames");
  }
  if (f.data.length > MAX_FRAME_LEN) throw new DecodeError(`frame_data of ${f.data.length} bytes > MAX_FRAME_LEN`, "use smaller frames");
  const out = new Uint8Array(FRAME_OVERHEAD + f.data.length);
  const dv = new DataView(out.buffer);
  out.set(f.channelId, 0);
  dv.setUint16(16, f.frameNumber);
  dv.setUint32(18, f.data.length);
  out.set(f.data, 22);
  out[22 + f.data.length] = f.isLast ? 1 : 0;
  return out;
}

/** Reads one frame; throws DecodeError on any violation of the layout or limits. */
export function readFrame(r: Reader): Frame {
  const channelId = r.take(CHANNEL_ID_LENGTH, "channel_id");
  const frameNumber = r.u16("frame_number");
  const len = r.u32("frame_data_length");
  if (len > MAX_FRAME_LEN) throw new DecodeError(`frame_data_length ${len} > MAX_FRAME_LEN ${MAX_FRAME_LEN}`, "oversized frame; it is dropped");
  const data = r.take(len, "frame_data");
  const last = r.u8("is_last");
  if (last > 1) throw new DecodeError(`is_last byte ${last} is neither 0 nor 1`, "malformed frame; it is dropped");
  return { channelId, frameNumber, data, isLast: last === 1 };
}

export function encodeBatcherTxData(frames: readonly Frame[]): Uint8Array {
  return concatBytes([Uint8Array.of(DERIVATION_VERSION_0), ...frames.map(encodeFrame)]);
}

/**
 * Parses batcher transaction data into frames. The spec rejects the whole transaction
 * when the version byte is unknown or any frame fails to parse, so this is all-or-nothing.
 */
export function parseBatcherTxData(data: Uint8Array): Frame[] {
  if (data.length === 0) throw new DecodeError("empty batcher transaction data", "the transaction is ignored");
  if (data[0] !== DERIVATION_VERSION_0) throw new DecodeError(`derivation version byte 0x${data[0]!.toString(16)} is not 0x00`, "the transaction is ignored");
  const r = new Reader(data.subarray(1));
  const frames: Frame[] = [];
  while (r.remaining > 0) frames.push(readFrame(r));
  if (frames.length === 0) throw new DecodeError("batcher transaction holds no frame", "the transaction is ignored");
  return frames;
}

export function channelIdHex(id: Uint8Array): string {
  return Buffer.from(id).toString("hex");
}
