// An in-memory L1, its port for the rollup driver, and the driver run on it without a chain: for
// tests (thousands of mutated inputs per second) and for size/throughput experiments. The
// Hardhat-backed runs (rollup.ts, the loop's L2) drive the same stages over real L1 and L2 chains.

import { createHash } from "node:crypto";
import { keccak256, Transaction, type Wallet } from "ethers";
import { devPrivateKeys, devWallet } from "../chain/keys.js";
import type { OnProgress } from "../progress.js";
import type { Batcher, BatcherOptions, BatcherTx } from "./batcher.js";
import { kzgToVersionedHash } from "./blob-eip4844.js";
import type { BlobSource, L1BlockData, L1BlockRef, L1Tx, L2BlockRef } from "./block-refs.js";
import { fromHex, toHex } from "./bytes.js";
import type { PostedTx } from "./chains.js";
import { inclusionLatencies, latencySummary } from "./channel-measurements.js";
import { parseL1Tx } from "./derivation/l1-retrieval.js";
import type { DerivationPipeline, PipelineOptions } from "./derivation/pipeline.js";
import { BATCHER_ACCOUNT, type ChannelInclusion, derive, type L1Port, RollupDriver } from "./driver.js";
import { HashEngine } from "./engine.js";
import type { RollupConfig } from "./rollup-config.js";
import type { Sequencer } from "./sequencer.js";
import { Workload } from "./workload.js";

export { BATCHER_ACCOUNT } from "./driver.js";
/** Chain id of the in-memory L1 (a devnet id: its transactions are signed for it). */
export const MEMORY_L1_CHAIN_ID = 900n;

export class MemoryL1 implements BlobSource {
  readonly blocks: L1BlockData[] = [];
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly nonces = new Map<string, number>();

  constructor(
    genesisTimestamp: number,
    readonly blockTime = 12,
  ) {
    this.blocks.push({ number: 0, hash: keccak256(Uint8Array.of(0)), parentHash: `0x${"00".repeat(32)}`, timestamp: genesisTimestamp, transactions: [] });
  }

  get head(): L1BlockData {
    return this.blocks[this.blocks.length - 1]!;
  }

  get(n: number): L1BlockData | undefined {
    return this.blocks[n];
  }

  getBlob(vh: string): Uint8Array | undefined {
    return this.blobs.get(vh.toLowerCase());
  }

  /** Stores a blob under a versioned hash; without KZG, sha256 of the blob stands in for the commitment. */
  putBlob(blob: Uint8Array, commitment?: Uint8Array): string {
    const vh = toHex(kzgToVersionedHash(commitment ?? new Uint8Array(createHash("sha256").update(blob).digest()))).toLowerCase();
    this.blobs.set(vh, blob);
    return vh;
  }

  mine(transactions: L1Tx[]): L1BlockData {
    const parent = this.head;
    const number = parent.number + 1;
    const timestamp = parent.timestamp + this.blockTime;
    const hash = keccak256(new TextEncoder().encode(`${parent.hash}:${number}:${timestamp}:${transactions.map((t) => keccak256(t.raw)).join(",")}`));
    const b = { number, hash, parentHash: parent.hash, timestamp, transactions };
    this.blocks.push(b);
    return b;
  }

  /** Signs batcher transactions with `signer` for this L1: type 2 with calldata, or type 3 with blob hashes. */
  toL1Txs(txs: readonly BatcherTx[], signer: Wallet, inbox: string): L1Tx[] {
    return txs.map((t) =>
      t.da === "calldata"
        ? this.sign(signer, { type: 2, to: inbox, data: t.data })
        : this.sign(signer, { type: 3, to: inbox, data: new Uint8Array(0), blobVersionedHashes: t.blobs.map((b) => this.putBlob(b)) }),
    );
  }

  /** A signed L1 transaction from `signer` (its nonces counted per signer). */
  sign(signer: Wallet, tx: { type: 2 | 3; to: string; data: Uint8Array; blobVersionedHashes?: string[] }): L1Tx {
    const nonce = this.nonces.get(signer.address) ?? 0;
    this.nonces.set(signer.address, nonce + 1);
    const fees = { maxFeePerGas: 50_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n, gasLimit: 1_000_000n };
    const unsigned = Transaction.from({
      type: tx.type,
      chainId: MEMORY_L1_CHAIN_ID,
      nonce,
      to: tx.to,
      data: toHex(tx.data),
      ...fees,
      ...(tx.type === 3 ? { maxFeePerBlobGas: 1n, blobVersionedHashes: tx.blobVersionedHashes } : {}),
    });
    unsigned.signature = signer.signingKey.sign(unsigned.unsignedHash);
    return { raw: fromHex(unsigned.serialized) };
  }
}

/** The data of every transaction on an in-memory L1, in block order: what the batcher posted (frames, or alt-DA commitments). */
export function batcherDataOnL1(l1: MemoryL1): Uint8Array[] {
  return l1.blocks.flatMap((b) => b.transactions.map((t) => parseL1Tx(t)!.data));
}

/** How many batcher transactions an in-memory L1 holds and how many bytes of data they carry. */
export function l1Footprint(l1: MemoryL1): { txs: number; bytes: number } {
  const data = batcherDataOnL1(l1);
  return { txs: data.length, bytes: data.reduce((a, d) => a + d.length, 0) };
}

export function l1Ref(b: L1BlockData): L1BlockRef {
  return { number: b.number, hash: b.hash, parentHash: b.parentHash, timestamp: b.timestamp };
}

export function genesisL2(l1Genesis: L1BlockRef, timestamp: number): L2BlockRef {
  return {
    number: 0,
    hash: keccak256(new TextEncoder().encode("l2-genesis")),
    parentHash: `0x${"00".repeat(32)}`,
    timestamp,
    l1origin: { number: l1Genesis.number, hash: l1Genesis.hash },
    sequenceNumber: 0,
  };
}

/** The rollup driver's port on a MemoryL1: batcher transactions wait in an outbox for the next block. */
export class MemoryL1Port implements L1Port {
  onBlock: (ref: L1BlockRef) => void = () => {};
  private outbox: L1Tx[] = [];

  constructor(
    readonly chain: MemoryL1,
    private readonly signer: Wallet,
    private readonly inbox: string,
  ) {}

  get blockTime(): number {
    return this.chain.blockTime;
  }

  get head(): L1BlockRef {
    return l1Ref(this.chain.head);
  }

  get blobs(): BlobSource {
    return this.chain;
  }

  ref(n: number): L1BlockRef | undefined {
    const b = this.chain.get(n);
    return b ? l1Ref(b) : undefined;
  }

  async mine(): Promise<void> {
    const b = this.chain.mine(this.outbox);
    this.outbox = [];
    this.onBlock(l1Ref(b));
  }

  async submit(txs: readonly BatcherTx[]): Promise<PostedTx[]> {
    const signed = this.chain.toL1Txs(txs, this.signer, this.inbox);
    this.outbox.push(...signed);
    return txs.map((t, i) => ({
      hash: keccak256(signed[i]!.raw),
      da: t.da,
      blobs: t.da === "blobs" ? t.blobs.length : 0,
      bytes: t.da === "blobs" ? t.datas.reduce((a, d) => a + d.length, 0) : t.data.length,
    }));
  }

  async blockData(n: number): Promise<L1BlockData> {
    return this.chain.blocks[n]!;
  }
}

export interface SimRunOptions {
  cfg: RollupConfig;
  batcher: BatcherOptions;
  /** L2 transactions per L2 block, supplied by the caller (e.g. from a Workload). */
  txsForBlock: (i: number) => Uint8Array[];
  l2Blocks: number;
  seed: number;
  /** Signs the batcher transactions (dev account BATCHER_ACCOUNT by default): its address must be cfg.batcherAddress for them to derive. */
  batcherKey?: Wallet;
  /** Alt-DA: rewrites batcher transactions before they go to L1 (frames become DA commitments). */
  postBatcherTxs?: (txs: BatcherTx[]) => Promise<BatcherTx[]>;
  /** Counts the L2 blocks sequenced. */
  onProgress?: OnProgress;
}

export interface SimRun {
  l1: MemoryL1;
  sequencer: Sequencer;
  batcher: Batcher;
  genesis: L2BlockRef;
  batcherTxCount: number;
  /** For each channel, the L1 block that included it. */
  inclusions: ChannelInclusion[];
}

/** Sequences l2Blocks blocks while L1 advances every 12 s, posting channels as they fill: the rollup driver on a MemoryL1. */
export async function simulate(o: SimRunOptions): Promise<SimRun> {
  const l1 = new MemoryL1(o.cfg.genesisTimestamp);
  const genesis = genesisL2(l1Ref(l1.head), o.cfg.genesisTimestamp);
  const port = new MemoryL1Port(l1, o.batcherKey ?? devWallet(BATCHER_ACCOUNT), o.cfg.batchInboxAddress);
  const driver = new RollupDriver({ cfg: o.cfg, l1: port, engine: new HashEngine(genesis), genesis, batcher: o.batcher, seed: o.seed });
  driver.altDA = o.postBatcherTxs;
  await driver.run(o.l2Blocks, o.txsForBlock, o.onProgress);
  return { l1, sequencer: driver.sequencer, batcher: driver.batcher, genesis, batcherTxCount: driver.batcherTxCount, inclusions: driver.inclusions() };
}

export interface WorkloadSimOptions extends Omit<SimRunOptions, "txsForBlock"> {
  /** Workload transactions in each block after the first (which holds the workload's set-up). */
  txsPerBlock: number;
  /** The workload's senders: the first `senders` development accounts. */
  senders: number;
  /** The workload's seed, when it is not the run's. */
  workloadSeed?: number;
}

/** The seeded workload through simulate: its set-up transactions in the first block, then txsPerBlock in each. */
export async function simulateWorkload(o: WorkloadSimOptions): Promise<SimRun & { workload: Workload }> {
  const { txsPerBlock, senders, workloadSeed, ...run } = o;
  const workload = new Workload({ seed: workloadSeed ?? o.seed, chainId: o.cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, senders) });
  const setup = workload.setup().map((t) => t.raw);
  const sim = await simulate({ ...run, txsForBlock: (i) => (i === 0 ? setup : workload.take(txsPerBlock).map((t) => t.raw)) });
  return { ...sim, workload };
}

export interface LatencyAtLimit {
  /** The batcher's channel size limit (maxChannelInputBytes). */
  limit: number;
  channels: number;
  /** Seconds from each L2 block to the L1 block that included its channel. */
  latencies: number[];
  median: number;
  max: number;
}

/** The same workload run in memory once per channel size limit: how long blocks wait for L1 inclusion. */
export async function latencyByChannelLimit(o: WorkloadSimOptions, limits: readonly number[]): Promise<LatencyAtLimit[]> {
  const out: LatencyAtLimit[] = [];
  for (const limit of limits) {
    const sim = await simulateWorkload({ ...o, batcher: { ...o.batcher, maxChannelInputBytes: limit } });
    const latencies = inclusionLatencies(
      sim.sequencer.blocks.map((b) => b.ref),
      sim.inclusions,
    );
    out.push({ limit, channels: sim.batcher.channels.length, latencies, ...latencySummary(latencies) });
  }
  return out;
}

/** Runs derivation over every L1 block of a simulated run (or a mutated copy of its blocks). */
export async function deriveAll(cfg: RollupConfig, genesis: L2BlockRef, l1Blocks: readonly L1BlockData[], blobs: BlobSource, opts: Omit<PipelineOptions, "blobs"> = {}): Promise<DerivationPipeline> {
  const derived = await derive(cfg, new HashEngine(genesis), genesis, l1Ref(l1Blocks[0]!), l1Blocks.length - 1, (n) => l1Blocks[n]!, { ...opts, blobs });
  return derived.pipeline;
}
