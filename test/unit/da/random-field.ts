import { FR_MODULUS } from "../../../lib/da/field.js";
import { rng } from "../../../lib/random.js";

/** `count` seeded elements below `modulus` (Fr's by default), each from 256 random bits, so every limb is exercised. */
export function randomFieldElements(count: number, seed: number, modulus = FR_MODULUS): bigint[] {
  const r = rng(seed);
  return Array.from({ length: count }, () => {
    let v = 0n;
    for (let k = 0; k < 8; k++) v = (v << 32n) | BigInt(r.int(2 ** 32));
    return v % modulus;
  });
}
