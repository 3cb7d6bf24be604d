// L1 costs of L2 transactions. Two views:
//  * what the batcher actually pays on L1: calldata gas (EIP-2028 pricing with Prague's EIP-7623
//    floor) or blob gas (131,072 per blob) plus the 21,000 base of each batcher transaction,
//    divided over the L2 transactions of the channel;
//  * what the L2 charges each transaction up front (specs/protocol/fjord/exec-engine.md): a
//    linear regression on the FastLZ-compressed size of the signed transaction, and from Isthmus
//    the operator fee beside it.
import { ConfigError } from "./errors.js";
import { isForkActive, type RollupConfig } from "./rollup-config.js";

export const TX_BASE_GAS = 21_000;
export const GAS_PER_BLOB = 131_072;
export const CALLDATA_FLOOR_PER_TOKEN = 10;
export const CALLDATA_STANDARD_PER_TOKEN = 4;

/** Calldata gas of an L1 transaction: 21,000 + max(standard 4/16 per byte, floor 10 per token). */
export function calldataTxGas(data: Uint8Array): number {
  let tokens = 0;
  for (const b of data) tokens += b === 0 ? 1 : 4;
  return TX_BASE_GAS + Math.max(CALLDATA_STANDARD_PER_TOKEN * tokens, CALLDATA_FLOOR_PER_TOKEN * tokens);
}

// --- FastLZ level 1, as the GasPriceOracle's LibZip.flzCompress computes it ---------------------

const HASH_MASK = 0x1fff;
const MAX_DISTANCE = 0x1fff;

function u24(d: Uint8Array, i: number): number {
  // Little-endian 3-byte read; bytes past the end read as 0 like EVM memory past the data.
  return (d[i] ?? 0) | ((d[i + 1] ?? 0) << 8) | ((d[i + 2] ?? 0) << 16);
}

function hash24(v: number): number {
  return (Math.imul(2654435769 | 0, v) >>> 19) & HASH_MASK;
}

/** FastLZ level-1 compression (LZ77 with an 8,192-entry hash table of 3-byte sequences). */
export function flzCompress(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  const table = new Uint32Array(HASH_MASK + 1);
  const n = data.length;
  const ipLimit = n - 13;
  const literals = (from: number, to: number) => {
    let runs = to - from;
    let src = from;
    while (runs >= 32) {
      out.push(31);
      for (let k = 0; k < 32; k++) out.push(data[src + k] ?? 0);
      src += 32;
      runs -= 32;
    }
    if (runs > 0) {
      out.push(runs - 1);
      for (let k = 0; k < runs; k++) out.push(data[src + k] ?? 0);
    }
  };
  const match = (len: number, distance: number) => {
    const d = distance - 1;
    while (len >= 263) {
      out.push(224 + (d >> 8), 253, d & 0xff);
      len -= 262;
    }
    if (len >= 7) out.push(224 + (d >> 8), len - 7, d & 0xff);
    else out.push((len << 5) + (d >> 8), d & 0xff);
  };
  let anchor = 0;
  let ip = 2;
  while (ip < ipLimit) {
    let ref = 0;
    let distance = 0;
    for (;;) {
      const s = u24(data, ip);
      const h = hash24(s);
      ref = table[h]!;
      table[h] = ip;
      distance = ip - ref;
      if (ip >= ipLimit) break;
      ip++;
      if (distance <= MAX_DISTANCE && s === u24(data, ref)) break;
    }
    if (ip >= ipLimit) break;
    ip--;
    if (ip > anchor) literals(anchor, ip);
    // Length of the match beyond its first 3 bytes, counting the first differing byte.
    const bound = ipLimit + 9;
    let p = ref + 3;
    let q = ip + 3;
    let len = 0;
    while (q < bound) {
      const differ = data[p] !== data[q];
      p++;
      q++;
      len++;
      if (differ) break;
    }
    match(len, distance);
    ip += len;
    table[hash24(u24(data, ip))] = ip;
    ip++;
    table[hash24(u24(data, ip))] = ip;
    ip++;
    anchor = ip;
  }
  literals(anchor, n);
  return Uint8Array.from(out);
}

/** Inverse of flzCompress, to check that the compressed form is faithful. */
export function flzDecompress(c: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < c.length) {
    const ctrl = c[i]!;
    const t = ctrl >> 5;
    if (t === 0) {
      for (let k = 0; k <= ctrl; k++) out.push(c[i + 1 + k]!);
      i += ctrl + 2;
      continue;
    }
    const long = t === 7;
    const len = long ? 9 + c[i + 1]! : 2 + t;
    const dist = ((ctrl & 0x1f) << 8) + c[i + (long ? 2 : 1)]! + 1;
    const start = out.length - dist;
    for (let k = 0; k < len; k++) out.push(out[start + k]!);
    i += long ? 3 : 2;
  }
  return Uint8Array.from(out);
}

// --- Fjord L1 fee -----------------------------------------------------------------------------

export const FJORD_MIN_TRANSACTION_SIZE = 100;
export const FJORD_INTERCEPT = -42_585_600;
export const FJORD_FASTLZ_COEF = 836_500;

export interface L1FeeParams {
  l1BaseFee: bigint;
  l1BlobBaseFee: bigint;
  baseFeeScalar: bigint;
  blobBaseFeeScalar: bigint;
}

/** OP Mainnet's Ecotone/Fjord scalars, a realistic default. */
export const OP_MAINNET_SCALARS = { baseFeeScalar: 5227n, blobBaseFeeScalar: 1_014_213n };

export interface FjordL1Cost {
  fastlzSize: number;
  /** estimatedSize × 1e6 */
  estimatedSizeScaled: bigint;
  /** What receipts report as l1GasUsed: estimated size × 16. */
  l1GasUsed: bigint;
  l1Fee: bigint;
}

/** Fjord's L1 cost of a signed L2 transaction (its full EIP-2718 bytes). */
export function fjordL1Cost(signedTx: Uint8Array, p: L1FeeParams): FjordL1Cost {
  const fastlzSize = flzCompress(signedTx).length;
  const regression = BigInt(FJORD_INTERCEPT) + BigInt(FJORD_FASTLZ_COEF) * BigInt(fastlzSize);
  const min = BigInt(FJORD_MIN_TRANSACTION_SIZE) * 1_000_000n;
  const estimatedSizeScaled = regression > min ? regression : min;
  const l1FeeScaled = p.baseFeeScalar * p.l1BaseFee * 16n + p.blobBaseFeeScalar * p.l1BlobBaseFee;
  return { fastlzSize, estimatedSizeScaled, l1GasUsed: (estimatedSizeScaled * 16n) / 1_000_000n, l1Fee: (estimatedSizeScaled * l1FeeScaled) / 1_000_000_000_000n };
}

// --- batch-level L1 gas -------------------------------------------------------------------------

export interface BatchL1Gas {
  l1Txs: number;
  /** Execution gas (calldata: includes data; blobs: 21,000 per transaction). */
  executionGas: number;
  blobs: number;
  blobGas: number;
}

/** L1 gas of posting batcher transaction data: calldata (one tx each) or blobs (blobsPerTx per tx). */
export function batchL1Gas(txDatas: readonly Uint8Array[], da: "calldata" | "blobs", blobsPerTx = 6): BatchL1Gas {
  if (da === "calldata") return { l1Txs: txDatas.length, executionGas: txDatas.reduce((a, d) => a + calldataTxGas(d), 0), blobs: 0, blobGas: 0 };
  const txs = Math.ceil(txDatas.length / blobsPerTx);
  return { l1Txs: txs, executionGas: txs * TX_BASE_GAS, blobs: txDatas.length, blobGas: txDatas.length * GAS_PER_BLOB };
}

// --- operator fee (Isthmus, Jovian) -------------------------------------------------------------

/** The operator fee parameters of the L1Block predeploy (set through the SystemConfig). */
export interface OperatorFeeParams {
  /** uint32 */
  operatorFeeScalar: bigint;
  /** uint64 */
  operatorFeeConstant: bigint;
}

/**
 * The operator fee an L2 transaction pays beside its L1 fee (isthmus/exec-engine.md "Operator
 * Fee"; jovian/exec-engine.md): before Isthmus none; from Isthmus
 * gasUsed * operatorFeeScalar / 1e6 + operatorFeeConstant; from Jovian the scalar is in units of
 * 100 wei per gas, gasUsed * operatorFeeScalar * 100 + operatorFeeConstant.
 */
export function operatorFee(gasUsed: bigint, p: OperatorFeeParams, fork: "pre-isthmus" | "isthmus" | "jovian"): bigint {
  if (p.operatorFeeScalar < 0n || p.operatorFeeScalar > 0xffff_ffffn) throw new ConfigError("fees/operator-fee-params", { field: "operatorFeeScalar", value: p.operatorFeeScalar });
  if (p.operatorFeeConstant < 0n || p.operatorFeeConstant > (1n << 64n) - 1n) throw new ConfigError("fees/operator-fee-params", { field: "operatorFeeConstant", value: p.operatorFeeConstant });
  if (fork === "pre-isthmus") return 0n;
  if (fork === "isthmus") return (gasUsed * p.operatorFeeScalar) / 1_000_000n + p.operatorFeeConstant;
  return gasUsed * p.operatorFeeScalar * 100n + p.operatorFeeConstant;
}

/** Which operator fee formula applies to an L2 block at `timestamp`. */
export function operatorFeeFork(cfg: Pick<RollupConfig, "isthmusTime" | "jovianTime">, timestamp: number): "pre-isthmus" | "isthmus" | "jovian" {
  if (isForkActive(cfg, "jovian", timestamp)) return "jovian";
  return isForkActive(cfg, "isthmus", timestamp) ? "isthmus" : "pre-isthmus";
}
