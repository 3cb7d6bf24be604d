// BN254's scalar field Fr (r = 21888...5617), from @noble/curves, and the conversions between
// 32-byte big-endian words and field elements that EigenDA blobs are made of.
import { bn254_Fr } from "@noble/curves/bn254.js";
import { DAEncodingError } from "./errors.js";

export const Fr = bn254_Fr;
export const FR_MODULUS = Fr.ORDER;
/** 5 generates Fr's multiplicative group; r - 1 = 2^28 * odd, so roots of unity exist up to 2^28. */
export const FR_MULTIPLICATIVE_GENERATOR = 5n;
export const FR_TWO_ADICITY = 28;

/** A primitive n-th root of unity, n a power of two up to 2^28. */
export function rootOfUnity(n: number): bigint {
  const log = Math.log2(n);
  if (!Number.isInteger(log) || log > FR_TWO_ADICITY) {
    throw new DAEncodingError({ code: "da/bad-domain", message: `no ${n}-th root of unity in BN254's Fr`, hint: "domains are powers of two up to 2^28", fields: { n } });
  }
  return Fr.pow(FR_MULTIPLICATIVE_GENERATOR, (FR_MODULUS - 1n) / BigInt(n));
}

/** Reads each 32-byte big-endian word as a field element; a word at or above r is refused. */
export function bytesToFieldElements(bytes: Uint8Array): bigint[] {
  if (bytes.length % 32 !== 0) {
    throw new DAEncodingError({
      code: "da/blob-bad-size",
      message: `${bytes.length} bytes are not whole 32-byte field elements`,
      hint: "blobs are 32 bytes per field element",
      fields: { length: bytes.length },
    });
  }
  const out = new Array<bigint>(bytes.length / 32);
  for (let i = 0; i < out.length; i++) {
    let v = 0n;
    for (let b = 0; b < 32; b++) v = (v << 8n) | BigInt(bytes[i * 32 + b]!);
    if (v >= FR_MODULUS) {
      throw new DAEncodingError({
        code: "da/blob-not-canonical",
        message: `word ${i} is not below BN254's scalar modulus`,
        hint: "encode the payload with the EigenDA codec first",
        fields: { index: i },
      });
    }
    out[i] = v;
  }
  return out;
}

export function fieldElementsToBytes(elements: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(elements.length * 32);
  for (let i = 0; i < elements.length; i++) {
    let v = elements[i]!;
    for (let b = 31; b >= 0; b--) {
      out[i * 32 + b] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  return out;
}
