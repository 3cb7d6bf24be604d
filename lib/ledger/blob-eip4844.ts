// EIP-4844 blobs with the OP Stack's blob encoding (specs/protocol/ecotone/derivation.md
// "Blob Encoding"). 4096 field elements of 32 bytes; every 4 field elements carry 127 bytes:
// 4 x 31 byte tails plus 3 bytes spread as 6-bit values over the 4 high bytes, whose top two
// bits stay 0 so each element is below the BLS modulus. Version 0 spends the first 4 data
// bytes on version (0) and a uint24 length, leaving 4 * 31 * 1024 + 3 * 1024 - 4 = 130,044.
import { createHash } from "node:crypto";
import { DecodingError, EncodingError } from "./errors.js";

export const FIELD_ELEMENTS_PER_BLOB = 4096;
export const BYTES_PER_BLOB = FIELD_ELEMENTS_PER_BLOB * 32;
export const ROUNDS = 1024;
export const BLOB_ENCODING_VERSION = 0;
export const MAX_BLOB_DATA_SIZE = (4 * 31 + 3) * ROUNDS - 4; // 130,044
export const VERSIONED_HASH_VERSION_KZG = 0x01;

/**
 * Encodes data into a blob. The application byte stream is version ++ uint24 length ++ data,
 * written 127 bytes per round: for each of the 4 field elements, 31 tail bytes go to bytes
 * 1..31, then one more byte is split into 6-bit pieces for the elements' high bytes.
 */
export function encodeBlob(data: Uint8Array): Uint8Array {
  if (data.length > MAX_BLOB_DATA_SIZE) {
    throw new EncodingError("blob/too-large", { length: data.length, max: MAX_BLOB_DATA_SIZE });
  }
  const stream = new Uint8Array(ROUNDS * 127);
  stream[0] = BLOB_ENCODING_VERSION;
  stream[1] = (data.length >> 16) & 0xff;
  stream[2] = (data.length >> 8) & 0xff;
  stream[3] = data.length & 0xff;
  stream.set(data, 4);
  const blob = new Uint8Array(BYTES_PER_BLOB);
  let rd = 0;
  const tail = (fe: number) => {
    blob.set(stream.subarray(rd, rd + 31), fe * 32 + 1);
    rd += 31;
  };
  // The spec's read order within a round is tailA, x, tailB, y, tailC, z, tailD: the first
  // byte of the stream is the "second byte of the first field element" (the version byte).
  for (let round = 0; round < ROUNDS; round++) {
    const fe = round * 4;
    tail(fe);
    const x = stream[rd++]!;
    tail(fe + 1);
    const y = stream[rd++]!;
    tail(fe + 2);
    const z = stream[rd++]!;
    tail(fe + 3);
    blob[fe * 32] = x & 0b0011_1111;
    blob[(fe + 1) * 32] = (y & 0b0000_1111) | ((x & 0b1100_0000) >> 2);
    blob[(fe + 2) * 32] = z & 0b0011_1111;
    blob[(fe + 3) * 32] = ((z & 0b1100_0000) >> 2) | ((y & 0b1111_0000) >> 4);
  }
  return blob;
}

/**
 * Decodes a blob as op-node's Blob.ToData does, check for check and in its order: version, length,
 * the field elements of the rounds the length needs (top two bits clear), zero bytes past the
 * length inside those rounds, and zero bytes in every field element after them.
 *
 * The first field element's high byte is the one exception: op-node never checks its top two bits
 * and masks them off when it rebuilds the first of the round's three spread bytes, so a blob whose
 * byte 0 is, say, 0xC0 decodes as if it were 0x00. The specification's wording ("the first 2 bits
 * of every field element must be 0") says otherwise; op-node is the reference where the two
 * differ, because a derivation that refused what op-node accepts would fork from the chain.
 */
export function decodeBlob(blob: Uint8Array): Uint8Array {
  if (blob.length !== BYTES_PER_BLOB) throw new DecodingError("blob/wrong-size", { length: blob.length, expected: BYTES_PER_BLOB });
  if (blob[1] !== BLOB_ENCODING_VERSION) throw new DecodingError("blob/unknown-version", { version: blob[1] });
  const len = (blob[2]! << 16) | (blob[3]! << 8) | blob[4]!;
  if (len > MAX_BLOB_DATA_SIZE) throw new DecodingError("blob/length-over-max", { length: len, max: MAX_BLOB_DATA_SIZE });
  const stream = new Uint8Array(ROUNDS * 127);
  let wr = 0;
  let round = 0;
  // Round 0 always; then rounds while the decoded stream is shorter than version + length + data.
  for (; round < ROUNDS && (round === 0 || wr < 4 + len); round++) {
    const o = round * 128;
    for (let k = round === 0 ? 1 : 0; k < 4; k++) {
      if (blob[o + 32 * k]! & 0b1100_0000) throw new DecodingError("blob/bad-field-element", { index: round * 4 + k });
    }
    const a = blob[o]! & 0b0011_1111; // op-node masks the first element's top bits (see above)
    const b = blob[o + 32]!;
    const c = blob[o + 64]!;
    const d = blob[o + 96]!;
    const x = a | ((b & 0b0011_0000) << 2);
    const y = (b & 0b0000_1111) | ((d & 0b0000_1111) << 4);
    const z = (c & 0b0011_1111) | ((d & 0b0011_0000) << 2);
    stream.set(blob.subarray(o + 1, o + 32), wr);
    stream[wr + 31] = x;
    stream.set(blob.subarray(o + 33, o + 64), wr + 32);
    stream[wr + 63] = y;
    stream.set(blob.subarray(o + 65, o + 96), wr + 64);
    stream[wr + 95] = z;
    stream.set(blob.subarray(o + 97, o + 128), wr + 96);
    wr += 127;
  }
  // ErrBlobExtraneousDataFieldElement: non-zero bytes past the length inside the decoded rounds.
  for (let i = 4 + len; i < wr; i++) {
    if (stream[i] !== 0) throw new DecodingError("blob/trailing-data", { offset: i });
  }
  // ErrBlobExtraneousData: every byte of the rounds not decoded must be zero.
  for (let at = round * 128; at < BYTES_PER_BLOB; at++) {
    if (blob[at] !== 0) throw new DecodingError("blob/trailing-data", { offset: at });
  }
  return stream.slice(4, 4 + len);
}

/** EIP-4844 versioned hash: 0x01 ++ sha256(commitment)[1:]. */
export function kzgToVersionedHash(commitment: Uint8Array): Uint8Array {
  const h = new Uint8Array(createHash("sha256").update(commitment).digest());
  h[0] = VERSIONED_HASH_VERSION_KZG;
  return h;
}

/** Splits data over as many blobs as it needs. */
export function encodeBlobs(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < data.length || out.length === 0; off += MAX_BLOB_DATA_SIZE) {
    out.push(encodeBlob(data.subarray(off, off + MAX_BLOB_DATA_SIZE)));
  }
  return out;
}
