// The rollup driver's three callers (runRollup on Hardhat, simulate in memory, the loop's L2 on
// Hardhat) run one sequence of stages: where their inputs agree, so must what the stages decide
// (L1 origins, channel boundaries and ids, the L1 block that includes each channel). Engines
// differ (Hardhat's block hashes against HashEngine's), so hashes are compared only within a run.
import { expect } from "chai";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import type { ChannelInfo } from "../../../lib/ledger/batcher.js";
import type { PostedChannel } from "../../../lib/ledger/driver.js";
import { outputAtBlock, settleOutputRoots } from "../../../lib/ledger/output-root.js";
import { runRollup } from "../../../lib/ledger/rollup.js";
import type { SequencedBlock } from "../../../lib/ledger/sequencer.js";
import { simulate } from "../../../lib/ledger/sim.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { L2Ledger } from "../../../lib/loop/l2.js";

const hex = (u: Uint8Array) => Buffer.from(u).toString("hex");
const origins = (blocks: readonly SequencedBlock[]) => blocks.map((b) => [b.ref.timestamp, b.ref.l1origin.number, b.ref.sequenceNumber, b.batch.transactions.length]);
const channels = (cs: readonly ChannelInfo[]) => cs.map((c) => [hex(c.id), c.firstBlock, c.lastBlock, c.txs]);
const inclusions = (posted: readonly PostedChannel[]) => posted.map((p) => [hex(p.channel.id), p.l1Block]);

describe("rollup driver: its callers agree", function () {
  this.timeout(300_000);

  it("runRollup and simulate sequence, batch and include the same workload alike; the challenge drill deletes the wrong output", async () => {
    const batcher = { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 6_000 } as const;
    const run = await runRollup({ seed: 12, l2Blocks: 20, txsPerBlock: 5, batcher });
    try {
      const w = new Workload({ seed: 12, chainId: run.cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, 16) });
      const setup = w.setup().map((t) => t.raw);
      // simulate reports each sequenced block (1 … 20 of 20); the comparisons below show the report changes nothing
      const reported: Array<[number, number]> = [];
      const sim = await simulate({
        cfg: run.cfg,
        batcher,
        l2Blocks: 20,
        seed: 12,
        txsForBlock: (i) => (i === 0 ? setup : w.take(5).map((t) => t.raw)),
        onProgress: (done, total) => reported.push([done, total]),
      });
      expect(reported).to.deep.equal(Array.from({ length: 20 }, (_, i) => [i + 1, 20]));
      expect(origins(sim.sequencer.blocks)).to.deep.equal(origins(run.sequencer.blocks));
      expect(channels(sim.batcher.channels)).to.deep.equal(channels(run.batcher.channels));
      expect(sim.batcher.channels.length).to.be.greaterThan(2);
      expect(sim.inclusions.map((i) => [hex(i.channel.id), i.l1Block])).to.deep.equal(inclusions(run.posted));
      expect(sim.batcherTxCount).to.equal(run.posted.reduce((a, p) => a + p.txs.length, 0));

      const settled = await settleOutputRoots({ cfg: run.cfg, l1: run.l1, sequenced: run.l2, derived: run.l2Derived!, safeBlock: run.pipeline!.safeHead.number, interval: 5, wrongLastOutput: true });
      expect(settled.proposals.map((p) => p.l2BlockNumber)).to.deep.equal([5, 10, 15, 20]);
      expect(settled.deleted.map((p) => p.l2BlockNumber)).to.deep.equal([20]);
      expect(settled.challenges.map((c) => c.deletedFrom)).to.deep.equal([undefined, 3, undefined]);
      expect(settled.challengedIndex).to.equal(3);
      expect(settled.finalizedBefore).to.deep.equal([false, false, false, false]);
      expect(settled.finalized).to.deep.equal([true, true, true, true]);
      expect(settled.proposals[3]!.outputRoot).to.equal((await outputAtBlock(run.l2Derived!, 20)).outputRoot);
    } finally {
      await run.close();
    }
  });

  it("the loop's L2 and simulate build the same blocks, channels and inclusions from the same transactions", async () => {
    const batcher = { batchType: 1, compression: "zlib", da: "calldata", maxChannelInputBytes: 400 } as const;
    const l2 = await L2Ledger.open({ seed: 21, batcher });
    try {
      await l2.send("a payment", [{ label: "pay", from: l2.wallet(1), to: l2.wallet(2).address, value: 1n }]);
      await l2.padTo(12);
      const d = await l2.finish();
      expect(d.identicalBlocks).to.equal(12);
      const payment = l2.sequencer.blocks[0]!.batch.transactions;
      expect(payment).to.have.length(1);
      const sim = await simulate({ cfg: l2.cfg, batcher, l2Blocks: 12, seed: 21, txsForBlock: (i) => (i === 0 ? payment : []) });
      expect(origins(sim.sequencer.blocks)).to.deep.equal(origins(l2.sequencer.blocks));
      expect(channels(sim.batcher.channels)).to.deep.equal(channels(l2.batcher.channels));
      expect(sim.batcher.channels.length).to.be.greaterThan(1);
      expect(sim.inclusions.map((i) => [hex(i.channel.id), i.l1Block])).to.deep.equal(inclusions(l2.posted));
    } finally {
      await l2.close();
    }
  });
});
