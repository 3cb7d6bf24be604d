// Differential test of channel assembly. A seeded generator writes frame sequences as a batcher
// (and a faulty network) would: several channels open at once, frames interleaved, dropped, sent
// again, reordered, spurious closing frames, malformed transactions, L1 blocks with nothing in
// them, and with or without channel ids used again. Each sequence goes through the lab's frame
// queue and channel stage (ChannelPipeline) and through a reference written here, on its own,
// from op-node's channel_bank.go, channel.go, frame_queue.go and channel_assembler.go. The
// channels that come out must be the same bytes, from the same L1 block, in the same order.
import { expect } from "chai";
import type { L1BlockRef } from "../../../lib/ledger/block-refs.js";
import { ChannelPipeline } from "../../../lib/ledger/derivation/pipeline.js";
import { EOF } from "../../../lib/ledger/derivation/stage.js";
import { encodeBatcherTxData, type Frame } from "../../../lib/ledger/frame.js";
import type { RollupConfig } from "../../../lib/ledger/rollup-config.js";
import { type Rng, rng } from "../../../lib/random.js";
import { preHoloceneConfig, testConfig } from "./helpers.js";

const SEQUENCES = Number(process.env.LEDGER_DIFF_SEQUENCES ?? 3_000);

/** One batcher transaction: its frames, or bytes no frame parser accepts. */
type Tx = { frames: Frame[] } | { malformed: true };

interface Sequence {
  blocks: Tx[][];
  channelTimeout: number;
  maxBankSize: number;
}

interface Out {
  id: string;
  data: string;
  block: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// --- the generator ----------------------------------------------------------------------------

function generate(r: Rng, reuseIds: boolean): Sequence {
  const channels: { id: Uint8Array; frames: Frame[] }[] = [];
  const nChannels = 1 + r.int(4);
  for (let c = 0; c < nChannels; c++) {
    const reused = reuseIds && c > 0 && r.next() < 0.4;
    const id = reused ? channels[r.int(c)]!.id : Uint8Array.from({ length: 16 }, () => r.int(256));
    const nFrames = 1 + r.int(6);
    const frames: Frame[] = [];
    for (let n = 0; n < nFrames; n++) frames.push({ channelId: id, frameNumber: n, data: Uint8Array.from({ length: r.int(60) }, () => r.int(256)), isLast: n === nFrames - 1 });
    channels.push({ id, frames });
  }
  // Interleave: up to two channels in flight, each advancing a frame at a time.
  const stream: Frame[] = [];
  const open: Frame[][] = [];
  let nextChannel = 0;
  while (nextChannel < channels.length || open.length > 0) {
    if (nextChannel < channels.length && (open.length === 0 || (open.length < 2 && r.next() < 0.5))) open.push([...channels[nextChannel++]!.frames]);
    const k = r.int(open.length);
    stream.push(open[k]!.shift()!);
    if (open[k]!.length === 0) open.splice(k, 1);
  }
  // The network's and the batcher's faults.
  const faulty: Frame[] = [];
  const late: Frame[] = [];
  for (const f of stream) {
    const u = r.next();
    if (u < 0.08) continue; // dropped
    faulty.push(f);
    if (u > 0.92) faulty.splice(faulty.length - 1 - r.int(Math.min(3, faulty.length)), 0, f); // sent twice
    if (u > 0.84 && u <= 0.92 && f.frameNumber > 1) {
      // An earlier frame of the channel comes late, marked as closing: the bank prunes above it.
      // Sometimes its first frame comes last of all, so the pruned channel waits in the bank.
      const k = faulty.findLastIndex((g) => g.channelId === f.channelId && g.frameNumber < f.frameNumber && g.frameNumber > 0);
      if (k >= 0) faulty.push({ ...faulty.splice(k, 1)[0]!, isLast: true });
      const first = faulty.findIndex((g) => g.channelId === f.channelId && g.frameNumber === 0);
      if (k >= 0 && first >= 0 && r.next() < 0.5) late.push(...faulty.splice(first, 1));
    }
  }
  faulty.push(...late);
  for (let i = 0; i + 1 < faulty.length; i++) if (r.next() < 0.1) [faulty[i], faulty[i + 1]] = [faulty[i + 1]!, faulty[i]!]; // reordered
  // Transactions of one to three frames, zero to three per L1 block, sometimes malformed.
  const txs: Tx[] = [];
  for (let i = 0; i < faulty.length; ) {
    const n = 1 + r.int(3);
    txs.push(r.next() < 0.05 ? { malformed: true } : { frames: faulty.slice(i, i + n) });
    i += n;
  }
  const blocks: Tx[][] = [];
  for (let i = 0; i < txs.length; ) {
    const n = r.int(4);
    blocks.push(txs.slice(i, i + n));
    i += n;
  }
  blocks.push([]);
  return { blocks, channelTimeout: 1 + r.int(4), maxBankSize: r.next() < 0.5 ? 400 + r.int(800) : 1_000_000_000 };
}

// --- the reference: op-node's rules, read afresh ------------------------------------------------

interface RefChannel {
  openBlock: number;
  inputs: Map<number, Frame>;
  closed: boolean;
  endFrame: number;
  highestFrame: number;
  size: number;
  inOrder: boolean;
}

const refFrameSize = (f: Frame) => f.data.length + 200;

function refChannel(openBlock: number, inOrder: boolean): RefChannel {
  return { openBlock, inputs: new Map(), closed: false, endFrame: 0, highestFrame: 0, size: 0, inOrder };
}

/** channel.go AddFrame: false when the frame is refused. */
function refAddFrame(ch: RefChannel, f: Frame): boolean {
  if (f.isLast && ch.closed) return false;
  if (ch.inputs.has(f.frameNumber)) return false;
  if (ch.closed && f.frameNumber >= ch.endFrame) return false;
  if (ch.inOrder && f.frameNumber !== ch.inputs.size) return false;
  if (f.isLast) {
    ch.endFrame = f.frameNumber;
    ch.closed = true;
  }
  if (f.isLast && ch.endFrame < ch.highestFrame) {
    for (const [idx, pruned] of [...ch.inputs.entries()]) {
      if (idx >= ch.endFrame) ch.inputs.delete(idx);
      ch.size -= refFrameSize(pruned);
    }
    ch.highestFrame = ch.endFrame;
  }
  if (f.frameNumber > ch.highestFrame) ch.highestFrame = f.frameNumber;
  ch.inputs.set(f.frameNumber, f);
  ch.size += refFrameSize(f);
  return true;
}

function refReady(ch: RefChannel): boolean {
  if (!ch.closed || ch.inputs.size !== ch.endFrame + 1) return false;
  for (let i = 0; i <= ch.endFrame; i++) if (!ch.inputs.has(i)) return false;
  return true;
}

const refData = (ch: RefChannel) => Array.from({ length: ch.endFrame + 1 }, (_, i) => hex(ch.inputs.get(i)!.data)).join("");

/** frame_queue.go pruneFrameQueue. */
function refPrune(frames: Frame[]): Frame[] {
  let i = 0;
  while (i < frames.length - 1) {
    const current = frames[i]!;
    const next = frames[i + 1]!;
    const same = hex(current.channelId) === hex(next.channelId);
    if (same && (current.isLast || next.frameNumber !== current.frameNumber + 1)) {
      frames = [...frames.slice(0, i + 1), ...frames.slice(i + 2)];
    } else if (!same && next.frameNumber === 0 && !current.isLast) {
      frames = [...frames.slice(0, i), ...frames.slice(i + 1)];
      if (i > 0) i--;
    } else if (!same && next.frameNumber !== 0) {
      frames = [...frames.slice(0, i + 1), ...frames.slice(i + 2)];
    } else {
      i++;
    }
  }
  return frames;
}

/**
 * op-node's pull loop over the channel bank (pre-Holocene) or the channel assembler (Holocene),
 * Holocene holding from L1 block index `holoceneFrom` on (null: never); at the switch the bank's
 * channels are discarded, as op-node's channel mux does.
 */
function reference(seq: Sequence, holoceneFrom: number | null): Out[] {
  const out: Out[] = [];
  let holocene = false;
  let queue: Frame[] = [];
  let datas: Tx[] = [];
  let origin = 0;
  const timedOut = (ch: RefChannel) => ch.openBlock + seq.channelTimeout < origin;
  // NextFrame: load one transaction when the queue is empty; under Holocene prune after.
  const nextFrame = (): Frame | "eof" | "again" => {
    if (queue.length === 0) {
      const d = datas.shift();
      if (d === undefined) return "eof";
      if ("frames" in d) queue.push(...d.frames);
    }
    if (holocene) queue = refPrune(queue);
    return queue.shift() ?? "again";
  };
  // Bank state (pre-Holocene) and assembler state (Holocene).
  const channels = new Map<string, RefChannel>();
  let fifo: string[] = [];
  let staging: { id: string; ch: RefChannel } | undefined;

  for (const [b, txs] of seq.blocks.entries()) {
    origin = b + 1;
    datas = [...txs];
    if (!holocene && holoceneFrom !== null && b >= holoceneFrom) {
      holocene = true;
      channels.clear();
      fifo = [];
    }
    if (!holocene) {
      for (;;) {
        // Read first.
        if (fifo.length > 0) {
          const head = channels.get(fifo[0]!)!;
          if (timedOut(head)) {
            channels.delete(fifo.shift()!);
            continue;
          }
          const i = fifo.findIndex((id) => !timedOut(channels.get(id)!) && refReady(channels.get(id)!));
          if (i >= 0) {
            const id = fifo[i]!;
            out.push({ id, data: refData(channels.get(id)!), block: origin });
            channels.delete(id);
            fifo = fifo.filter((_, k) => k !== i);
            continue;
          }
        }
        // Then ingest one frame.
        const f = nextFrame();
        if (f === "eof") break;
        if (f === "again") continue;
        const id = hex(f.channelId);
        if (!channels.has(id)) {
          channels.set(id, refChannel(origin, false));
          fifo.push(id);
        }
        const ch = channels.get(id)!;
        if (timedOut(ch) || !refAddFrame(ch, f)) continue;
        let total = 0;
        for (const c of channels.values()) total += c.size;
        while (total > seq.maxBankSize) {
          const gone = fifo.shift()!;
          total -= channels.get(gone)!.size;
          channels.delete(gone);
        }
      }
    } else {
      for (;;) {
        if (staging && timedOut(staging.ch)) staging = undefined;
        let eof = false;
        for (;;) {
          const f = nextFrame();
          if (f === "eof") {
            eof = true;
            break;
          }
          if (f === "again") break;
          if (f.frameNumber === 0) staging = { id: hex(f.channelId), ch: refChannel(origin, true) };
          if (!staging) continue;
          if (hex(f.channelId) !== staging.id || !refAddFrame(staging.ch, f)) continue;
          if (f.isLast) {
            out.push({ id: staging.id, data: refData(staging.ch), block: origin });
            staging = undefined;
            break;
          }
        }
        if (eof) break;
      }
    }
  }
  return out;
}

// --- the lab ------------------------------------------------------------------------------------

function lab(seq: Sequence, cfg: RollupConfig, stats: { prunedForSize: number; timedOut: number }): Out[] {
  let origin: L1BlockRef | undefined;
  let datas: Uint8Array[] = [];
  const source = {
    get origin() {
      return origin;
    },
    nextData: () => datas.shift() ?? EOF,
  };
  const pipeline = new ChannelPipeline({ ...cfg, channelTimeout: seq.channelTimeout }, source, seq.maxBankSize);
  const out: Out[] = [];
  for (const [b, txs] of seq.blocks.entries()) {
    origin = { number: b + 1, hash: `0x${(b + 1).toString(16).padStart(64, "0")}`, parentHash: `0x${b.toString(16).padStart(64, "0")}`, timestamp: cfg.genesisTimestamp + 12 * (b + 1) };
    datas = txs.map((t) => ("frames" in t ? encodeBatcherTxData(t.frames) : Uint8Array.of(1, 2, 3)));
    for (const ch of pipeline.drain()) out.push({ id: ch.id, data: hex(ch.data), block: ch.inclusion.number });
  }
  stats.prunedForSize += pipeline.channels.stats.channelsPrunedForSize;
  stats.timedOut += pipeline.channels.stats.channelsTimedOut;
  return out;
}

/** Holocene from block index `from` of a sequence: its activation time is that block's timestamp. */
function holoceneFrom(cfg: RollupConfig, from: number): RollupConfig {
  return { ...cfg, holoceneTime: cfg.genesisTimestamp + 12 * (from + 1) };
}

describe("channel assembly agrees with op-node's rules (differential)", () => {
  for (const mode of ["pre-Holocene", "Holocene"] as const) {
    it(`gives the same channels in the same order over ${SEQUENCES} generated sequences per id mode (${mode})`, function () {
      this.timeout(120_000);
      const cfg = mode === "Holocene" ? testConfig() : preHoloceneConfig();
      const r = rng(20261201).fork(mode);
      const stats = { prunedForSize: 0, timedOut: 0 };
      let channelsOut = 0;
      let reusedOut = 0;
      for (const reuseIds of [false, true]) {
        for (let i = 0; i < SEQUENCES; i++) {
          const seq = generate(r, reuseIds);
          const want = reference(seq, mode === "Holocene" ? 0 : null);
          const got = lab(seq, cfg, stats);
          expect(got, `${mode}, reuse ${reuseIds}, sequence ${i}`).to.deep.equal(want);
          channelsOut += want.length;
          if (new Set(want.map((o) => o.id)).size < want.length) reusedOut++;
        }
      }
      // The generator reaches the interesting cases: channels come out, some id comes out twice,
      // channels time out and (before Holocene) the bank prunes for size.
      expect(channelsOut).to.be.greaterThan(SEQUENCES);
      expect(reusedOut).to.be.greaterThan(SEQUENCES / 50);
      expect(stats.timedOut).to.be.greaterThan(SEQUENCES / 10);
      if (mode === "pre-Holocene") expect(stats.prunedForSize).to.be.greaterThan(SEQUENCES / 10);
    });
  }

  it(`switches from the channel bank to the assembler at Holocene's first L1 origin (${SEQUENCES / 3} sequences)`, function () {
    this.timeout(120_000);
    const r = rng(20261201).fork("activation");
    const stats = { prunedForSize: 0, timedOut: 0 };
    for (let i = 0; i < SEQUENCES / 3; i++) {
      const seq = generate(r, r.next() < 0.5);
      const from = r.int(seq.blocks.length);
      expect(lab(seq, holoceneFrom(preHoloceneConfig(), from), stats), `sequence ${i}, Holocene from block ${from}`).to.deep.equal(reference(seq, from));
    }
  });
});
