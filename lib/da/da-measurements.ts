// The numbers notebook 02 plots, computed here so cells stay short: reconstruction success as a
// function of the stake online, sampling confidence against withheld data, and the L1 gas of
// posting a growing batch as calldata, as EIP-4844 blobs, or as one EigenDA certificate.

import type { Segment } from "../ledger/annotate.js";
import { encodeBlobs, MAX_BLOB_DATA_SIZE } from "../ledger/blob-eip4844.js";
import { channelToFrames } from "../ledger/channel.js";
import { calldataTxGas, GAS_PER_BLOB, TX_BASE_GAS } from "../ledger/fees.js";
import { encodeBatcherTxData } from "../ledger/frame.js";
import type { Rng } from "../random.js";
import { assignmentsForBlob } from "./assignment.js";
import type { VersionedBlobParams } from "./blob-params.js";
import { blobLengthForPayload } from "./codec.js";
import { type Operator, totalStake } from "./operators.js";
import { chunksNeeded, encodingLayout } from "./reed-solomon.js";

export interface ReconstructionTrial {
  /** Share of quorum-0 stake held by the operators online. */
  stakeOnline: number;
  distinctChunks: number;
  rebuilt: boolean;
}

/**
 * Random subsets of operators brought online one by one (random order, repeated `trials` times):
 * after each step, the stake online and whether their assigned chunks rebuild the blob.
 */
export function reconstructionTrials(operators: readonly Operator[], params: VersionedBlobParams, blobLength: number, trials: number, rng: Rng): ReconstructionTrial[] {
  const assignment = assignmentsForBlob(operators, params, [0, 1]);
  const needed = chunksNeeded(encodingLayout(blobLength, params));
  const total = Number(totalStake(operators, 0));
  const out: ReconstructionTrial[] = [];
  for (let t = 0; t < trials; t++) {
    const order = rng.shuffle(operators.slice());
    const have = new Set<number>();
    let stake = 0;
    for (const op of order) {
      stake += Number(op.stakes.get(0) ?? 0n);
      for (const i of assignment.get(op.id) ?? []) have.add(i);
      out.push({ stakeOnline: stake / total, distinctChunks: have.size, rebuilt: have.size >= needed });
    }
  }
  return out;
}

/** Success rate per bin of online stake (bins of width 1/bins). */
export function successByStake(trials: readonly ReconstructionTrial[], bins = 20): { stakeOnline: number; successRate: number; trials: number }[] {
  const rows: { stakeOnline: number; successRate: number; trials: number }[] = [];
  for (let b = 0; b < bins; b++) {
    const inBin = trials.filter((t) => t.stakeOnline >= b / bins && (t.stakeOnline < (b + 1) / bins || (b === bins - 1 && t.stakeOnline <= 1)));
    if (inBin.length === 0) continue;
    rows.push({ stakeOnline: (b + 0.5) / bins, successRate: inBin.filter((t) => t.rebuilt).length / inBin.length, trials: inBin.length });
  }
  return rows;
}

/** The smallest online stake share at which any trial failed to rebuild (never above the threshold). */
export function worstFailure(trials: readonly ReconstructionTrial[]): number {
  return trials.filter((t) => !t.rebuilt).reduce((m, t) => Math.max(m, t.stakeOnline), 0);
}

export interface SamplingRow {
  samples: number;
  /** P(at least one sampled chunk is missing) when just enough chunks are withheld to make the blob unrecoverable. */
  analytic: number;
  empirical: number;
}

/**
 * Data-availability sampling against a withholding disperser: it withholds numChunks - needed + 1
 * chunks (the fewest that make the blob unrecoverable); a sampler asks for k uniformly random
 * chunks and detects the withholding if any one is missing. Analytic 1 - (available/numChunks)^k.
 */
export function samplingConfidence(numChunks: number, needed: number, sampleCounts: readonly number[], trials: number, rng: Rng): SamplingRow[] {
  const available = needed - 1;
  return sampleCounts.map((k) => {
    let detected = 0;
    for (let t = 0; t < trials; t++) {
      for (let s = 0; s < k; s++) {
        if (rng.int(numChunks) >= available) {
          detected++;
          break;
        }
      }
    }
    return { samples: k, analytic: 1 - (available / numChunks) ** k, empirical: detected / trials };
  });
}

export interface GasRow {
  batchBytes: number;
  calldataGas: number;
  calldataTxs: number;
  /** Execution gas of the type-3 transactions plus their blob gas (priced on its own market). */
  blobTxGas: number;
  blobGas: number;
  blobs: number;
  /** One certificate per EigenDA blob: the commitment as calldata. */
  certCalldataGas: number;
  /** The same plus one checkDACert on L1 per certificate (what an on-chain check would add). */
  certWithVerificationGas: number;
  certs: number;
}

/** EigenDA's largest blob is 16 MiB: 2^19 field elements, (2^19 - 1) * 31 payload bytes. */
export const EIGENDA_MAX_PAYLOAD_BYTES = (2 ** 19 - 1) * 31;

/**
 * L1 gas to post `batchBytes` of compressed channel data three ways: calldata frames of up to
 * 120,000 bytes, EIP-4844 blobs (6 per transaction), or EigenDA certificates of `certBytes`.
 */
export function gasForBatch(channel: Uint8Array, certTxData: Uint8Array, verificationGas: number): GasRow {
  const frames = channelToFrames(new Uint8Array(16), channel, 120_000 - 1);
  const calldataGas = frames.reduce((a, f) => a + calldataTxGas(encodeBatcherTxData([f])), 0);
  const blobFrames = channelToFrames(new Uint8Array(16), channel, MAX_BLOB_DATA_SIZE - 1);
  const blobs = blobFrames.length;
  const blobTxs = Math.ceil(blobs / 6);
  const certs = Math.max(1, Math.ceil(channel.length / EIGENDA_MAX_PAYLOAD_BYTES));
  const certCalldataGas = certs * calldataTxGas(certTxData);
  return {
    batchBytes: channel.length,
    calldataGas,
    calldataTxs: frames.length,
    blobTxGas: blobTxs * TX_BASE_GAS + blobs * GAS_PER_BLOB,
    blobGas: blobs * GAS_PER_BLOB,
    blobs,
    certCalldataGas,
    certWithVerificationGas: certCalldataGas + certs * verificationGas,
    certs,
  };
}

/** Bytes of blob space each way for a payload: EigenDA rounds to a power of two, 4844 to whole 128 KiB blobs. */
export function blobSpace(payloadBytes: number): { eigenDABytes: number; eip4844Bytes: number } {
  return { eigenDABytes: blobLengthForPayload(payloadBytes) * 32, eip4844Bytes: encodeBlobs(new Uint8Array(payloadBytes)).length * 131_072 };
}

/** Field segments of an encoded payload, for a hex dump: header fields, then each word's guard byte. */
export function encodedPayloadSegments(encoded: Uint8Array, words = 4): Segment[] {
  const seg = (offset: number, length: number, field: string, value = ""): Segment => ({
    offset,
    length,
    field,
    hex: Buffer.from(encoded.subarray(offset, offset + Math.min(length, 8))).toString("hex"),
    value,
  });
  const out = [
    seg(0, 1, "0x00 header guard"),
    seg(1, 1, "version", String(encoded[1])),
    seg(2, 4, "length (uint32 BE)", String(new DataView(encoded.buffer, encoded.byteOffset).getUint32(2, false))),
    seg(6, 26, "header-padding"),
  ];
  for (let w = 1; w <= words && w * 32 < encoded.length; w++) out.push(seg(w * 32, 1, `fe${w}:0x00`), seg(w * 32 + 1, 31, `fe${w}:payload`));
  return out;
}
