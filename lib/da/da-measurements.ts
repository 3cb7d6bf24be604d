// The numbers notebook 02 plots, computed here so cells stay short: reconstruction success as a
// function of the stake online, sampling confidence against withheld data, and the L1 gas of
// posting a growing batch as calldata, as EIP-4844 blobs, or as one EigenDA certificate.

import { type ErrorFields, LabError } from "../errors.js";
import type { Segment } from "../ledger/annotate.js";
import type { ChannelInfo } from "../ledger/batcher.js";
import { encodeBlobs, MAX_BLOB_DATA_SIZE } from "../ledger/blob-eip4844.js";
import { channelToFrames } from "../ledger/channel.js";
import { calldataTxGas, GAS_PER_BLOB, TX_BASE_GAS } from "../ledger/fees.js";
import { encodeBatcherTxData } from "../ledger/frame.js";
import type { Rng } from "../random.js";
import { type Assignment, assignmentsForBlob } from "./assignment.js";
import { type SafetyCheck, type SecurityThresholds, safetyCheck, type VersionedBlobParams } from "./blob-params.js";
import type { mcl } from "./bn254.js";
import { blobLengthForPayload } from "./codec.js";
import { bytesToFieldElements, fieldElementsToBytes } from "./field.js";
import { verifyChunk } from "./kzg-bn254.js";
import { type Operator, type OperatorBehaviour, totalStake } from "./operators.js";
import { type Chunk, chunksNeeded, type EncodingLayout, encodingLayout } from "./reed-solomon.js";
import type { RetrievalReport } from "./retrieval.js";
import type { Srs } from "./srs.js";

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

// --- the steps notebook 02 shows: refusals, layouts, operators taken offline, retrieval at the edge

/** One input fed to a check: accepted (no code), or refused with the error's code and fields. */
export interface Refusal {
  input: string;
  code?: string;
  fields?: ErrorFields;
}

/** Feeds each input to `check` and keeps what it was refused with; anything thrown that is not a LabError propagates. */
export function refusals<T>(inputs: readonly { input: string; value: T }[], check: (value: T) => unknown): Refusal[] {
  return inputs.map(({ input, value }) => {
    try {
      check(value);
      return { input };
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      return { input, code: e.code, fields: e.fields };
    }
  });
}

/** The refusal of an asynchronous step (undefined when it went through); anything thrown that is not a LabError propagates. */
export async function refusalOf(run: () => Promise<unknown>): Promise<LabError | undefined> {
  try {
    await run();
    return undefined;
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    return e;
  }
}

/** An encoded payload broken three ways the decoder must refuse: header byte, length claim, truncation. */
export function payloadCorruptions(encoded: Uint8Array): { input: string; value: Uint8Array }[] {
  const badHeader = encoded.slice();
  badHeader[0] = 1;
  const badLength = encoded.slice();
  new DataView(badLength.buffer).setUint32(2, encoded.length, false);
  return [
    { input: "first byte 0x01", value: badHeader },
    { input: "length past the data", value: badLength },
    { input: "three words short", value: encoded.subarray(0, encoded.length - 96) },
  ];
}

export interface ChunkLayoutRow {
  params: string;
  blobLength: number;
  chunkLength: number;
  chunks: number;
  domainSize: number;
  chunksNeeded: number;
}

/** The Reed–Solomon layout of one blob under each named set of blob parameters (the lab's, mainnet's). */
export function chunkLayouts(blobLength: number, params: Record<string, VersionedBlobParams>): ChunkLayoutRow[] {
  return Object.entries(params).map(([name, p]) => {
    const layout = encodingLayout(blobLength, p);
    return { params: name, blobLength, chunkLength: layout.chunkLength, chunks: layout.numChunks, domainSize: layout.domainSize, chunksNeeded: chunksNeeded(layout) };
  });
}

export interface NamedSafetyCheck extends SafetyCheck, VersionedBlobParams {
  params: string;
}

/** The security inequality for each named set of blob parameters, beside the parameters themselves. */
export function safetyChecks(params: Record<string, VersionedBlobParams>, thresholds: SecurityThresholds): NamedSafetyCheck[] {
  return Object.entries(params).map(([name, p]) => ({ params: name, ...p, ...safetyCheck(p, thresholds) }));
}

/** One-bit changes to a chunk, one in the last byte of each 32-byte evaluation: how many its proof catches. */
export function chunkTamperCaught(srs: Srs, commitment: mcl.G1, layout: EncodingLayout, chunk: Chunk, proof: mcl.G1): { tried: number; caught: number } {
  const bytes = fieldElementsToBytes(chunk.evaluations);
  let tried = 0;
  let caught = 0;
  for (let at = 31; at < bytes.length; at += 32) {
    const changed = bytes.slice();
    changed[at]! ^= 1;
    tried++;
    if (!verifyChunk(srs, commitment, layout, { index: chunk.index, evaluations: bytesToFieldElements(changed) }, proof)) caught++;
  }
  return { tried, caught };
}

/** The largest operators by stake in `quorum`, taken in turn until together they hold more than `share` of it. */
export function largestOperatorsHolding(operators: readonly Operator[], quorum: number, share: number): Operator[] {
  const total = Number(totalStake(operators, quorum));
  const stake = (o: Operator) => Number(o.stakes.get(quorum) ?? 0n);
  const out: Operator[] = [];
  let held = 0;
  for (const o of [...operators].sort((a, b) => stake(b) - stake(a))) {
    if (held > share * total) break;
    out.push(o);
    held += stake(o);
  }
  return out;
}

/** Runs `step` with `operators` behaving as `behaviour`, then makes them honest again. */
export async function withBehaviour<T>(operators: readonly Operator[], behaviour: OperatorBehaviour, step: () => T | Promise<T>): Promise<T> {
  for (const o of operators) o.behaviour = behaviour;
  try {
    return await step();
  } finally {
    for (const o of operators) o.behaviour = "honest";
  }
}

export interface RetrievalAttempt {
  operatorsServing: number;
  /** Share of quorum 0's and quorum 1's stake held by the operators serving. */
  q0StakeOnline: number;
  q1StakeOnline: number;
  /** "rebuilt", or the code retrieval was refused with. */
  result: string;
  /** Chunks received whose proofs checked out (on a refusal: the distinct chunks it had). */
  chunksVerified: number;
}

/**
 * Retrieval at the edge of the threshold: every operator withholds, then they serve one by one,
 * fewest assigned chunks first, and after each a real retrieval is tried, until one rebuilds
 * the blob. Returns each attempt and the payload rebuilt (undefined if none did).
 */
export function retrievalEdge(operators: readonly Operator[], assignment: Assignment, retrieve: () => RetrievalReport): { attempts: RetrievalAttempt[]; payload?: Uint8Array } {
  const held = (o: Operator) => assignment.get(o.id)?.length ?? 0;
  const stake = (o: Operator, q: number) => Number(o.stakes.get(q) ?? 0n);
  const totals = [Number(totalStake(operators, 0)), Number(totalStake(operators, 1))];
  const order = [...operators].sort((a, b) => held(a) - held(b) || stake(a, 0) - stake(b, 0));
  const attempts: RetrievalAttempt[] = [];
  for (const o of operators) o.behaviour = "withholding";
  try {
    const serving: Operator[] = [];
    for (const o of order) {
      o.behaviour = "honest";
      serving.push(o);
      const share = (q: number) => serving.reduce((a, x) => a + stake(x, q), 0) / totals[q]!;
      const attempt = { operatorsServing: serving.length, q0StakeOnline: share(0), q1StakeOnline: share(1) };
      try {
        const got = retrieve();
        attempts.push({ ...attempt, result: "rebuilt", chunksVerified: got.chunksReceived - got.chunksRejected });
        return { attempts, payload: got.payload };
      } catch (e) {
        if (!(e instanceof LabError)) throw e;
        attempts.push({ ...attempt, result: e.code, chunksVerified: Number(e.fields.have ?? 0) });
      }
    }
    return { attempts };
  } finally {
    for (const o of operators) o.behaviour = "honest";
  }
}

/** The frames' bytes of every channel, one after another: the compressed stream the batcher posts. */
export function channelFrameStream(channels: readonly ChannelInfo[]): Uint8Array {
  return Buffer.concat(channels.flatMap((c) => c.frames.map((f) => f.data)));
}

/** Batch sizes of the gas comparison, from one frame's worth to ten megabytes. */
export const GAS_BATCH_SIZES = [2_000, 10_000, 50_000, 100_000, 300_000, 1_000_000, 3_000_000, 10_000_000] as const;

/** gasForBatch at each size up to `maxRepeat` times the stream, the stream repeated to fill it. */
export function gasCurve(stream: Uint8Array, certTxData: Uint8Array, verificationGas: number, sizes: readonly number[] = GAS_BATCH_SIZES, maxRepeat = 20): GasRow[] {
  return sizes
    .filter((s) => s <= stream.length * maxRepeat)
    .map((s) => gasForBatch(new Uint8Array(Buffer.concat(Array.from({ length: Math.ceil(s / stream.length) }, () => stream))).subarray(0, s), certTxData, verificationGas));
}
