// The rollup driver: the one sequence every run of the rollup follows, over an L1 port that is
// either in memory (sim.ts) or a Hardhat chain (hardhat-l1.ts). Its stages carry the OP Stack
// specs' names:
//   L1 origin     the L1 chain moves on until the sequencer's next block may pick its origin
//   sequencing    the sequencer builds the next L2 block on its engine (specs/protocol/sequencer.md)
//   batch submission  the batcher buffers the block; a full channel goes to the batch inbox
//                 (specs/protocol/batcher.md), through an alt-DA layer when one is set
//   channel close the batcher closes what it still holds, and L1 mines two more blocks so the
//                 last batcher transactions are included
//   derivation    the derivation pipeline reads L1 back block by block (specs/protocol/derivation.md)
// runRollup (Hardhat, a generated workload), simulate (in memory) and the loop's L2 (Hardhat, the
// loop's own transactions) are thin callers of this driver.
import { nextTurn, type OnProgress } from "../progress.js";
import { rng } from "../random.js";
import { Batcher, type BatcherOptions, type BatcherTx, type ChannelInfo } from "./batcher.js";
import type { BlobSource, L1BlockData, L1BlockRef, L2BlockRef } from "./block-refs.js";
import { toHex } from "./bytes.js";
import type { PostedTx } from "./chains.js";
import { DerivationPipeline, type Engine, type PipelineOptions } from "./derivation/pipeline.js";
import type { RollupConfig } from "./rollup-config.js";
import { type SequencedBlock, Sequencer } from "./sequencer.js";

/** The dev account that signs batcher transactions, on the in-memory L1 and the Hardhat one. */
export const BATCHER_ACCOUNT = 19;

/** What the driver needs of L1: its blocks, mining, the batch inbox, and the blobs posted. */
export interface L1Port {
  /** Seconds between L1 blocks. */
  readonly blockTime: number;
  /** The newest L1 block. */
  readonly head: L1BlockRef;
  /** An L1 block by number, as the sequencer sees it when it picks an origin. */
  ref(n: number): L1BlockRef | undefined;
  /** Mines the next L1 block, at head.timestamp + blockTime, with the batcher transactions sent since the last one. */
  mine(): Promise<void>;
  /** Sends batcher transactions to the batch inbox (a port may mine a blob transaction at once). */
  submit(txs: readonly BatcherTx[]): Promise<PostedTx[]>;
  /** Called with every L1 block the port mines; the driver sets it. */
  onBlock: (ref: L1BlockRef) => void;
  /** An L1 block with its transactions, as L1 retrieval reads it. */
  blockData(n: number): Promise<L1BlockData>;
  /** Where derivation finds the blobs of type-3 transactions. */
  readonly blobs: BlobSource;
}

/** A channel the batcher submitted: its batcher transactions and the L1 block that included the first of them. */
export interface PostedChannel {
  channel: ChannelInfo;
  txs: PostedTx[];
  /** L1 block that included the channel (unset until L1 has mined one after the submission). */
  l1Block?: number;
  l1Timestamp?: number;
}

/** The L1 block that included a channel. */
export interface ChannelInclusion {
  channel: ChannelInfo;
  l1Block: number;
  l1Timestamp: number;
}

export interface RollupDriverOptions {
  cfg: RollupConfig;
  l1: L1Port;
  /** The engine the sequencer builds on, and the L2 genesis it starts from. */
  engine: Engine;
  genesis: L2BlockRef;
  batcher: BatcherOptions;
  /** Seeds the batcher's channel ids. */
  seed: number;
}

export interface Derived {
  pipeline: DerivationPipeline;
  /** Wall-clock seconds derivation took. */
  seconds: number;
}

export class RollupDriver {
  readonly cfg: RollupConfig;
  readonly l1: L1Port;
  readonly genesis: L2BlockRef;
  /** L1's genesis: where derivation starts reading. */
  readonly l1Genesis: L1BlockRef;
  readonly sequencer: Sequencer;
  readonly batcher: Batcher;
  readonly posted: PostedChannel[] = [];
  /** Batcher transactions sent to L1 (after alt-DA rewrote them, when set). */
  batcherTxCount = 0;
  /** Alt-DA (specs/experimental/alt-da.md): rewrites batcher transactions before they go to L1 (frames become DA commitments). */
  altDA?: (txs: BatcherTx[]) => Promise<BatcherTx[]>;
  private readonly unincluded: PostedChannel[] = [];

  constructor(o: RollupDriverOptions) {
    this.cfg = o.cfg;
    this.l1 = o.l1;
    this.genesis = o.genesis;
    this.l1Genesis = o.l1.ref(0)!;
    this.sequencer = new Sequencer(o.cfg, o.engine, o.genesis, (n) => o.l1.ref(n));
    this.batcher = new Batcher(o.cfg, o.batcher, rng(o.seed).fork("channel-ids"));
    o.l1.onBlock = (ref) => this.included(ref);
  }

  /** L1 origin: L1 mines until its next block would come after the sequencer's next L2 timestamp. */
  async advanceL1(): Promise<void> {
    while (this.l1.head.timestamp + this.l1.blockTime <= this.sequencer.nextTimestamp) await this.l1.mine();
  }

  /** Sequencing and batch submission of one L2 block holding `txs` (signed, in order). */
  async sequence(txs: readonly Uint8Array[]): Promise<SequencedBlock> {
    await this.advanceL1();
    const block = await this.sequencer.buildBlock(txs);
    await this.submit(this.batcher.addBlock(block));
    return block;
  }

  /** Batch submission: one channel's batcher transactions to the batch inbox. */
  async submit(txs: BatcherTx[]): Promise<void> {
    if (txs.length === 0) return;
    const entries = new Map<ChannelInfo, PostedChannel>();
    for (const t of txs) {
      if (entries.has(t.channel)) continue;
      const p: PostedChannel = { channel: t.channel, txs: [] };
      entries.set(t.channel, p);
      this.posted.push(p);
      // A port may mine a blob transaction on the spot: the channel waits for inclusion before it is sent.
      this.unincluded.push(p);
    }
    const sending = this.altDA ? await this.altDA(txs) : txs;
    this.batcherTxCount += sending.length;
    const sent = await this.l1.submit(sending);
    for (const [i, t] of txs.entries()) entries.get(t.channel)!.txs.push(sent[i]!);
  }

  /** Channel close: the batcher posts what it still holds, and L1 mines two blocks to include it. */
  async closeChannel(): Promise<void> {
    await this.submit(this.batcher.flush());
    await this.l1.mine();
    await this.l1.mine();
  }

  /**
   * Sequences `l2Blocks` blocks (block i holds `txsForBlock(i)`), then closes the last channel.
   * `onProgress` counts the blocks sequenced; with it, each block leaves the event loop a turn.
   */
  async run(l2Blocks: number, txsForBlock: (i: number) => readonly Uint8Array[], onProgress?: OnProgress): Promise<void> {
    for (let i = 0; i < l2Blocks; i++) {
      await this.sequence(txsForBlock(i));
      if (onProgress) {
        onProgress(i + 1, l2Blocks);
        await nextTurn();
      }
    }
    await this.closeChannel();
  }

  /** Derivation: every L1 block after genesis through the pipeline, executed on `engine` (a fresh L2 from the same genesis). */
  async derive(engine: Engine, opts: PipelineOptions = {}, onProgress?: OnProgress): Promise<Derived> {
    return derive(this.cfg, engine, this.genesis, this.l1Genesis, this.l1.head.number, (n) => this.l1.blockData(n), { blobs: this.l1.blobs, ...opts }, onProgress);
  }

  /** The channels L1 has included so far, in the order they were submitted. */
  inclusions(): ChannelInclusion[] {
    return this.posted.filter((p) => p.l1Block !== undefined).map((p) => ({ channel: p.channel, l1Block: p.l1Block!, l1Timestamp: p.l1Timestamp! }));
  }

  private included(ref: L1BlockRef): void {
    for (const p of this.unincluded.splice(0)) {
      p.l1Block = ref.number;
      p.l1Timestamp = ref.timestamp;
    }
  }
}

/**
 * Derivation: a pipeline that starts at L1 block `start` and reads blocks 1..`count` from `read`
 * (a port's chain, or a list of blocks, possibly a tampered copy), executing what it derives on `engine`.
 * `onProgress` counts the L1 blocks read.
 */
export async function derive(
  cfg: RollupConfig,
  engine: Engine,
  genesis: L2BlockRef,
  start: L1BlockRef,
  count: number,
  read: (n: number) => L1BlockData | Promise<L1BlockData>,
  opts: PipelineOptions = {},
  onProgress?: OnProgress,
): Promise<Derived> {
  const pipeline = new DerivationPipeline(cfg, engine, genesis, [start], opts);
  const t0 = performance.now();
  for (let n = 1; n <= count; n++) {
    await pipeline.addL1Block(await read(n));
    onProgress?.(n, count, "L1 blocks read");
  }
  return { pipeline, seconds: (performance.now() - t0) / 1000 };
}

/** What each derived block holds, hashes aside: number, timestamp, L1 origin and transactions (to compare derivations over different engines or DA paths). */
export function derivedBlockContents(p: DerivationPipeline): string[] {
  return p.safeChain.map((b) => [b.number, b.timestamp, b.l1origin.number, (p.derivedTransactions.get(b.number) ?? []).map((t) => toHex(t)).join()].join("|"));
}
