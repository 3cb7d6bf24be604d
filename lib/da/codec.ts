// The payload codec of EigenDA V2 ("Data Structs": EncodedPayload, encoding version 0x0). A
// payload becomes an encoded payload whose every 32-byte word is a BN254 scalar-field element:
//
//   header  [0x00, version, uint32 big-endian len(payload), 0x00 x 26]
//   body    [0x00, payload[0:31]], [0x00, payload[31:62]], ... zero-padded
//
// and the whole is zero-padded to a power-of-two number of 32-byte field elements, the sizes an
// EigenDA blob may have. The decoder refuses anything that could not have come out of the encoder.
import { DAEncodingError } from "./errors.js";

export const BYTES_PER_SYMBOL = 32;
/** Payload bytes per field element: the leading byte of each word stays 0x00. */
export const BYTES_PER_CHUNK_OF_PAYLOAD = 31;
export const ENCODED_PAYLOAD_HEADER_LEN = 32;
export const PAYLOAD_ENCODING_VERSION_0 = 0x00;
/** The payload length field is a uint32. */
export const MAX_PAYLOAD_LENGTH = 0xffff_ffff;

/** The smallest power of two at or above n (1 for n <= 1). */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Field elements an encoded payload of `payloadLength` bytes takes, header included, before padding. */
export function symbolsForPayload(payloadLength: number): number {
  return 1 + Math.ceil(payloadLength / BYTES_PER_CHUNK_OF_PAYLOAD);
}

/** Blob length in field elements (a power of two) that holds a payload of this many bytes. */
export function blobLengthForPayload(payloadLength: number): number {
  return nextPowerOfTwo(symbolsForPayload(payloadLength));
}

/** Encodes a payload as EigenDA's encoding version 0: header, 31 bytes behind each 0x00, power-of-two padding. */
export function encodePayload(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD_LENGTH) {
    throw new DAEncodingError({
      code: "da/payload-too-large",
      message: `a payload of ${payload.length} bytes does not fit the header's uint32 length`,
      hint: "split the payload over several blobs",
      fields: { length: payload.length, max: MAX_PAYLOAD_LENGTH },
    });
  }
  const symbols = blobLengthForPayload(payload.length);
  const out = new Uint8Array(symbols * BYTES_PER_SYMBOL);
  out[1] = PAYLOAD_ENCODING_VERSION_0;
  new DataView(out.buffer).setUint32(2, payload.length, false);
  for (let read = 0, word = 1; read < payload.length; read += BYTES_PER_CHUNK_OF_PAYLOAD, word++) {
    out.set(payload.subarray(read, read + BYTES_PER_CHUNK_OF_PAYLOAD), word * BYTES_PER_SYMBOL + 1);
  }
  return out;
}

/**
 * Reads the payload back, as EigenDA's EncodedPayload.Decode does (TestDecodePayloadErrors): the
 * length is a power of two of 32-byte words; the header is 0x00, version 0x00, the length, and 26
 * zero bytes; every body word begins with 0x00; and every byte past the payload, inside the words
 * and in the power-of-two padding, is zero. Anything the encoder could not have written is refused.
 */
export function decodePayload(encoded: Uint8Array): Uint8Array {
  const fail = (code: string, message: string, hint: string, fields: Record<string, number>): never => {
    throw new DAEncodingError({ code, message, hint, fields });
  };
  if (encoded.length < ENCODED_PAYLOAD_HEADER_LEN || encoded.length % BYTES_PER_SYMBOL !== 0) {
    fail("da/payload-bad-size", `an encoded payload of ${encoded.length} bytes is not a whole number of 32-byte field elements`, "pass the blob exactly as it was dispersed", {
      length: encoded.length,
    });
  }
  const symbols = encoded.length / BYTES_PER_SYMBOL;
  if (!isPowerOfTwo(symbols)) {
    fail("da/payload-not-power-of-two", `${symbols} field elements is not a power of two`, "EigenDA blobs hold 2^k field elements; the blob was truncated or padded wrongly", { symbols });
  }
  if (encoded[0] !== 0x00) fail("da/payload-bad-header", `the header's first byte is 0x${encoded[0]!.toString(16)}, not 0x00`, "this is not an EigenDA encoded payload", { byte: encoded[0]! });
  if (encoded[1] !== PAYLOAD_ENCODING_VERSION_0) {
    fail("da/payload-unknown-version", `payload encoding version ${encoded[1]} is not supported (only 0x00)`, "decode it with a codec that knows this version", { version: encoded[1]! });
  }
  const length = new DataView(encoded.buffer, encoded.byteOffset, encoded.byteLength).getUint32(2, false);
  for (let at = 6; at < ENCODED_PAYLOAD_HEADER_LEN; at++) {
    if (encoded[at] !== 0x00) fail("da/payload-header-padding", `header byte ${at} is 0x${encoded[at]!.toString(16)}; the header's padding must be zero`, "the header was altered", { offset: at });
  }
  for (let word = 1; word < symbols; word++) {
    const at = word * BYTES_PER_SYMBOL;
    if (encoded[at] !== 0x00)
      fail("da/payload-bad-symbol", `field element ${word} starts with 0x${encoded[at]!.toString(16)}, not 0x00`, "every 32-byte word of version 0 begins with a zero byte", { symbol: word });
  }
  const capacity = (symbols - 1) * BYTES_PER_CHUNK_OF_PAYLOAD;
  if (length > capacity) {
    fail("da/payload-length-past-data", `the header claims ${length} payload bytes but the blob holds at most ${capacity}`, "the header or the blob was altered", { claimed: length, capacity });
  }
  const body = new Uint8Array(capacity); // the 31 data bytes of every body word, in order
  for (let word = 1; word < symbols; word++) {
    body.set(encoded.subarray(word * BYTES_PER_SYMBOL + 1, (word + 1) * BYTES_PER_SYMBOL), (word - 1) * BYTES_PER_CHUNK_OF_PAYLOAD);
  }
  for (let i = length; i < capacity; i++) {
    if (body[i] !== 0x00) {
      fail("da/payload-body-padding", `payload byte ${i} lies past the declared length ${length} and is not zero`, "the padding after the payload must be zero; the blob was altered", {
        offset: i,
        length,
      });
    }
  }
  return body.slice(0, length);
}
