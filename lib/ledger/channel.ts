// Channels (specs/protocol/derivation.md "Channel Format", fjord/derivation.md "Brotli
// Channel Compression"). A channel is rlp_batches compressed with zlib (RFC 1950: no prefix,
// its first byte's low nibble is 8 or 15), or after Fjord with brotli behind the version
// byte 0x01. It is cut into frames for transport.
import { brotliCompressSync, brotliDecompressSync, deflateSync, inflateSync, constants as zc } from "node:zlib";
import { concatBytes } from "./bytes.js";
import { DecodingError, EncodingError } from "./errors.js";
import { CHANNEL_ID_LENGTH, type Frame } from "./frame.js";
import { CHANNEL_VERSION_BROTLI, FRAME_V0_OVERHEAD_SIZE, MAX_RLP_BYTES_PER_CHANNEL } from "./rollup-config.js";

export type CompressionAlgo = "zlib" | "brotli";

export interface CompressOptions {
  /** zlib level (op-batcher uses the best compression, 9) */
  zlibLevel?: number;
  /** brotli quality (op-batcher's default algorithm is brotli-10) */
  brotliQuality?: number;
  /** brotli window bits (op-batcher uses 24) */
  brotliWindow?: number;
}

export function compressChannel(rlpBatches: Uint8Array, algo: CompressionAlgo, opts: CompressOptions = {}): Uint8Array {
  if (algo === "zlib") return new Uint8Array(deflateSync(rlpBatches, { level: opts.zlibLevel ?? 9 }));
  const body = brotliCompressSync(rlpBatches, {
    params: {
      [zc.BROTLI_PARAM_QUALITY]: opts.brotliQuality ?? 10,
      [zc.BROTLI_PARAM_LGWIN]: opts.brotliWindow ?? 24,
      [zc.BROTLI_PARAM_SIZE_HINT]: rlpBatches.length,
    },
  });
  return concatBytes([Uint8Array.of(CHANNEL_VERSION_BROTLI), body]);
}

/** Which compression a channel uses, from its first byte (Fjord's rule). */
export function channelCompression(data: Uint8Array): CompressionAlgo {
  const b = data[0];
  if (b === undefined) throw new DecodingError("channel/empty");
  if ((b & 0x0f) === 8 || (b & 0x0f) === 15) return "zlib";
  if (b === CHANNEL_VERSION_BROTLI) return "brotli";
  throw new DecodingError("channel/unknown-compression", { byte: b });
}

/**
 * Decompresses a channel, reading at most MAX_RLP_BYTES_PER_CHANNEL bytes. Truncated or
 * corrupt streams yield what decompressed before the damage, as a streaming reader would;
 * the channel reader then reads batches up to the first one that does not decode.
 */
export function decompressChannel(data: Uint8Array, maxBytes = MAX_RLP_BYTES_PER_CHANNEL): Uint8Array {
  const algo = channelCompression(data);
  try {
    if (algo === "zlib") return new Uint8Array(inflateSync(data, { maxOutputLength: maxBytes, finishFlush: zc.Z_SYNC_FLUSH }));
    return new Uint8Array(brotliDecompressSync(data.subarray(1), { maxOutputLength: maxBytes, finishFlush: zc.BROTLI_OPERATION_FLUSH }));
  } catch (e) {
    const { code, errno } = e as { code?: unknown; errno?: unknown };
    if (code === "ERR_BUFFER_TOO_LARGE") throw new DecodingError("channel/too-large", { max: maxBytes }, e);
    // zlib and brotli report a corrupt stream with their error number (Z_DATA_ERROR, a brotli
    // decoder error): the channel's fault. Anything else is not, and propagates.
    if (typeof errno !== "number" || typeof code !== "string") throw e;
    throw new DecodingError("channel/corrupt", { algorithm: algo, reason: code }, e);
  }
}

/**
 * Splits a compressed channel into frames whose encoded size (with the 23-byte frame
 * overhead) is at most maxFrameSize; the last frame carries is_last = 1.
 */
export function channelToFrames(channelId: Uint8Array, compressed: Uint8Array, maxFrameSize: number): Frame[] {
  if (channelId.length !== CHANNEL_ID_LENGTH) throw new EncodingError("frame/bad-channel-id", { length: channelId.length });
  const chunk = maxFrameSize - FRAME_V0_OVERHEAD_SIZE;
  if (chunk < 1) throw new EncodingError("frame/size-too-small", { maxFrameSize, overhead: FRAME_V0_OVERHEAD_SIZE });
  const frameCount = Math.max(1, Math.ceil(compressed.length / chunk));
  if (frameCount > 0x10000) throw new EncodingError("channel/too-many-frames", { frames: frameCount });
  const frames: Frame[] = [];
  for (let off = 0, n = 0; off < compressed.length || n === 0; off += chunk, n++) {
    const data = compressed.subarray(off, Math.min(off + chunk, compressed.length));
    frames.push({ channelId, frameNumber: n, data, isLast: off + chunk >= compressed.length });
  }
  return frames;
}

/** Reassembles frames 0..n (in order, last one closing) into the compressed channel bytes. */
export function framesToChannel(frames: readonly Frame[]): Uint8Array {
  return concatBytes(frames.map((f) => f.data));
}
