// Frame Queue (specs/protocol/derivation.md "Frame Queue"; Holocene's frame queue rules):
// parses batcher data into frames, dropping a whole transaction's data when any frame in it
// is malformed, and under Holocene keeps only frames that continue the current channel in
// order: a non-first frame must follow its predecessor's number, nothing follows a closing
// frame, and a new channel's first frame replaces an unfinished one.
import { channelIdHex, parseBatcherTxData, type Frame } from "../frame.js";
import type { L1BlockRef } from "../types.js";

export interface QueuedFrame {
  frame: Frame;
  inclusion: L1BlockRef;
}

export interface FrameQueueStats {
  txDataRejected: number;
  framesParsed: number;
  framesPruned: number;
}

export class FrameQueue {
  readonly queue: QueuedFrame[] = [];
  readonly stats: FrameQueueStats = { txDataRejected: 0, framesParsed: 0, framesPruned: 0 };
  /** Last frame handed on, so Holocene ordering holds across L1 blocks. */
  private last: Frame | undefined;

  constructor(private readonly holocene: boolean) {}

  push(data: Uint8Array, inclusion: L1BlockRef): void {
    let frames: Frame[];
    try {
      frames = parseBatcherTxData(data);
    } catch {
      this.stats.txDataRejected++;
      return;
    }
    this.stats.framesParsed += frames.length;
    for (const frame of frames) {
      if (this.holocene && !this.admit(frame)) {
        this.stats.framesPruned++;
        continue;
      }
      this.queue.push({ frame, inclusion });
    }
  }

  /** Holocene's ordering rules, applied against the previous admitted frame. */
  private admit(cur: Frame): boolean {
    const prev = this.last;
    if (prev) {
      const same = channelIdHex(prev.channelId) === channelIdHex(cur.channelId);
      if (same && prev.isLast) return false; // nothing after a closing frame
      if (same && cur.frameNumber !== prev.frameNumber + 1) return false; // gaps and duplicates
      if (!same && cur.frameNumber !== 0) return false; // a new channel starts at frame 0
      // !same && frame 0 while prev unfinished: the channel stage drops the unfinished channel.
    } else if (cur.frameNumber !== 0) return false;
    this.last = cur;
    return true;
  }

  shift(): QueuedFrame | undefined {
    return this.queue.shift();
  }
}
