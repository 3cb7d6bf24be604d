// The OP Stack's alt-DA input commitment (specs/experimental/alt-da.md) carrying an EigenDA
// certificate, as eigenda-proxy writes it in its optimism_generic mode:
//
//   batcher tx data  = 0x01 (alt-DA derivation version) ++ commitment
//   commitment       = 0x01 (generic commitment) ++ 0x00 (EigenDA da_layer_byte) ++ 0x02 (cert version: V3) ++ RLP(cert)
import { fromHex } from "../ledger/bytes.js";
import { DAEncodingError } from "./errors.js";

export const ALT_DA_TX_DATA_VERSION = 0x01;
export const GENERIC_COMMITMENT_TYPE = 0x01;
export const EIGENDA_DA_LAYER_BYTE = 0x00;
/** eigenda-proxy's version byte for EigenDA V2 blobs certified with an EigenDACertV3. */
export const CERT_VERSION_V3 = 0x02;

/** The generic commitment the DA server is asked by: type, DA layer, cert version, certificate. */
export function genericCommitment(cert: Uint8Array): Uint8Array {
  const out = new Uint8Array(3 + cert.length);
  out.set([GENERIC_COMMITMENT_TYPE, EIGENDA_DA_LAYER_BYTE, CERT_VERSION_V3]);
  out.set(cert, 3);
  return out;
}

/** What the batcher posts instead of frames. */
export function altDATxData(commitment: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + commitment.length);
  out[0] = ALT_DA_TX_DATA_VERSION;
  out.set(commitment, 1);
  return out;
}

export function isAltDATxData(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === ALT_DA_TX_DATA_VERSION;
}

/** Splits a generic commitment into its certificate; other DA layers or versions are refused. */
export function parseGenericCommitment(commitment: Uint8Array): { certVersion: number; cert: Uint8Array } {
  const fail = (code: string, message: string, fields: Record<string, number>): never => {
    throw new DAEncodingError({ code, message, hint: "only EigenDA generic commitments with V3 certificates are understood here", fields });
  };
  if (commitment.length < 4) fail("da/commitment-too-short", `a commitment of ${commitment.length} bytes`, { length: commitment.length });
  if (commitment[0] !== GENERIC_COMMITMENT_TYPE) fail("da/commitment-not-generic", `commitment type 0x${commitment[0]!.toString(16)} is not generic (0x01)`, { type: commitment[0]! });
  if (commitment[1] !== EIGENDA_DA_LAYER_BYTE) fail("da/commitment-not-eigenda", `DA layer byte 0x${commitment[1]!.toString(16)} is not EigenDA (0x00)`, { daLayer: commitment[1]! });
  if (commitment[2] !== CERT_VERSION_V3) fail("da/commitment-unknown-cert-version", `certificate version byte 0x${commitment[2]!.toString(16)} is not V3 (0x02)`, { certVersion: commitment[2]! });
  return { certVersion: commitment[2]!, cert: commitment.subarray(3) };
}

/**
 * A batcher transaction's data as derivation reads it from L1 (hex calldata or bytes): the
 * certificate its alt-DA commitment carries, and the data's size; refused when the data carries
 * frames rather than a commitment, or a commitment of another DA layer or version.
 */
export function certificateOfTxData(data: string | Uint8Array): { cert: Uint8Array; dataBytes: number } {
  const bytes = typeof data === "string" ? fromHex(data) : data;
  if (!isAltDATxData(bytes))
    throw new DAEncodingError({
      code: "da/not-alt-da-data",
      message: `batcher data starts with 0x${(bytes[0] ?? 0).toString(16).padStart(2, "0")}, not the alt-DA version byte 0x01`,
      hint: "pass the data of a batcher transaction posted through the DA layer (frames posted directly carry no certificate)",
      fields: { firstByte: bytes[0] ?? -1, length: bytes.length },
    });
  return { cert: parseGenericCommitment(bytes.subarray(1)).cert, dataBytes: bytes.length };
}
