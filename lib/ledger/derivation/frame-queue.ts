// Frame Queue (specs/protocol/derivation.md "Frame Queue"; holocene/derivation.md "Frame Queue"):
// pulls one batcher transaction's data at a time from L1 retrieval when it runs empty and parses
// it into frames, dropping the whole transaction's data when any frame in it is malformed (op-node
// logs "Failed to parse frames" and carries on; here the drop is recorded with its code). From
// Holocene, after each load the queue is pruned so that it holds only ordered, contiguous frames:
// each frame is checked against the frame before it in the queue.

import type { L1BlockRef } from "../block-refs.js";
import { channelIdHex, type Frame, parseBatcherTxData } from "../frame.js";
import { isForkActive, type RollupConfig } from "../rollup-config.js";
import { DropLog } from "./drops.js";
import { EOF, NOT_ENOUGH_DATA, type StageSignal } from "./stage.js";

/** What the frame queue pulls batcher data from (L1 retrieval). */
export interface DataProvider {
  nextData(): Uint8Array | typeof EOF;
  readonly origin: L1BlockRef | undefined;
}

export interface FrameQueueStats {
  txDataRejected: number;
  framesParsed: number;
  framesPruned: number;
}

export class FrameQueue {
  private frames: Frame[] = [];
  readonly stats: FrameQueueStats = { txDataRejected: 0, framesParsed: 0, framesPruned: 0 };

  constructor(
    private readonly cfg: Pick<RollupConfig, "holoceneTime">,
    private readonly prev: DataProvider,
    private readonly drops = new DropLog(),
  ) {}

  get origin(): L1BlockRef | undefined {
    return this.prev.origin;
  }

  nextFrame(): Frame | StageSignal {
    if (this.frames.length === 0) {
      const data = this.prev.nextData();
      if (data === EOF) return EOF;
      this.load(data);
    }
    return this.frames.shift() ?? NOT_ENOUGH_DATA;
  }

  /** Parses one transaction's frames into the queue; under Holocene prunes the queue after. */
  private load(data: Uint8Array): void {
    const origin = this.prev.origin;
    try {
      const parsed = parseBatcherTxData(data);
      this.stats.framesParsed += parsed.length;
      this.frames.push(...parsed);
    } catch (e) {
      this.drops.dropOrRethrow(e, { stage: "frame-queue", l1Block: origin?.number });
      this.stats.txDataRejected++;
      return;
    }
    // Taking frames out cannot invalidate those left, so pruning is needed only after a load.
    if (origin && isForkActive(this.cfg, "holocene", origin.timestamp)) {
      const kept = pruneFrameQueue(this.frames);
      const left = new Set(kept);
      for (const f of this.frames) {
        if (!left.has(f)) this.drops.record({ stage: "frame-queue", reason: "pruned", l1Block: origin.number, channel: channelIdHex(f.channelId), fields: { frameNumber: f.frameNumber } });
      }
      this.stats.framesPruned += this.frames.length - kept.length;
      this.frames = kept;
    }
  }
}

/**
 * Holocene's frame queue rules, applied to each pair of neighbours in the queue: within a
 * channel, nothing follows a closing frame and frame numbers rise by one; a first frame (number 0)
 * of another channel discards the unclosed channel before it (walking back over its frames); a
 * non-first frame of another channel is dropped.
 */
export function pruneFrameQueue(input: readonly Frame[]): Frame[] {
  const frames = [...input];
  for (let i = 0; i < frames.length - 1; ) {
    const cur = frames[i]!;
    const next = frames[i + 1]!;
    if (channelIdHex(cur.channelId) === channelIdHex(next.channelId)) {
      if (cur.isLast || next.frameNumber !== cur.frameNumber + 1) {
        frames.splice(i + 1, 1);
        continue;
      }
    } else if (next.frameNumber === 0 && !cur.isLast) {
      frames.splice(i, 1);
      if (i > 0) i--;
      continue;
    } else if (next.frameNumber !== 0) {
      frames.splice(i + 1, 1);
      continue;
    }
    i++;
  }
  return frames;
}
