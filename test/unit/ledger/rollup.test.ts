// The rollup on real chains: blocks sequenced on one Hardhat L2, posted to a Hardhat L1, derived
// back and re-executed on a fresh L2 must match block for block: hashes and state roots.
import { expect } from "chai";
import { challengeOutputs, deployL2OutputOracle, outputAtBlock, proposeOutputs } from "../../../lib/ledger/output-root.js";
import { runRollup } from "../../../lib/ledger/rollup.js";

async function compareChains(run: Awaited<ReturnType<typeof runRollup>>): Promise<number> {
  const n = run.sequencer.blocks.length;
  for (let i = 1; i <= n; i++) {
    const q = `0x${i.toString(16)}`;
    const a = await run.l2.send("eth_getBlockByNumber", [q, false]);
    const b = await run.l2Derived!.send("eth_getBlockByNumber", [q, false]);
    expect(b.hash, `block ${i}`).to.equal(a.hash);
    expect(b.stateRoot, `state root ${i}`).to.equal(a.stateRoot);
  }
  return n;
}

describe("rollup on Hardhat L1 and L2", function () {
  this.timeout(300_000);

  it("derives the sequenced L2 chain from calldata span batches: same hashes and state roots", async () => {
    const reported: Array<[number, number]> = [];
    const run = await runRollup({
      seed: 3,
      l2Blocks: 24,
      txsPerBlock: 6,
      batcher: { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 8_000 },
      onProgress: (done, total) => reported.push([done, total]),
    });
    try {
      // the set-up at 0, then one count per sequenced block and one for derivation: 0, 1, 2, … 25 of 25
      expect(reported.map(([done]) => done)).to.deep.equal(Array.from({ length: 26 }, (_, i) => i));
      expect(reported.every(([, total]) => total === 25)).to.equal(true);
      expect(run.posted.length).to.be.greaterThan(1);
      expect(run.pipeline!.safeChain.length).to.equal(25);
      expect(await compareChains(run)).to.equal(24);
      for (const t of run.generated.slice(0, 40)) {
        const r = await run.l2.send("eth_getTransactionReceipt", [t.hash]);
        expect(r.status, t.kind).to.equal("0x1");
      }
    } finally {
      await run.close();
    }
  });

  it("derives it from EIP-4844 blobs with real KZG commitments (singular batches, zlib)", async () => {
    const run = await runRollup({ seed: 4, l2Blocks: 16, txsPerBlock: 6, batcher: { batchType: 0, compression: "zlib", da: "blobs", maxChannelInputBytes: 8_000 } });
    try {
      const blobTx = run.posted[0]!.txs[0]!;
      const tx = await run.l1.send("eth_getTransactionByHash", [blobTx.hash]);
      expect(Number(tx.type)).to.equal(3);
      expect(tx.blobVersionedHashes.length).to.be.greaterThan(0);
      const receipt = await run.l1.send("eth_getTransactionReceipt", [blobTx.hash]);
      expect(receipt.status).to.equal("0x1");
      expect(run.pipeline!.retrieval.blobsUnverified).to.equal(0);
      expect(await compareChains(run)).to.equal(16);
    } finally {
      await run.close();
    }
  });

  it("settles output roots on L1: a wrong proposal is deleted in the window, the rest finalize after it", async () => {
    const run = await runRollup({ seed: 5, l2Blocks: 20, txsPerBlock: 4, batcher: { batchType: 1, compression: "zlib", da: "calldata" } });
    try {
      const { l1, l2, l2Derived } = run;
      await l1.send("evm_setAutomine", [true]);
      const [proposer, challenger] = [l1.wallet(17), l1.wallet(18)];
      const window = 3600;
      const oracle = await deployL2OutputOracle(l1.wallet(0), {
        submissionInterval: 5,
        l2BlockTime: run.cfg.blockTime,
        startingBlockNumber: 0,
        startingTimestamp: run.cfg.genesisTimestamp,
        proposer: proposer.address,
        challenger: challenger.address,
        finalizationPeriodSeconds: window,
      });
      // The proposer's outputs come from the sequencer's chain; the challenger checks them on the derived one.
      const honest = await proposeOutputs(oracle, proposer, l2, 10, l1);
      expect(honest.map((p) => p.l2BlockNumber)).to.deep.equal([5, 10]);
      const derived10 = await outputAtBlock(l2Derived!, 10);
      expect(honest[1]!.outputRoot).to.equal(derived10.outputRoot);
      expect((await challengeOutputs(oracle, challenger, l2Derived!)).deletedFrom).to.equal(undefined);
      const lie = await proposeOutputs(oracle, proposer, l2, 15, l1, (o) => o.stateRoot);
      expect(lie.length).to.equal(1);
      expect((await challengeOutputs(oracle, challenger, l2Derived!)).deletedFrom).to.equal(2);
      expect(await oracle.nextBlockNumber()).to.equal(15n);
      const fixed = await proposeOutputs(oracle, proposer, l2, 15, l1);
      expect(fixed[0]!.outputRoot).to.equal((await outputAtBlock(l2Derived!, 15)).outputRoot);
      expect(await oracle.isFinalized(2)).to.equal(false);
      await l1.send("evm_increaseTime", [window]);
      await l1.send("evm_mine", []);
      expect(await oracle.isFinalized(2)).to.equal(true);
      expect((await challengeOutputs(oracle, challenger, l2Derived!)).deletedFrom).to.equal(undefined);
    } finally {
      await run.close();
    }
  });
});
