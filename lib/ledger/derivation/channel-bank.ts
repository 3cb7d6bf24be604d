// Channel Bank (specs/protocol/derivation.md "Channel Bank") and, from Holocene, its
// replacement that holds a single channel at a time. Channels time out CHANNEL_TIMEOUT L1
// blocks after the block that included their first frame; the bank's total size is bounded
// by MAX_CHANNEL_BANK_SIZE (oldest channels pruned first).
import { concatBytes } from "../bytes.js";
import { channelIdHex, type Frame } from "../frame.js";
import { MAX_CHANNEL_BANK_SIZE, MAX_RLP_BYTES_PER_CHANNEL } from "../params.js";
import type { L1BlockRef } from "../types.js";

/** The per-frame overhead the channel bank counts towards a channel's size (op-node's frameV0OverHeadSize). */
export const FRAME_V0_OVERHEAD_SIZE = 200;

export class Channel {
  readonly frames = new Map<number, Frame>();
  endFrame: number | undefined;
  size = 0;
  highestFrame = -1;

  constructor(readonly id: string, readonly openBlock: L1BlockRef) {}

  /** Adds a frame; returns false (frame ignored) on duplicates and frames past the closing one. */
  addFrame(f: Frame): boolean {
    if (this.frames.has(f.frameNumber)) return false;
    if (this.endFrame !== undefined && f.frameNumber > this.endFrame) return false;
    if (f.isLast) {
      if (this.endFrame !== undefined) return false; // a second closing frame
      this.endFrame = f.frameNumber;
      // Frames numbered above the closing frame are pruned.
      for (const [n, g] of [...this.frames]) {
        if (n > f.frameNumber) {
          this.frames.delete(n);
          this.size -= g.data.length + FRAME_V0_OVERHEAD_SIZE;
        }
      }
    }
    this.frames.set(f.frameNumber, f);
    this.size += f.data.length + FRAME_V0_OVERHEAD_SIZE;
    this.highestFrame = Math.max(this.highestFrame, f.frameNumber);
    return true;
  }

  isReady(): boolean {
    if (this.endFrame === undefined) return false;
    for (let i = 0; i <= this.endFrame; i++) if (!this.frames.has(i)) return false;
    return true;
  }

  data(): Uint8Array {
    const parts: Uint8Array[] = [];
    for (let i = 0; i <= this.endFrame!; i++) parts.push(this.frames.get(i)!.data);
    return concatBytes(parts);
  }

  timedOut(current: L1BlockRef, channelTimeout: number): boolean {
    return this.openBlock.number + channelTimeout < current.number;
  }
}

export interface ReadyChannel {
  id: string;
  data: Uint8Array;
  /** L1 block in which the channel became complete: the inclusion block of its batches. */
  inclusion: L1BlockRef;
}

export interface ChannelBankStats {
  framesIgnored: number;
  channelsTimedOut: number;
  channelsPrunedForSize: number;
  channelsReady: number;
  channelsOversized: number;
}

/** Shared interface of the pre-Holocene bank and the Holocene single-channel assembler. */
export interface ChannelStage {
  ingest(f: Frame, inclusion: L1BlockRef): void;
  /** Channels ready to read as of L1 block `current`, after timeouts. */
  read(current: L1BlockRef): ReadyChannel[];
  readonly stats: ChannelBankStats;
}

function newStats(): ChannelBankStats {
  return { framesIgnored: 0, channelsTimedOut: 0, channelsPrunedForSize: 0, channelsReady: 0, channelsOversized: 0 };
}

/** Pre-Holocene channel bank: many channels, FIFO by first frame, first ready one read. */
export class ChannelBank implements ChannelStage {
  private readonly channels = new Map<string, Channel>();
  private readonly order: string[] = [];
  private readonly seen = new Set<string>();
  readonly stats = newStats();

  constructor(private readonly channelTimeout: number) {}

  ingest(f: Frame, inclusion: L1BlockRef): void {
    const id = channelIdHex(f.channelId);
    let ch = this.channels.get(id);
    if (!ch) {
      if (this.seen.has(id)) {
        this.stats.framesIgnored++; // channel already read or timed out
        return;
      }
      ch = new Channel(id, inclusion);
      this.channels.set(id, ch);
      this.order.push(id);
      this.seen.add(id);
    }
    if (ch.timedOut(inclusion, this.channelTimeout) || !ch.addFrame(f)) this.stats.framesIgnored++;
    this.prune();
  }

  private prune(): void {
    let total = 0;
    for (const ch of this.channels.values()) total += ch.size;
    while (total > MAX_CHANNEL_BANK_SIZE && this.order.length > 0) {
      const id = this.order.shift()!;
      total -= this.channels.get(id)!.size;
      this.channels.delete(id);
      this.stats.channelsPrunedForSize++;
    }
  }

  read(current: L1BlockRef): ReadyChannel[] {
    const out: ReadyChannel[] = [];
    for (;;) {
      // While the first opened channel has timed out, it is removed.
      while (this.order.length > 0 && this.channels.get(this.order[0]!)!.timedOut(current, this.channelTimeout)) {
        this.channels.delete(this.order.shift()!);
        this.stats.channelsTimedOut++;
      }
      // Canyon: the first ready channel (in order of opening) that has not timed out is read.
      const i = this.order.findIndex((id) => {
        const ch = this.channels.get(id)!;
        return ch.isReady() && !ch.timedOut(current, this.channelTimeout);
      });
      if (i < 0) return out;
      const id = this.order.splice(i, 1)[0]!;
      const ch = this.channels.get(id)!;
      this.channels.delete(id);
      this.stats.channelsReady++;
      out.push({ id, data: ch.data(), inclusion: current });
    }
  }
}

/** Holocene: one channel at a time; a new channel's first frame discards an unfinished one. */
export class ChannelAssembler implements ChannelStage {
  private channel: Channel | undefined;
  private readonly ready: ReadyChannel[] = [];
  readonly stats = newStats();

  constructor(private readonly channelTimeout: number) {}

  ingest(f: Frame, inclusion: L1BlockRef): void {
    const id = channelIdHex(f.channelId);
    if (this.channel && this.channel.timedOut(inclusion, this.channelTimeout)) {
      this.channel = undefined;
      this.stats.channelsTimedOut++;
    }
    if (this.channel && this.channel.id !== id) this.channel = undefined; // unfinished channel dropped
    if (!this.channel) {
      if (f.frameNumber !== 0) {
        this.stats.framesIgnored++;
        return;
      }
      this.channel = new Channel(id, inclusion);
    }
    if (!this.channel.addFrame(f)) {
      this.stats.framesIgnored++;
      return;
    }
    if (this.channel.size > MAX_RLP_BYTES_PER_CHANNEL) {
      this.channel = undefined;
      this.stats.channelsOversized++;
      return;
    }
    if (this.channel.isReady()) {
      this.ready.push({ id, data: this.channel.data(), inclusion });
      this.stats.channelsReady++;
      this.channel = undefined;
    }
  }

  read(current: L1BlockRef): ReadyChannel[] {
    if (this.channel && this.channel.timedOut(current, this.channelTimeout)) {
      this.channel = undefined;
      this.stats.channelsTimedOut++;
    }
    return this.ready.splice(0, this.ready.length);
  }
}
