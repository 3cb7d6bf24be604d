// Notebook 01's measurements as library functions: the parent-epoch rule, the channel grid and
// its curves, the latency summary, the L1-origin rules, and the workload run in memory.
import { expect } from "chai";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import {
  blocksForChannels,
  CHANNEL_GRID_KEYS,
  channelSizesFor,
  compareChannels,
  compressionCurve,
  daCost,
  daCostCurve,
  encodedSpanBatch,
  latencySummary,
  measureChannel,
  measureChannelGrid,
  takeBlocks,
} from "../../../lib/ledger/channel-measurements.js";
import { originRuleViolations } from "../../../lib/ledger/sequencer.js";
import { latencyByChannelLimit, simulate, simulateWorkload } from "../../../lib/ledger/sim.js";
import { decodeSpanBatch } from "../../../lib/ledger/span-batch.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { scenario, testConfig } from "./helpers.js";

describe("channel measurements", function () {
  this.timeout(120_000);

  it("gives each block its parent's origin: one less at an epoch's first block", async () => {
    const run = await scenario({ batcher: { batchType: 1, compression: "zlib", da: "calldata" }, l2Blocks: 16, txsPerBlock: 2 });
    const blocks = blocksForChannels(run.sequencer.blocks);
    const starts = run.sequencer.blocks.filter((b) => b.ref.sequenceNumber === 0).length;
    expect(starts).to.be.greaterThan(1);
    expect(blocks.map((b) => b.parentEpoch)).to.deep.equal(run.sequencer.blocks.map((b) => (b.ref.sequenceNumber === 0 ? b.batch.epochNum - 1 : b.batch.epochNum)));
    const span = decodeSpanBatch(encodedSpanBatch(blocks.slice(1, 4), run.cfg).subarray(1), run.cfg);
    expect(span.blocks.map((b) => b.transactions.length)).to.deep.equal(run.sequencer.blocks.slice(1, 4).map((b) => b.batch.transactions.length));
  });

  it("measures the grid as measureChannel does, at each size takeBlocks reaches, and compares its corners", async () => {
    const run = await scenario({ batcher: { batchType: 1, compression: "zlib", da: "calldata" }, l2Blocks: 30, txsPerBlock: 6 });
    const blocks = blocksForChannels(run.sequencer.blocks.slice(1));
    const sizes = channelSizesFor(blocks);
    expect(sizes.slice(0, 3)).to.deep.equal([2_000, 5_000, 10_000]);
    const txBytes = blocks.reduce((a, b) => a + b.batch.transactions.reduce((x, t) => x + t.length, 0), 0);
    expect(sizes[sizes.length - 1]).to.be.at.most(txBytes);
    const curve = compressionCurve(blocks, sizes, run.cfg);
    const last = curve[curve.length - 1]!;
    const taken = takeBlocks(blocks, last.txBytes);
    expect(last.blocks).to.equal(taken.length);
    for (const key of CHANNEL_GRID_KEYS) {
      const [kind, algo] = key.split(" ") as ["singular" | "span", "zlib" | "brotli"];
      expect(last.grid[key]).to.deep.equal(measureChannel(taken, kind, algo, run.cfg));
    }
    const grid = measureChannelGrid(taken, run.cfg);
    const c = compareChannels(grid);
    expect(c.brotliRatio).to.equal(grid["span brotli"].ratioVsTxs);
    expect(c.brotliVsZlibSaving).to.equal(1 - grid["span brotli"].compressedBytes / grid["span zlib"].compressedBytes);
    expect(c.spanVsSingular).to.equal(grid["span brotli"].compressedBytes / grid["singular brotli"].compressedBytes);
    expect(c.encodingOverhead).to.equal(grid["span brotli"].encodingOverhead);
    const costs = daCostCurve(blocks, sizes, run.cfg);
    expect(costs[1]!.blobs).to.deep.equal(daCost(takeBlocks(blocks, sizes[1]!), "span", "brotli", "blobs", run.cfg));
    expect(costs[1]!.calldata).to.deep.equal(daCost(takeBlocks(blocks, sizes[1]!), "span", "brotli", "calldata", run.cfg));
  });

  it("summarises latencies by the upper median and the largest", () => {
    expect(latencySummary([30, 10, 20, 40])).to.deep.equal({ median: 30, max: 40 });
    expect(latencySummary([5, 1, 3])).to.deep.equal({ median: 3, max: 5 });
  });

  it("finds no block off the L1-origin rules in a run, and finds one moved before its origin", async () => {
    const run = await scenario({ batcher: { batchType: 1, compression: "zlib", da: "calldata" }, l2Blocks: 20, txsPerBlock: 1 });
    const l1 = (n: number) => run.l1.blocks[n];
    const refs = run.sequencer.blocks.map((b) => b.ref);
    expect(originRuleViolations(run.cfg, refs, l1)).to.deep.equal([]);
    const late = refs.findIndex((r) => r.l1origin.number > 0);
    const early = { ...refs[late]!, timestamp: run.l1.blocks[refs[late]!.l1origin.number]!.timestamp - 1 };
    const drifting = { ...refs[late]!, timestamp: run.l1.blocks[refs[late]!.l1origin.number]!.timestamp + run.cfg.maxSequencerDrift + 1 };
    expect(originRuleViolations(run.cfg, [...refs, early, drifting], l1)).to.deep.equal([early, drifting]);
  });

  it("runs the workload in memory as a hand-made simulate does, and its latencies per channel limit", async () => {
    const cfg = testConfig();
    const batcher = { batchType: 1, compression: "brotli", da: "blobs", maxChannelInputBytes: 10_000 } as const;
    const w = new Workload({ seed: 9, chainId: cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, 16) });
    const setup = w.setup().map((t) => t.raw);
    const byHand = await simulate({ cfg, batcher, l2Blocks: 30, seed: 3, txsForBlock: (i) => (i === 0 ? setup : w.take(4).map((t) => t.raw)) });
    const run = await simulateWorkload({ cfg, batcher, l2Blocks: 30, seed: 3, workloadSeed: 9, txsPerBlock: 4, senders: 16 });
    expect(run.sequencer.blocks.map((b) => b.ref.hash)).to.deep.equal(byHand.sequencer.blocks.map((b) => b.ref.hash));
    expect(run.batcher.channels.map((c) => c.id)).to.deep.equal(byHand.batcher.channels.map((c) => c.id));
    const [small, large] = await latencyByChannelLimit({ cfg, batcher, l2Blocks: 30, seed: 3, workloadSeed: 9, txsPerBlock: 4, senders: 16 }, [10_000, 40_000]);
    expect(small!.channels).to.equal(byHand.batcher.channels.length);
    expect(large!.channels).to.be.lessThan(small!.channels);
    expect(small!.latencies).to.have.length(30);
    expect(small!.max).to.equal(Math.max(...small!.latencies));
  });
});
