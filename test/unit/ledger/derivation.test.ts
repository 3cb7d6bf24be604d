import { expect } from "chai";
import { Wallet } from "ethers";
import { encodeBatch, encodeChannelPayload } from "../../../lib/ledger/batch.js";
import type { L1BlockData, L1Tx } from "../../../lib/ledger/block-refs.js";
import { channelToFrames, compressChannel } from "../../../lib/ledger/channel.js";
import { encodeBatcherTxData, type Frame } from "../../../lib/ledger/frame.js";
import { deriveAll, MemoryL1 } from "../../../lib/ledger/sim.js";
import { preHoloceneConfig, resigned, scenario, signedTx, testConfig, txData } from "./helpers.js";

/** Moves every batcher transaction into its own L1 block (in the given order), so tests can
 *  reorder, repeat or delay frames at L1-block granularity. */
function relayout(base: L1BlockData[], txs: L1Tx[][], gapBlocks = 0): L1BlockData[] {
  const l1 = new MemoryL1(base[0]!.timestamp);
  // Keep the L1 headers the sequencer used as origins (without their batcher transactions),
  // then append the tampered batcher transactions in new blocks.
  l1.blocks.length = 0;
  for (const b of base) l1.blocks.push({ ...b, transactions: [] });
  for (const group of txs) {
    l1.mine(group);
    for (let g = 0; g < gapBlocks; g++) l1.mine([]);
  }
  l1.mine([]);
  return l1.blocks;
}

function batcherTxs(blocks: L1BlockData[]): L1Tx[] {
  return blocks.flatMap((b) => b.transactions);
}

describe("derivation", () => {
  for (const batchType of [0, 1] as const) {
    for (const compression of ["zlib", "brotli"] as const) {
      for (const da of ["calldata", "blobs"] as const) {
        it(`re-derives every sequenced block exactly (${batchType === 0 ? "singular" : "span"}, ${compression}, ${da})`, async () => {
          const run = await scenario({ batcher: { batchType, compression, da, maxChannelInputBytes: 6_000, maxCalldataFrameSize: 2_000 }, l2Blocks: 40, txsPerBlock: 4 });
          expect(run.batcher.channels.length).to.be.greaterThan(2);
          const p = await deriveAll(run.cfg, run.genesis, run.l1.blocks, run.l1);
          const seq = run.sequencer.blocks.map((b) => b.ref.hash);
          expect(p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(seq);
          expect(p.stats.emptyBlocksForced).to.equal(0);
        });
      }
    }
  }

  it("ignores transactions from the wrong sender and to the wrong inbox", async () => {
    const run = await scenario({ batcher: { batchType: 1, compression: "brotli", da: "calldata" }, l2Blocks: 10, txsPerBlock: 2 });
    const intruder = new Wallet(`0x${"cc".repeat(32)}`);
    const forged = run.l1.blocks.map((b) => ({ ...b, transactions: b.transactions.map((t) => resigned(t, { signer: intruder })) }));
    const p = await deriveAll(run.cfg, run.genesis, forged, run.l1);
    expect(p.safeChain.length).to.equal(1);
    expect(p.retrieval.wrongSender).to.be.greaterThan(0);
    const misrouted = run.l1.blocks.map((b) => ({ ...b, transactions: b.transactions.map((t) => resigned(t, { to: "0x00000000000000000000000000000000000000dd" })) }));
    const q = await deriveAll(run.cfg, run.genesis, misrouted, run.l1);
    expect(q.safeChain.length).to.equal(1);
    expect(q.retrieval.batcherTxs).to.equal(0);
  });

  it("derives the same chain when every batcher transaction is posted twice", async () => {
    const run = await scenario({ batcher: { batchType: 0, compression: "zlib", da: "calldata", maxChannelInputBytes: 3_000, maxCalldataFrameSize: 1_000 }, l2Blocks: 20, txsPerBlock: 3 });
    const txs = batcherTxs(run.l1.blocks);
    const blocks = relayout(
      run.l1.blocks,
      txs.map((t) => [t, t]),
    );
    const p = await deriveAll(run.cfg, run.genesis, blocks, run.l1);
    expect(p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(run.sequencer.blocks.map((b) => b.ref.hash));
    // Each copy arrives as its own transaction: the assembler, not the frame queue, refuses it.
    expect(p.channels.stats.framesIgnored).to.be.greaterThan(0);
  });

  it("drops out-of-order frames under Holocene, and reassembles them in the pre-Holocene channel bank", async () => {
    const cfg = testConfig();
    const run = await scenario({ cfg, batcher: { batchType: 1, compression: "brotli", da: "calldata", maxCalldataFrameSize: 1_500 }, l2Blocks: 12, txsPerBlock: 3 });
    const txs = batcherTxs(run.l1.blocks);
    expect(txs.length).to.be.greaterThan(2);
    const swapped = [txs[1]!, txs[0]!, ...txs.slice(2)].map((t) => [t]);
    const holo = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, swapped), run.l1);
    expect(holo.safeChain.length).to.equal(1);
    expect(holo.channels.stats.framesIgnored).to.be.greaterThan(0);
    const preCfg = preHoloceneConfig();
    const pre = await deriveAll(preCfg, run.genesis, relayout(run.l1.blocks, swapped), run.l1);
    expect(pre.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(run.sequencer.blocks.map((b) => b.ref.hash));
  });

  it("times out a channel whose frames span more than CHANNEL_TIMEOUT L1 blocks", async () => {
    const run = await scenario({ batcher: { batchType: 1, compression: "zlib", da: "calldata", maxCalldataFrameSize: 1_000 }, l2Blocks: 8, txsPerBlock: 3 });
    const txs = batcherTxs(run.l1.blocks).map((t) => [t]);
    expect(txs.length).to.be.greaterThan(2);
    // One frame per L1 block: the last frame lands txs.length - 1 blocks after the first.
    const cfg = { ...run.cfg, channelTimeout: txs.length };
    const late = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, txs, 1), run.l1);
    expect(late.safeChain.length).to.equal(1);
    expect(late.channels.stats.channelsTimedOut).to.be.greaterThan(0);
    const inTime = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, txs, 0), run.l1);
    expect(inTime.safeChain.length).to.equal(run.sequencer.blocks.length + 1);
  });

  it("drops an invalid batch and, under Holocene, the rest of its channel", async () => {
    const cfg = testConfig();
    const run = await scenario({ cfg, batcher: { batchType: 0, compression: "zlib", da: "calldata" }, l2Blocks: 10, txsPerBlock: 2 });
    const batches = run.sequencer.blocks.map((b) => ({ type: 0 as const, batch: b.batch }));
    const bad = { type: 0 as const, batch: { ...batches[4]!.batch, parentHash: new Uint8Array(32).fill(9) } };
    const payload = encodeChannelPayload([...batches.slice(0, 4), bad, ...batches.slice(5)], cfg);
    const frames = channelToFrames(new Uint8Array(16).fill(3), compressChannel(payload, "zlib"), 100_000);
    const tx = signedTx(encodeBatcherTxData(frames), cfg.batchInboxAddress);
    const p = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, [[tx]]), run.l1);
    expect(p.safeChain.length).to.equal(5);
    expect(p.stats.batchesDropped["parent_hash is not the safe head"]).to.equal(1);
    expect(p.stats.channelsInvalidated).to.equal(1);
    expect(encodeBatch(bad, cfg)[0]).to.equal(0);
  });

  it("buffers a future channel before Holocene and drops it under Holocene", async () => {
    const cfg = testConfig();
    const run = await scenario({ cfg, batcher: { batchType: 0, compression: "brotli", da: "calldata", maxChannelInputBytes: 2_000 }, l2Blocks: 16, txsPerBlock: 2 });
    const txs = batcherTxs(run.l1.blocks);
    expect(run.batcher.channels.length).to.be.greaterThan(2);
    const reordered = [txs[1]!, txs[0]!, ...txs.slice(2)].map((t) => [t]);
    const pre = await deriveAll(preHoloceneConfig(), run.genesis, relayout(run.l1.blocks, reordered), run.l1);
    expect(pre.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(run.sequencer.blocks.map((b) => b.ref.hash));
    const holo = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, reordered), run.l1);
    expect(holo.stats.batchesDropped["timestamp ahead of the next L2 block"]).to.be.greaterThan(0);
    expect(holo.safeChain.length).to.be.lessThan(run.sequencer.blocks.length + 1);
  });

  it("fills an expired sequencing window with empty blocks and drops batches that come too late", async () => {
    const cfg = testConfig({ seqWindowSize: 4 });
    const run = await scenario({ cfg, batcher: { batchType: 1, compression: "zlib", da: "calldata" }, l2Blocks: 6, txsPerBlock: 2 });
    const txs = batcherTxs(run.l1.blocks).map((t) => [t]);
    const late = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, [[], [], [], [], [], ...txs]), run.l1);
    expect(late.stats.emptyBlocksForced).to.be.greaterThan(0);
    expect(late.safeChain.slice(1).every((b) => late.derivedTransactions.get(b.number)!.length === 0)).to.equal(true);
    // The forced blocks differ from the sequenced ones: the late batch no longer applies.
    expect(late.safeChain[1]!.hash).to.not.equal(run.sequencer.blocks[0]!.ref.hash);
  });

  it("rejects a batcher transaction whose frames are truncated, and the rest still derive", async () => {
    const cfg = testConfig();
    const run = await scenario({ cfg, batcher: { batchType: 0, compression: "zlib", da: "calldata", maxChannelInputBytes: 2_500 }, l2Blocks: 16, txsPerBlock: 2 });
    const txs = batcherTxs(run.l1.blocks);
    const broken = resigned(txs[0]!, { data: txData(txs[0]!).subarray(0, txData(txs[0]!).length - 5) });
    const f: Frame = { channelId: new Uint8Array(16), frameNumber: 0, data: new Uint8Array(3), isLast: true };
    expect(encodeBatcherTxData([f]).length).to.equal(1 + 23 + 3);
    const p = await deriveAll(cfg, run.genesis, relayout(run.l1.blocks, [[broken], [txs[0]!], ...txs.slice(1).map((t) => [t])]), run.l1);
    expect(p.frameQueue.stats.txDataRejected).to.equal(1);
    expect(p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(run.sequencer.blocks.map((b) => b.ref.hash));
  });
});
