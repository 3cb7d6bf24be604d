import { expect } from "chai";
import { connect, type LabChain } from "../../../lib/chain/connect.js";
import { devPrivateKeys } from "../../../lib/chain/keys.js";
import { ALT_DA_TX_DATA_VERSION } from "../../../lib/da/altda.js";
import { postThroughDA } from "../../../lib/da/altda-source.js";
import { DAServiceError } from "../../../lib/da/errors.js";
import { type DAStack, startDAStack } from "../../../lib/da/stack.js";
import type { BatcherTx } from "../../../lib/ledger/batcher.js";
import { deriveAll, simulate } from "../../../lib/ledger/sim.js";
import { Workload } from "../../../lib/ledger/workload.js";
import { expectCodeAsync } from "../expect-code.js";
import { resigned, testConfig, txData } from "../ledger/helpers.js";

const cfg = testConfig();

async function run(post?: (txs: BatcherTx[]) => Promise<BatcherTx[]>) {
  const w = new Workload({ seed: 3, chainId: cfg.l2ChainId, senderKeys: devPrivateKeys().slice(0, 6) });
  const setup = w.setup().map((t) => t.raw);
  return simulate({
    cfg,
    batcher: { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 5_000, maxCalldataFrameSize: 3_000 },
    l2Blocks: 20,
    seed: 3,
    txsForBlock: (i) => (i === 0 ? setup : w.take(3).map((t) => t.raw)),
    postBatcherTxs: post,
  });
}

describe("alt-DA: the batcher posts EigenDA certificates, derivation fetches the frames through the proxy", function () {
  this.timeout(300_000);
  let chain: LabChain;
  let stack: DAStack;
  let calldata: Awaited<ReturnType<typeof run>>;
  let viaDA: Awaited<ReturnType<typeof run>>;

  before(async () => {
    chain = await connect({ network: "default" });
    stack = await startDAStack({ seed: 9, chain, operators: 10, srsOrder: 512 });
    calldata = await run();
    viaDA = await run((txs) => postThroughDA(stack.client, txs));
  });
  after(async () => {
    await stack?.close();
  });

  it("derives the same L2 chain through the DA path as through calldata", async () => {
    const posted = viaDA.l1.blocks.flatMap((b) => b.transactions);
    expect(posted.length).to.be.greaterThan(2);
    expect(posted.every((t) => txData(t)[0] === ALT_DA_TX_DATA_VERSION)).to.equal(true);
    const plain = await deriveAll(cfg, calldata.genesis, calldata.l1.blocks, calldata.l1);
    const source = stack.source();
    const derived = await deriveAll(cfg, viaDA.genesis, viaDA.l1.blocks, viaDA.l1, { altDA: source });
    // Each path re-derives its own sequenced chain exactly (block hashes)...
    expect(derived.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(viaDA.sequencer.blocks.map((b) => b.ref.hash));
    expect(plain.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(calldata.sequencer.blocks.map((b) => b.ref.hash));
    // ...and the two chains are the same L2 chain: numbers, timestamps, L1 origin numbers and every
    // transaction. (Their hashes differ only through the L1 origin hashes: the in-memory L1's block
    // hashes cover the batcher transactions, which are frames on one side and certificates on the other.)
    const shape = (p: typeof plain) =>
      p.safeChain.map((b) => ({
        number: b.number,
        timestamp: b.timestamp,
        origin: b.l1origin.number,
        seq: b.sequenceNumber,
        txs: (p.derivedTransactions.get(b.number) ?? []).map((t) => Buffer.from(t).toString("hex")),
      }));
    expect(shape(derived)).to.deep.equal(shape(plain));
    expect(derived.safeChain.length).to.equal(21);
    expect(source.stats.fetched).to.equal(posted.length);
    expect(stack.server.stats.puts).to.be.at.least(posted.length);
    // An RLP certificate (as eigenda-proxy serves it) is under 1 KB on L1 whatever the frame size behind it.
    const certBytes = txData(posted[0]!).length;
    expect(certBytes).to.be.within(500, 1_000);
  });

  it("drops a commitment whose certificate fails on L1, and stops derivation when certified data is gone", async () => {
    // Flip a byte near the end of the certificate (inside a curve point): it no longer decodes, and is dropped.
    const tampered = viaDA.l1.blocks.map((b) => ({
      ...b,
      transactions: b.transactions.map((t, i) => (i === 0 ? resigned(t, { data: txData(t).map((x, k, d) => (k === d.length - 40 ? x ^ 1 : x)) }) : t)),
    }));
    const source = stack.source();
    const p = await deriveAll(cfg, viaDA.genesis, tampered, viaDA.l1, { altDA: source });
    expect(source.stats.droppedInvalidCert + source.stats.droppedUndecodable).to.be.greaterThan(0);
    // Each dropped commitment is in the derivation's drop log under the DA layer's code.
    const dropped = p.drops.recent.filter((d) => d.stage === "alt-da");
    expect(dropped.length).to.equal(source.stats.droppedInvalidCert + source.stats.droppedUndecodable);
    expect(dropped.every((d) => d.reason.startsWith("da/"))).to.equal(true);
    expect(p.safeChain.length).to.be.lessThan(viaDA.sequencer.blocks.length + 1);

    for (const op of stack.operators) op.behaviour = "withholding";
    try {
      await expectCodeAsync(deriveAll(cfg, viaDA.genesis, viaDA.l1.blocks, viaDA.l1, { altDA: stack.source() }), DAServiceError, "da/blob-unavailable");
    } finally {
      for (const op of stack.operators) op.behaviour = "honest";
    }
  });

  it("fails over to calldata when the operators cannot confirm, and derives the same chain from the mix", async () => {
    let calls = 0;
    let failedOver = 0;
    // Operators go offline for every other put: those frames go to L1 as calldata.
    const mixed = await run(async (txs) => {
      const offline = calls++ % 2 === 1;
      for (const op of stack.operators) op.behaviour = offline ? "offline" : "honest";
      try {
        return await postThroughDA(stack.client, txs, { failover: true, onFailover: () => failedOver++ });
      } finally {
        for (const op of stack.operators) op.behaviour = "honest";
      }
    });
    const posted = mixed.l1.blocks.flatMap((b) => b.transactions);
    expect(failedOver).to.be.greaterThan(0);
    expect(posted.filter((t) => txData(t)[0] === 0x00).length).to.equal(failedOver);
    expect(posted.some((t) => txData(t)[0] === ALT_DA_TX_DATA_VERSION)).to.equal(true);
    const derived = await deriveAll(cfg, mixed.genesis, mixed.l1.blocks, mixed.l1, { altDA: stack.source() });
    expect(derived.safeChain.slice(1).map((b) => b.hash)).to.deep.equal(mixed.sequencer.blocks.map((b) => b.ref.hash));
    // Without failover the batcher stops with the DA layer's 503.
    for (const op of stack.operators) op.behaviour = "offline";
    try {
      await expectCodeAsync(postThroughDA(stack.client, [{ da: "calldata", data: Uint8Array.of(0, 1, 2), channel: mixed.batcher.channels[0]! }]), DAServiceError, "da/unavailable");
    } finally {
      for (const op of stack.operators) op.behaviour = "honest";
    }
  });
});
