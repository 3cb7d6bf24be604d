// Channels and the channel stage (specs/protocol/derivation.md "Channel Bank"; holocene/
// derivation.md "Channel Assembler"). Before Holocene the channel bank buffers many channels at
// once, in FIFO order of their first frame; channels time out CHANNEL_TIMEOUT L1 blocks after the
// block that opened them, and the bank's total size is bounded by MAX_CHANNEL_BANK_SIZE (oldest
// channels pruned first). From Holocene the channel assembler holds a single channel whose frames
// must arrive in order.
//
// Both stages are pulled by the channel reader: each call either hands out a ready channel or
// takes one step (ingesting a frame pulled from the frame queue). The bank reads before it
// ingests, so every ready channel leaves the bank before the next frame is taken in (Canyon's
// rule: the first ready channel in FIFO order is read, not only the head).
//
// Every frame ignored and every channel discarded is recorded in the drop log with the channel's
// id and the rule (op-node's AddFrame errors, a timeout, the bank's size bound).

import type { L1BlockRef } from "../block-refs.js";
import { concatBytes } from "../bytes.js";
import { channelIdHex, type Frame } from "../frame.js";
import { CHANNEL_BANK_FRAME_OVERHEAD, isForkActive, MAX_CHANNEL_BANK_SIZE, MAX_RLP_BYTES_PER_CHANNEL, type RollupConfig } from "../rollup-config.js";
import { DropLog } from "./drops.js";
import { EOF, NOT_ENOUGH_DATA, type StageSignal } from "./stage.js";

/** Why a frame was not added to a channel (op-node's AddFrame errors). */
export type AddFrameRefusal = "wrong-channel" | "second-closing-frame" | "duplicate" | "beyond-closing-frame" | "out-of-order";

/** Bytes a buffered frame counts for in the bank's size (op-node's frameSize). */
export function frameSize(f: Frame): number {
  return f.data.length + CHANNEL_BANK_FRAME_OVERHEAD;
}

export class Channel {
  readonly frames = new Map<number, Frame>();
  closed = false;
  endFrameNumber = 0;
  highestFrameNumber = 0;
  /** Sum of frameSize over the frames taken in, as op-node keeps it (see addFrame). */
  size = 0;
  highestInclusion: L1BlockRef;

  constructor(
    readonly id: string,
    readonly openBlock: L1BlockRef,
    /** Holocene: frames must be added in order, 0, 1, 2, ... */
    readonly requireInOrder: boolean,
  ) {
    this.highestInclusion = openBlock;
  }

  /** Adds a frame, or says why it is refused (the frame is then ignored). */
  addFrame(f: Frame, inclusion: L1BlockRef): AddFrameRefusal | undefined {
    if (channelIdHex(f.channelId) !== this.id) return "wrong-channel";
    if (f.isLast && this.closed) return "second-closing-frame";
    if (this.frames.has(f.frameNumber)) return "duplicate";
    if (this.closed && f.frameNumber >= this.endFrameNumber) return "beyond-closing-frame";
    if (this.requireInOrder && f.frameNumber !== this.frames.size) return "out-of-order";
    if (f.isLast) {
      this.endFrameNumber = f.frameNumber;
      this.closed = true;
    }
    if (f.isLast && this.endFrameNumber < this.highestFrameNumber) {
      // Frames numbered at or above the closing frame are pruned. The size accounting is op-node's
      // as deployed: it subtracts the size of every buffered frame, pruned or kept, so a channel
      // whose closing frame prunes counts only the frames taken in after it.
      for (const [n, g] of [...this.frames]) {
        if (n >= this.endFrameNumber) this.frames.delete(n);
        this.size -= frameSize(g);
      }
      this.highestFrameNumber = this.endFrameNumber;
    }
    if (f.frameNumber > this.highestFrameNumber) this.highestFrameNumber = f.frameNumber;
    if (inclusion.number > this.highestInclusion.number) this.highestInclusion = inclusion;
    this.frames.set(f.frameNumber, f);
    this.size += frameSize(f);
    return undefined;
  }

  isReady(): boolean {
    if (!this.closed || this.frames.size !== this.endFrameNumber + 1) return false;
    for (let i = 0; i <= this.endFrameNumber; i++) if (!this.frames.has(i)) return false;
    return true;
  }

  data(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i <= this.endFrameNumber; i++) parts.push(this.frames.get(i)!.data);
    return concatBytes(parts);
  }

  timedOut(origin: L1BlockRef, channelTimeout: number): boolean {
    return this.openBlock.number + channelTimeout < origin.number;
  }
}

export interface ReadyChannel {
  id: string;
  data: Uint8Array;
  /** The L1 origin when the channel was read: the inclusion block of its batches. */
  inclusion: L1BlockRef;
}

export interface ChannelBankStats {
  framesIgnored: number;
  channelsTimedOut: number;
  channelsPrunedForSize: number;
  channelsReady: number;
  channelsOversized: number;
}

/** What the channel stage pulls frames from, and the L1 origin it works at. */
export interface FrameProvider {
  nextFrame(): Frame | StageSignal;
  readonly origin: L1BlockRef | undefined;
}

/** Shared interface of the pre-Holocene bank and the Holocene assembler. */
export interface ChannelStage {
  /** The next ready channel, or EOF (the frame queue is out of data), or NOT_ENOUGH_DATA (call again). */
  nextRawChannel(): ReadyChannel | StageSignal;
  readonly stats: ChannelBankStats;
}

function newStats(): ChannelBankStats {
  return { framesIgnored: 0, channelsTimedOut: 0, channelsPrunedForSize: 0, channelsReady: 0, channelsOversized: 0 };
}

/** Pre-Holocene channel bank: many channels, FIFO by first frame. */
export class ChannelBank implements ChannelStage {
  private readonly channels = new Map<string, Channel>();
  private channelQueue: string[] = [];
  readonly stats = newStats();

  constructor(
    private readonly cfg: Pick<RollupConfig, "channelTimeout" | "canyonTime">,
    private readonly prev: FrameProvider,
    /** MAX_CHANNEL_BANK_SIZE; smaller in tests that exercise pruning. */
    private readonly maxBankSize = MAX_CHANNEL_BANK_SIZE,
    private readonly drops = new DropLog(),
  ) {}

  /** The channels buffered, in FIFO order (for tests and figures). */
  get queue(): readonly string[] {
    return this.channelQueue;
  }

  nextRawChannel(): ReadyChannel | StageSignal {
    const read = this.read();
    if (read !== EOF) return read;
    const frame = this.prev.nextFrame();
    if (frame === EOF || frame === NOT_ENOUGH_DATA) return frame;
    this.ingestFrame(frame);
    return NOT_ENOUGH_DATA;
  }

  /**
   * Takes a frame in. A frame of an unknown channel opens it (also a channel id seen before whose
   * channel was read or timed out: ids may be used again); a frame of a timed-out channel is
   * ignored. After each frame added, the oldest channels are pruned while the bank is too large.
   */
  ingestFrame(f: Frame): void {
    const origin = this.prev.origin!;
    const id = channelIdHex(f.channelId);
    let ch = this.channels.get(id);
    if (!ch) {
      ch = new Channel(id, origin, false);
      this.channels.set(id, ch);
      this.channelQueue.push(id);
    }
    const refusal = ch.timedOut(origin, this.cfg.channelTimeout) ? "timed-out" : ch.addFrame(f, origin);
    if (refusal !== undefined) {
      this.drops.record({ stage: "channel-bank", reason: refusal, l1Block: origin.number, channel: id, fields: { frameNumber: f.frameNumber } });
      this.stats.framesIgnored++;
      return;
    }
    this.prune();
  }

  private prune(): void {
    let total = 0;
    for (const ch of this.channels.values()) total += ch.size;
    while (total > this.maxBankSize) {
      const id = this.channelQueue.shift()!;
      total -= this.channels.get(id)!.size;
      this.channels.delete(id);
      this.drops.record({ stage: "channel-bank", reason: "bank-full", l1Block: this.prev.origin?.number, channel: id });
      this.stats.channelsPrunedForSize++;
    }
  }

  /**
   * A timed-out channel at the head of the queue is removed (one per call: more may follow);
   * otherwise the first ready channel that has not timed out is read (before Canyon: only the head).
   */
  private read(): ReadyChannel | typeof EOF | typeof NOT_ENOUGH_DATA {
    const origin = this.prev.origin;
    if (this.channelQueue.length === 0 || !origin) return EOF;
    const first = this.channels.get(this.channelQueue[0]!)!;
    if (first.timedOut(origin, this.cfg.channelTimeout)) {
      this.channels.delete(this.channelQueue.shift()!);
      this.drops.record({ stage: "channel-bank", reason: "timed-out", l1Block: origin.number, channel: first.id });
      this.stats.channelsTimedOut++;
      return NOT_ENOUGH_DATA;
    }
    const canyon = isForkActive(this.cfg, "canyon", origin.timestamp);
    const candidates = canyon ? this.channelQueue.length : 1;
    for (let i = 0; i < candidates; i++) {
      const ch = this.channels.get(this.channelQueue[i]!)!;
      if (ch.timedOut(origin, this.cfg.channelTimeout) || !ch.isReady()) continue;
      this.channels.delete(ch.id);
      this.channelQueue.splice(i, 1);
      this.stats.channelsReady++;
      return { id: ch.id, data: ch.data(), inclusion: origin };
    }
    return EOF;
  }
}

/** Holocene: one channel at a time, frames in order; a first frame discards an unfinished channel. */
export class ChannelAssembler implements ChannelStage {
  private channel: Channel | undefined;
  readonly stats = newStats();

  constructor(
    private readonly cfg: Pick<RollupConfig, "channelTimeout">,
    private readonly prev: FrameProvider,
    /** MAX_RLP_BYTES_PER_CHANNEL; smaller in tests of the size limit. */
    private readonly maxChannelSize = MAX_RLP_BYTES_PER_CHANNEL,
    private readonly drops = new DropLog(),
  ) {}

  /** The id of the channel being assembled, if any. */
  get stagingChannel(): string | undefined {
    return this.channel?.id;
  }

  nextRawChannel(): ReadyChannel | StageSignal {
    const origin = this.prev.origin;
    if (this.channel && origin && this.channel.timedOut(origin, this.cfg.channelTimeout)) {
      this.drops.record({ stage: "channel-bank", reason: "timed-out", l1Block: origin.number, channel: this.channel.id });
      this.channel = undefined;
      this.stats.channelsTimedOut++;
    }
    for (;;) {
      const frame = this.prev.nextFrame();
      if (frame === EOF || frame === NOT_ENOUGH_DATA) return frame;
      const at = this.prev.origin!;
      const id = channelIdHex(frame.channelId);
      const site = { stage: "channel-bank", l1Block: at.number, channel: id, fields: { frameNumber: frame.frameNumber } } as const;
      if (frame.frameNumber === 0) {
        if (this.channel) this.drops.record({ stage: "channel-bank", reason: "replaced-by-new-channel", l1Block: at.number, channel: this.channel.id });
        this.channel = new Channel(id, at, true);
      }
      if (!this.channel) {
        this.drops.record({ ...site, reason: "no-open-channel" });
        this.stats.framesIgnored++;
        continue;
      }
      const refusal = this.channel.addFrame(frame, at);
      if (refusal !== undefined) {
        this.drops.record({ ...site, reason: refusal });
        this.stats.framesIgnored++;
        continue;
      }
      if (this.channel.size > this.maxChannelSize) {
        this.drops.record({ ...site, reason: "oversized" });
        this.channel = undefined;
        this.stats.channelsOversized++;
        continue;
      }
      if (frame.isLast) {
        const ch = this.channel;
        this.channel = undefined;
        this.stats.channelsReady++;
        return { id: ch.id, data: ch.data(), inclusion: at };
      }
    }
  }
}
