// KZG commitments and proofs for EIP-4844 blobs, from c-kzg-4844 compiled to WebAssembly. Loading
// the trusted setup takes seconds, so one instance is shared by the process.
import { loadKZG } from "kzg-wasm";
import { fromHex, toHex } from "./bytes.js";

type Kzg = Awaited<ReturnType<typeof loadKZG>>;
let instance: Promise<Kzg> | undefined;

export function kzg(): Promise<Kzg> {
  instance ??= loadKZG(0);
  return instance;
}

export interface BlobCommitment {
  commitment: Uint8Array;
  proof: Uint8Array;
}

export async function commitBlob(blob: Uint8Array): Promise<BlobCommitment> {
  const k = await kzg();
  const c = k.blobToKZGCommitment(toHex(blob));
  const p = k.computeBlobKZGProof(toHex(blob), c);
  return { commitment: fromHex(c), proof: fromHex(p) };
}

/** Synchronous commitment function for derivation's blob check, once kzg() has resolved. */
export async function commitmentFunction(): Promise<(blob: Uint8Array) => Uint8Array> {
  const k = await kzg();
  return (blob) => fromHex(k.blobToKZGCommitment(toHex(blob)));
}
