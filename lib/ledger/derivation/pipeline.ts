// The derivation pipeline: L1 blocks in, L2 blocks out. Stages as in the spec: L1 retrieval ->
// frame queue -> channel bank (Holocene: channel assembler) -> channel reader -> batch queue ->
// payload attributes -> engine. Each stage pulls from the one before, as op-node's do: the channel
// reader asks the channel stage for its next channel, which reads a ready channel or else takes
// one frame from the frame queue, which takes one batcher transaction's data from L1 retrieval
// when it runs empty. Bad input never escapes as an exception: each stage drops what the spec
// says to drop, counts it and records it in the pipeline's drop log (`drops`: by reason, with the
// L1 block and channel). Errors are classed where they are caught (drops.ts): only a ledger error
// classed "drop" is absorbed; an L1 block that does not extend the chain read so far is refused
// with a ResetError (op-node resets its pipeline on such a reorg), and any other exception, a
// defect or an engine that cannot be reached, propagates to the caller.
import type { Batch, SingularBatch } from "../batch.js";
import type { BlobSource, L1BlockData, L1BlockRef, L2BlockRef } from "../block-refs.js";
import { fromHex } from "../bytes.js";
import { ResetError } from "../errors.js";
import { isForkActive, type RollupConfig } from "../rollup-config.js";
import { AltDADataSource, type AltDAResolver } from "./alt-da.js";
import { type PayloadAttributes, payloadAttributes } from "./attributes.js";
import { checkSingularBatch, checkSpanBatchPrefix, type Verdict } from "./batch-queue.js";
import { ChannelAssembler, ChannelBank, type ChannelStage, type ReadyChannel } from "./channel-bank.js";
import { type ChannelReaderStats, readBatches } from "./channel-reader.js";
import { DropLog } from "./drops.js";
import { type DataProvider, FrameQueue } from "./frame-queue.js";
import { L1Retrieval } from "./l1-retrieval.js";
import { EOF, NOT_ENOUGH_DATA } from "./stage.js";

/**
 * The L1-facing half of derivation: frame queue and channel stage over a source of batcher data
 * (L1 retrieval). At Holocene's first L1 origin the channel bank gives way to the channel
 * assembler (op-node's channel mux); what the bank held is discarded.
 */
export class ChannelPipeline {
  readonly frameQueue: FrameQueue;
  private stage: ChannelStage;

  constructor(
    private readonly cfg: RollupConfig,
    private readonly source: DataProvider,
    /** MAX_CHANNEL_BANK_SIZE unless given (tests that exercise pruning use less). */
    maxChannelBankSize?: number,
    readonly drops = new DropLog(),
  ) {
    this.frameQueue = new FrameQueue(cfg, source, drops);
    this.stage = new ChannelBank(cfg, this.frameQueue, maxChannelBankSize, drops);
  }

  /** The channel bank before Holocene, the channel assembler from its first L1 origin on. */
  get channels(): ChannelStage {
    return this.stage;
  }

  /** Every channel the stages hand out at the source's current origin, in the order they come out. */
  drain(): ReadyChannel[] {
    const origin = this.source.origin;
    if (origin && isForkActive(this.cfg, "holocene", origin.timestamp) && this.stage instanceof ChannelBank) {
      this.stage = new ChannelAssembler(this.cfg, this.frameQueue, undefined, this.drops);
    }
    const out: ReadyChannel[] = [];
    for (;;) {
      const ch = this.stage.nextRawChannel();
      if (ch === EOF) return out;
      if (ch !== NOT_ENOUGH_DATA) out.push(ch);
    }
  }
}

/** The execution engine: builds the L2 block the attributes describe on top of its head. */
export interface Engine {
  execute(attrs: PayloadAttributes): Promise<L2BlockRef>;
}

interface PendingBatch {
  batch: Batch;
  channel: string;
  inclusion: L1BlockRef;
}

interface SpanElement {
  batch: SingularBatch;
  channel: string;
  inclusion: L1BlockRef;
}

export interface PipelineStats {
  l1Blocks: number;
  derivedBlocks: number;
  emptyBlocksForced: number;
  depositOnlyFallbacks: number;
  batchesAccepted: number;
  batchesDropped: Record<string, number>;
  batchesPast: number;
  channelsInvalidated: number;
}

export interface PipelineOptions {
  blobs?: BlobSource;
  /** KZG commitment of a blob, to verify blobs against their versioned hashes. */
  commitBlob?: (blob: Uint8Array) => Uint8Array;
  /** Alt-DA: resolves batcher data that is a DA commitment into the frames behind it. */
  altDA?: AltDAResolver;
}

export class DerivationPipeline {
  readonly safeChain: L2BlockRef[];
  readonly l1Retrieval: L1Retrieval;
  readonly channelPipeline: ChannelPipeline;
  readonly altDA: AltDADataSource | undefined;
  /** Every input a stage discarded, by reason, with its L1 block and channel. */
  readonly drops = new DropLog();
  readonly reader: ChannelReaderStats = { channelsUndecodable: 0, batchesDecoded: 0, batchesUndecodable: 0 };
  readonly stats: PipelineStats = {
    l1Blocks: 0,
    derivedBlocks: 0,
    emptyBlocksForced: 0,
    depositOnlyFallbacks: 0,
    batchesAccepted: 0,
    batchesDropped: {},
    batchesPast: 0,
    channelsInvalidated: 0,
  };
  private readonly l1 = new Map<number, L1BlockRef>();
  private readonly byTimestamp = new Map<number, L2BlockRef>();
  /** The non-deposit transactions of each derived block, by L2 block number. */
  readonly derivedTransactions = new Map<number, Uint8Array[]>();
  private pending: PendingBatch[] = [];
  private span: SpanElement[] = [];
  private current: L1BlockRef | undefined;

  constructor(
    readonly cfg: RollupConfig,
    private readonly engine: Engine,
    genesis: L2BlockRef,
    /** L1 blocks up to and including the genesis L1 origin. */
    l1History: readonly L1BlockRef[],
    opts: PipelineOptions = {},
  ) {
    this.safeChain = [genesis];
    this.byTimestamp.set(genesis.timestamp, genesis);
    for (const b of l1History) this.l1.set(b.number, b);
    this.l1Retrieval = new L1Retrieval(cfg, opts.blobs, this.drops, opts.commitBlob);
    this.altDA = opts.altDA && new AltDADataSource(this.l1Retrieval, opts.altDA, this.drops);
    this.channelPipeline = new ChannelPipeline(cfg, this.altDA ?? this.l1Retrieval, undefined, this.drops);
  }

  get retrieval() {
    return this.l1Retrieval.stats;
  }

  get frameQueue(): FrameQueue {
    return this.channelPipeline.frameQueue;
  }

  /** The channel bank before Holocene, the channel assembler from its first L1 origin on. */
  get channels(): ChannelStage {
    return this.channelPipeline.channels;
  }

  /** Whether Holocene's rules hold at the current L1 origin (op-node switches stages on it). */
  private get holocene(): boolean {
    return this.current !== undefined && isForkActive(this.cfg, "holocene", this.current.timestamp);
  }

  get safeHead(): L2BlockRef {
    return this.safeChain[this.safeChain.length - 1]!;
  }

  /** Processes one L1 block and returns the L2 blocks derived from it. */
  async addL1Block(block: L1BlockData): Promise<L2BlockRef[]> {
    const ref: L1BlockRef = { number: block.number, hash: block.hash, parentHash: block.parentHash, timestamp: block.timestamp, baseFee: block.baseFee, blobBaseFee: block.blobBaseFee };
    const parent = this.l1.get(block.number - 1);
    // A block that does not extend the L1 chain derivation has read is a reorg: op-node resets its
    // pipeline to a safe point; this pipeline refuses the block before touching any state.
    if (parent && parent.hash.toLowerCase() !== block.parentHash.toLowerCase()) {
      throw new ResetError("l1/reorg", { number: block.number, parentHash: block.parentHash, knownHash: parent.hash });
    }
    this.l1.set(block.number, ref);
    this.current = ref;
    this.stats.l1Blocks++;

    this.l1Retrieval.advance(block, ref);
    await this.altDA?.fetch();
    for (const ch of this.channelPipeline.drain()) {
      for (const batch of readBatches(ch, this.cfg, this.reader, this.drops)) this.pending.push({ batch, channel: ch.id, inclusion: ch.inclusion });
    }
    const derived: L2BlockRef[] = [];
    for (;;) {
      const next = await this.step();
      if (!next) break;
      derived.push(next);
    }
    return derived;
  }

  private drop(verdict: Verdict, channel: string, inclusion: L1BlockRef): void {
    this.stats.batchesDropped[verdict.reason] = (this.stats.batchesDropped[verdict.reason] ?? 0) + 1;
    this.drops.record({ stage: "batch-queue", reason: verdict.reason, l1Block: inclusion.number, channel });
  }

  /** Holocene's fast channel invalidation: an invalid batch discards the rest of its channel. */
  private invalidateChannel(channel: string): void {
    if (!this.holocene) return;
    const before = this.pending.length + this.span.length;
    this.pending = this.pending.filter((p) => p.channel !== channel);
    this.span = this.span.filter((p) => p.channel !== channel);
    if (this.pending.length + this.span.length < before) this.stats.channelsInvalidated++;
  }

  private l1Lookup = (n: number) => this.l1.get(n);

  private spanToSingular(p: PendingBatch): SpanElement[] {
    if (p.batch.type !== 1) return [];
    // An accepted span's blocks sit next to the safe head and its origins are known L1 blocks:
    // their numbers are safe as JS numbers.
    return p.batch.batch.blocks.map((b) => ({
      // parent and epoch hashes are implied by the span: filled in when each block is checked
      batch: { parentHash: new Uint8Array(32), epochNum: Number(b.epochNum), epochHash: new Uint8Array(32), timestamp: Number(b.timestamp), transactions: b.transactions },
      channel: p.channel,
      inclusion: p.inclusion,
    }));
  }

  private async step(): Promise<L2BlockRef | undefined> {
    const head = this.safeHead;
    const nextTimestamp = head.timestamp + this.cfg.blockTime;
    // Blocks of an accepted span batch, checked one by one (Holocene's partial span validity).
    while (this.span.length > 0) {
      const el = this.span[0]!;
      if (el.batch.timestamp < nextTimestamp) {
        this.span.shift(); // overlap already checked against the safe chain
        continue;
      }
      const origin = this.l1.get(el.batch.epochNum);
      const filled: SingularBatch = { ...el.batch, parentHash: fromHex(head.hash), epochHash: origin ? fromHex(origin.hash) : new Uint8Array(32) };
      const verdict = checkSingularBatch(this.cfg, this.l1Lookup, head, filled, el.inclusion);
      if (verdict.validity === "undecided") return undefined;
      if (verdict.validity === "accept") {
        this.span.shift();
        return this.execute(filled);
      }
      this.drop(verdict, el.channel, el.inclusion);
      this.span = [];
      this.invalidateChannel(el.channel);
    }
    if (this.holocene) {
      while (this.pending.length > 0) {
        const p = this.pending[0]!;
        const verdict = this.verdict(p, head);
        if (verdict.validity === "undecided") return undefined;
        this.pending.shift();
        if (verdict.validity === "past") {
          this.stats.batchesPast++;
          continue;
        }
        if (verdict.validity !== "accept") {
          this.drop(verdict, p.channel, p.inclusion); // future batches break strict ordering: dropped too
          this.invalidateChannel(p.channel);
          continue;
        }
        this.stats.batchesAccepted++;
        if (p.batch.type === 0) return this.execute(p.batch.batch);
        this.span = this.spanToSingular(p);
        return this.step();
      }
    } else {
      let waiting = false;
      for (let i = 0; i < this.pending.length; ) {
        const p = this.pending[i]!;
        const verdict = this.verdict(p, head);
        if (verdict.validity === "drop" || verdict.validity === "past") {
          this.drop(verdict, p.channel, p.inclusion);
          this.pending.splice(i, 1);
          continue;
        }
        if (verdict.validity === "accept") {
          this.pending.splice(i, 1);
          this.stats.batchesAccepted++;
          if (p.batch.type === 0) return this.execute(p.batch.batch);
          this.span = this.spanToSingular(p);
          return this.step();
        }
        if (verdict.validity === "undecided") waiting = true;
        i++;
      }
      if (waiting) return undefined;
    }
    return this.forceEmptyBatch(head, nextTimestamp);
  }

  private verdict(p: PendingBatch, head: L2BlockRef): Verdict {
    if (p.batch.type === 0) return checkSingularBatch(this.cfg, this.l1Lookup, head, p.batch.batch, p.inclusion);
    return checkSpanBatchPrefix(
      this.cfg,
      this.l1Lookup,
      (t) => this.byTimestamp.get(t),
      (n) => this.derivedTransactions.get(n),
      head,
      p.batch.batch,
      p.inclusion,
    );
  }

  /** When the sequencing window of the safe head's epoch has passed with no batch, derivation
   *  fills the gap with empty blocks, advancing the origin when the next one is due. */
  private async forceEmptyBatch(head: L2BlockRef, nextTimestamp: number): Promise<L2BlockRef | undefined> {
    const current = this.current;
    if (!current || head.l1origin.number + this.cfg.seqWindowSize >= current.number) return undefined;
    let origin = this.l1.get(head.l1origin.number)!;
    const next = this.l1.get(head.l1origin.number + 1);
    if (next && nextTimestamp >= next.timestamp) origin = next;
    this.stats.emptyBlocksForced++;
    return this.execute({ parentHash: fromHex(head.hash), epochNum: origin.number, epochHash: fromHex(origin.hash), timestamp: nextTimestamp, transactions: [] });
  }

  private async execute(batch: SingularBatch): Promise<L2BlockRef> {
    const head = this.safeHead;
    const origin = this.l1.get(batch.epochNum)!;
    const attrs = payloadAttributes(batch, head, origin);
    let ref: L2BlockRef;
    try {
      ref = await this.engine.execute(attrs);
    } catch (e) {
      // Holocene's steady block derivation: a payload the engine refuses (a PayloadRefusedError,
      // classed drop) becomes deposit-only; an engine that fails otherwise stops derivation.
      this.drops.dropOrRethrow(e, { stage: "engine", l1Block: origin.number });
      this.stats.depositOnlyFallbacks++;
      ref = await this.engine.execute({ ...attrs, transactions: [] });
      batch = { ...batch, transactions: [] };
    }
    this.derivedTransactions.set(ref.number, batch.transactions);
    this.safeChain.push(ref);
    this.byTimestamp.set(ref.timestamp, ref);
    this.stats.derivedBlocks++;
    return ref;
  }
}
