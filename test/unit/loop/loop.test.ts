// The loop's orchestration on the Ledger layer's real chains: datanets, a model, paid inferences,
// attribution records, reward epochs and claims sent as L2 transactions, batched to L1, derived on
// a fresh L2 and settled by output roots. The attributions are fixed aggregates here (the loop's
// money and proofs are under test, not the influence method; that has its own tests).
import { expect } from "chai";
import { getAddress, keccak256, toUtf8Bytes, type Wallet } from "ethers";
import type { Aggregate } from "../../../lib/attribution/aggregation.js";
import type { FeeSplit } from "../../../lib/attribution/payouts.js";
import { contractAddress } from "../../../lib/chain/contracts.js";
import * as da from "../../../lib/da/index.js";
import { LabError } from "../../../lib/errors.js";
import { buildDatanet, exampleDatanetPlan } from "../../../lib/intelligence/datanets.js";
import { LoopError } from "../../../lib/loop/errors.js";
import { L2Ledger } from "../../../lib/loop/l2.js";
import { checkRewardBook, claimsOf, rewardBook } from "../../../lib/loop/reward-book.js";
import {
  claimedEvents,
  claimRewards,
  deployLoopContracts,
  payFees,
  recordAttributions,
  registerDatanets,
  registerModels,
  sampleProof,
  splitFees,
  tryClaim,
  verifySampleOnChain,
} from "../../../lib/loop/steps.js";
import { expectCode, expectCodeAsync } from "../expect-code.js";

const SPLIT: FeeSplit = { platformBps: 1000, modelOwnerBps: 3000, stakersBps: 1000, dataBps: 5000 };
const id = (s: string) => keccak256(toUtf8Bytes(s));

/** An aggregate paying `weights` to `addresses` (weights ≤ 0 earn nothing). */
function fixedAggregate(addresses: string[], weights: number[]): Aggregate {
  const positive = weights.reduce((a, w) => a + Math.max(w, 0), 0);
  return {
    datanets: [{ name: "d", influence: positive, weight: 1 }],
    contributors: addresses.map((a, i) => ({ name: a, influence: weights[i]!, weight: weights[i]! > 0 ? weights[i]! / positive : 0, datanet: "d" })),
    negative: { datanets: [], contributors: addresses.filter((_, i) => weights[i]! <= 0).map((contributor) => ({ contributor, datanet: "d" })) },
    flagged: [],
    totalPositive: positive,
  };
}

describe("the loop's rewards book", () => {
  const addrs = [1, 2, 3].map((i) => getAddress(`0x${String(i).repeat(40)}`));

  it("pays each inference's data share exactly, over fees that do not divide evenly", () => {
    const book = rewardBook(
      [
        { inferenceId: id("a"), fee: 1_000_000_000_000_000_007n, aggregate: fixedAggregate(addrs, [0.5, 0.3, -0.2]) },
        { inferenceId: id("b"), fee: 333_333_333_333_333_333n, aggregate: fixedAggregate(addrs, [1, 1, 1]) },
      ],
      SPLIT,
    );
    let owed = 0n;
    for (const v of book.owed.values()) owed += v;
    expect(owed).to.equal(book.totals.data);
    expect(book.totals.platform + book.totals.modelOwner + book.totals.stakers + book.totals.data).to.equal(book.totals.fees);
    expect(book.inferences[0]!.payouts.amounts.has(addrs[2]!)).to.equal(false);
    expect(claimsOf(book, [0n, 1n])).to.have.length(5);
  });

  it("refuses a book whose tree no longer commits to its data share", () => {
    const book = rewardBook([{ inferenceId: id("a"), fee: 10n ** 18n, aggregate: fixedAggregate(addrs, [1, 2, 3]) }], SPLIT);
    book.inferences[0]!.parts.data -= 1n;
    book.inferences[0]!.parts.platform += 1n;
    expectCode(() => checkRewardBook(book), LoopError, "loop/tree-total");
  });

  it("refuses an inference paid twice", () => {
    const agg = fixedAggregate(addrs, [1, 1, 1]);
    expectCode(
      () =>
        rewardBook(
          [
            { inferenceId: id("a"), fee: 100n, aggregate: agg },
            { inferenceId: id("a"), fee: 100n, aggregate: agg },
          ],
          SPLIT,
        ),
      LoopError,
      "loop/duplicate-inference",
      { inferenceId: id("a") },
    );
  });
});

describe("the loop on the Ledger's L2", function () {
  this.timeout(300_000);

  it("registers, pays, records, claims on L2; derivation rebuilds it; outputs finalize on L1", async () => {
    const l2 = await L2Ledger.open({ seed: 5, batcher: { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 6_000 } });
    try {
      const operator = l2.wallet(0);
      const datanet = buildDatanet(exampleDatanetPlan("fmnist-low-contrast", { shift: "low-contrast", scale: 0.01 }));
      const byAddress = new Map<string, Wallet>();
      for (let i = 0; i < 20; i++) byAddress.set(l2.wallet(i).address, l2.wallet(i));
      const walletOf = (a: string) => byAddress.get(getAddress(a))!;

      const { contracts: c } = await deployLoopContracts(l2, operator);
      await registerDatanets(l2, c, [datanet], walletOf);
      expect(await c.datanets.exists(datanet.id)).to.equal(true);
      const proof = sampleProof(datanet, 3);
      expect(await verifySampleOnChain(c, datanet.id, proof)).to.equal(true);
      expect(await verifySampleOnChain(c, datanet.id, { ...proof, index: 4 })).to.equal(false);
      const { modelIds } = await registerModels(l2, c, l2.wallet(8), [
        { name: "m", baseSha256: id("base"), adapterSha256: id("adapter"), specSha256: id("spec"), metricsSha256: id("metrics"), datanetIds: [datanet.id] },
      ]);

      const contributors = datanet.contributors.map((x) => getAddress(x.address));
      const inferences = [0, 1, 2].map((k) => ({
        inferenceId: id(`inference ${k}`),
        fee: 10n ** 17n + BigInt(k),
        aggregate: fixedAggregate(
          contributors,
          contributors.map((_, i) => ((i + k) % 4 === 0 ? -1 : i + 1)),
        ),
      }));
      await payFees(
        l2,
        operator,
        inferences.map((inf, k) => ({ customer: l2.wallet(10 + k), inferenceId: inf.inferenceId, fee: inf.fee })),
      );
      const book = rewardBook(inferences, SPLIT);
      const [ownerBefore] = await l2.balances([l2.wallet(8).address]);
      await splitFees(l2, operator, book, l2.wallet(8).address, l2.wallet(9).address);
      const [ownerAfter] = await l2.balances([l2.wallet(8).address]);
      expect(ownerAfter! - ownerBefore!).to.equal(book.totals.modelOwner);

      const records = inferences.map((inf) => ({
        inferenceId: inf.inferenceId,
        modelId: modelIds[0]!,
        adapterId: id("adapter"),
        inputHash: id("in"),
        outputHash: id("out"),
        method: "fixed",
        evidenceHash: id("evidence"),
      }));
      const { epochIds } = await recordAttributions(l2, c, operator, book, records);
      const claims = claimsOf(book, epochIds);

      // a changed amount does not verify against the epoch's root
      const wrong = { ...claims[0]!, amount: claims[0]!.amount + 1n };
      expect(await tryClaim(l2, c, walletOf(wrong.account), wrong)).to.equal("InvalidProof");

      const before = await l2.balances(contributors);
      const claimBlock = await claimRewards(l2, c, claims, walletOf);
      const after = await l2.balances(contributors);
      const events = claimedEvents(c, claimBlock);
      expect(events).to.have.length(claims.length);
      expect(events.reduce((a, e) => a + e.amount, 0n)).to.equal(book.totals.data);
      contributors.forEach((a, i) => {
        const gas = claimBlock.calls.filter((k) => k.from === a).reduce((s, k) => s + k.feePaid, 0n);
        expect(after[i]! - before[i]! + gas, a).to.equal(book.owed.get(a) ?? 0n);
      });
      // a second claim of the same leaf is refused
      expect(await tryClaim(l2, c, walletOf(claims[0]!.account), claims[0]!)).to.equal("AlreadyClaimed");

      await l2.padTo(4);
      const d = await l2.finish();
      expect(d.identicalBlocks).to.equal(l2.sequencer.unsafeHead.number);
      expect(d.pipeline.safeHead.number).to.equal(l2.sequencer.unsafeHead.number);
      const settled = await l2.settleOutputs(4);
      expect(settled.challengedIndex).to.equal(undefined);
      expect(settled.finalized.every(Boolean)).to.equal(true);
      const last = settled.proposals[settled.proposals.length - 1]!;
      expect(last.l2BlockNumber).to.equal(l2.sequencer.unsafeHead.number);
      expect((await l2.derivedOutput(last.l2BlockNumber)).outputRoot).to.equal(last.outputRoot);
    } finally {
      await l2.close();
    }
  });

  it("posts through the DA layer set up on its L1: certificates on L1, derivation resolves them to the same L2", async () => {
    const l2 = await L2Ledger.open({ seed: 8, batcher: { batchType: 1, compression: "brotli", da: "calldata", maxChannelInputBytes: 4_000, maxCalldataFrameSize: 100_000 } });
    try {
      const stack = await l2.setUpOnL1((l1) => da.startDAStack({ seed: 8, chain: l1, operators: 4 }));
      let source: da.AltDASource | undefined;
      l2.useAltDA({ post: (txs) => da.postThroughDA(stack.client, txs), resolver: () => (source = stack.source()) });
      try {
        const { contracts: c } = await deployLoopContracts(l2, l2.wallet(0));
        const datanet = buildDatanet(exampleDatanetPlan("fmnist-low-contrast", { shift: "low-contrast", scale: 0.01 }));
        await registerDatanets(l2, c, [datanet], (a) => l2.walletOf(a));
        const d = await l2.finish();
        expect(d.identicalBlocks).to.equal(l2.sequencer.unsafeHead.number);
        const txs = l2.posted.flatMap((p) => p.txs);
        expect(txs.length).to.be.greaterThan(0);
        for (const t of txs) {
          const tx = await l2.l1.send("eth_getTransactionByHash", [t.hash]);
          const data = Uint8Array.from(Buffer.from(tx.input.slice(2), "hex"));
          expect(data[0]).to.equal(da.ALT_DA_TX_DATA_VERSION);
          // The commitment carries the certificate in RLP, as eigenda-proxy serves it; checkDACert takes its ABI form.
          expect(await stack.checkCert(da.encodeCert(da.decodeCertRlp(da.parseGenericCommitment(data.subarray(1)).cert)))).to.equal(da.CERT_STATUS.SUCCESS);
        }
        expect(source!.stats.fetched).to.equal(txs.length);
        const onDerived = l2.contract("DatanetRegistry", contractAddress(c.datanets), d.chain.provider);
        expect(await onDerived.exists(datanet.id)).to.equal(true);
      } finally {
        await stack.close();
      }
    } finally {
      await l2.close();
    }
  });

  it("stamps the L1 blocks of a set-up from the chain, not the wall clock: a slower set-up gives the same L1 head", async () => {
    const heads: string[] = [];
    for (const pause of [0, 2000]) {
      const l2 = await L2Ledger.open({ seed: 4, batcher: { batchType: 1, compression: "zlib", da: "calldata", maxChannelInputBytes: 1_000_000 } });
      try {
        const stack = await l2.setUpOnL1(async (l1) => {
          await new Promise((r) => setTimeout(r, pause));
          return da.startDAStack({ seed: 8, chain: l1, operators: 4 });
        });
        await stack.close();
        heads.push(l2.l1Head.hash);
      } finally {
        await l2.close();
      }
    }
    expect(heads[1]).to.equal(heads[0]);
  });

  it("takes alt-DA and L1 set-up only before the first L2 block, and alt-DA only over calldata", async () => {
    const blobs = await L2Ledger.open({ seed: 9, batcher: { batchType: 1, compression: "zlib", da: "blobs", maxChannelInputBytes: 1_000_000 } });
    try {
      const none = { post: async () => [], resolver: () => ({ resolve: async (d: Uint8Array) => d }) };
      expectCode(() => blobs.useAltDA(none), LabError, "loop/alt-da-needs-calldata");
      await deployLoopContracts(blobs, blobs.wallet(0));
      await expectCodeAsync(
        blobs.setUpOnL1(async () => 1),
        LoopError,
        "loop/l1-setup-late",
        { l2Head: 2 },
      );
    } finally {
      await blobs.close();
    }
  });

  it("refuses a step whose call reverts, naming the call", async () => {
    const l2 = await L2Ledger.open({ seed: 6, batcher: { batchType: 1, compression: "zlib", da: "calldata", maxChannelInputBytes: 6_000 } });
    try {
      const { contracts: c } = await deployLoopContracts(l2, l2.wallet(0));
      await expectCodeAsync(
        l2.send("bad claim", [
          { label: "a payment first", from: l2.wallet(1), to: l2.wallet(3).address, value: 1n },
          l2.call("claim an unknown epoch", l2.wallet(1), c.distributor, "claim", [7n, l2.wallet(1).address, 1n, []]),
        ]),
        LoopError,
        "loop/call-reverts",
        { label: "claim an unknown epoch" },
      );
      // the refused step sent nothing: the same signer's next step goes through
      const ok = await l2.send("a payment", [{ label: "pay", from: l2.wallet(1), to: l2.wallet(2).address, value: 1n }]);
      expect(ok.calls[0]!.receipt.status).to.equal(1);
    } finally {
      await l2.close();
    }
  });
});
