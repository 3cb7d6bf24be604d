import { expect } from "chai";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import { Batcher } from "../../../lib/ledger/batcher.js";
import { HashEngine } from "../../../lib/ledger/engine.js";
import { Sequencer } from "../../../lib/ledger/sequencer.js";
import { deriveAll, genesisL2, l1Ref, MemoryL1 } from "../../../lib/ledger/sim.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { rng } from "../../../lib/random.js";
import { BATCHER_WALLET, testConfig } from "./helpers.js";

describe("sequencer", () => {
  const w = new Workload({ seed: 3, chainId: 901n, senderKeys: devPrivateKeys().slice(0, 6) });
  const setup = w.setup().map((t) => t.raw);

  it("advances the L1 origin only to L1 blocks not later than the L2 timestamp", async () => {
    const cfg = testConfig();
    const l1 = new MemoryL1(cfg.genesisTimestamp);
    for (let i = 0; i < 5; i++) l1.mine([]);
    const genesis = genesisL2(l1Ref(l1.blocks[0]!), cfg.genesisTimestamp);
    const seq = new Sequencer(cfg, new HashEngine(genesis), genesis, (n) => (l1.get(n) ? l1Ref(l1.get(n)!) : undefined));
    for (let i = 0; i < 30; i++) await seq.buildBlock([]);
    for (const b of seq.blocks) {
      const origin = l1.get(b.ref.l1origin.number)!;
      expect(b.ref.timestamp).to.be.at.least(origin.timestamp);
      const next = l1.get(origin.number + 1);
      if (next) expect(b.ref.timestamp).to.be.lessThan(next.timestamp); // would have adopted it otherwise
    }
    // Origins step by at most one, and sequence numbers restart at each new origin.
    for (let i = 1; i < seq.blocks.length; i++) {
      const [a, b] = [seq.blocks[i - 1]!.ref, seq.blocks[i]!.ref];
      expect(b.l1origin.number - a.l1origin.number).to.be.oneOf([0, 1]);
      expect(b.sequenceNumber).to.equal(b.l1origin.number === a.l1origin.number ? a.sequenceNumber + 1 : 0);
    }
  });

  it("stops including transactions past the max sequencer drift when L1 stalls, and derivation agrees", async () => {
    const cfg = testConfig({ maxSequencerDrift: 20 });
    const l1 = new MemoryL1(cfg.genesisTimestamp, 60); // L1's next block comes 60 s later
    const genesis = genesisL2(l1Ref(l1.blocks[0]!), cfg.genesisTimestamp);
    const seq = new Sequencer(cfg, new HashEngine(genesis), genesis, (n) => (l1.get(n) ? l1Ref(l1.get(n)!) : undefined));
    for (let i = 0; i < 20; i++) await seq.buildBlock(i === 0 ? setup : w.take(2).map((t) => t.raw));
    const withTxs = seq.blocks.filter((b) => b.batch.transactions.length > 0).map((b) => b.ref.timestamp - cfg.genesisTimestamp);
    expect(Math.max(...withTxs)).to.equal(20);
    expect(seq.blocks.filter((b) => b.ref.timestamp - cfg.genesisTimestamp > 20).every((b) => b.batch.transactions.length === 0)).to.equal(true);
    const batcher = new Batcher(cfg, { batchType: 1, compression: "zlib", da: "calldata" }, rng(1));
    for (const b of seq.blocks) batcher.addBlock(b);
    l1.mine(l1.toL1Txs(batcher.flush(), BATCHER_WALLET, cfg.batchInboxAddress));
    // The empty blocks past the drift stay valid: the next L1 origin (at +60 s) was not yet due.
    const p = await deriveAll(cfg, genesis, l1.blocks, l1);
    expect(p.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(seq.blocks.map((b) => b.ref.hash));
  });

  it("derivation drops a batch that carries transactions past the drift", async () => {
    const cfg = testConfig({ maxSequencerDrift: 20 });
    const l1 = new MemoryL1(cfg.genesisTimestamp, 60);
    const genesis = genesisL2(l1Ref(l1.blocks[0]!), cfg.genesisTimestamp);
    // A sequencer that ignores the drift rule (its configuration allows a day).
    const rogue = new Sequencer({ ...cfg, maxSequencerDrift: 86_400 }, new HashEngine(genesis), genesis, (n) => (l1.get(n) ? l1Ref(l1.get(n)!) : undefined));
    for (let i = 0; i < 14; i++) await rogue.buildBlock(i === 0 ? setup : w.take(1).map((t) => t.raw));
    const batcher = new Batcher(cfg, { batchType: 0, compression: "zlib", da: "calldata" }, rng(2));
    for (const b of rogue.blocks) batcher.addBlock(b);
    l1.mine(l1.toL1Txs(batcher.flush(), BATCHER_WALLET, cfg.batchInboxAddress));
    const p = await deriveAll(cfg, genesis, l1.blocks, l1);
    expect(p.safeChain.length - 1).to.equal(10); // blocks at 2..20 s
    expect(p.stats.batchesDropped["transactions beyond the max sequencer drift"]).to.equal(1);
  });
});
