import { expect } from "chai";
import type { Contract } from "ethers";
import fc from "fast-check";
import { network } from "hardhat";
import { buildRewardTree, type RewardTree } from "../../lib/attribution/payouts.js";
import { deployEconomics, registerDatanet } from "./contract-fixtures.js";

const { ethers, networkHelpers } = await network.create();

const SEQUENCES = Number(process.env.INVARIANT_SEQUENCES ?? 1000);
const STAKE = 1000n;
const WINDOW = 50;
const DATA_BPS = 5000n;
const REPORTER_BPS = 1000n;

/** The economics wired as the loop wires them: fees and slashed stakes fund the distributor's pool. */
async function deploy() {
  const signers = await ethers.getSigners();
  const [admin, customer, owner0, owner1, c0, c1, c2, attacker] = signers as [NonNullable<(typeof signers)[0]>, ...NonNullable<(typeof signers)[0]>[]];
  const contributors = [c0!, c1!, c2!];
  const { distributor, receipts, datanets, stakes } = await deployEconomics(ethers, admin.address, {
    dataBps: DATA_BPS,
    minStake: STAKE,
    window: WINDOW,
    reporterBps: REPORTER_BPS,
    attesters: [admin.address],
  });
  const { tree, id: datanetId } = await registerDatanet(datanets, {
    name: "net",
    leaves: contributors.map((c, i) => [i, c.address, ethers.id(`sample ${i}`)]),
    manifestHash: ethers.ZeroHash,
    contributors: contributors.map((c) => c.address),
    samples: [1n, 1n, 1n],
  });
  const owners = [owner0!, owner1!];
  const modelKeys: string[] = [];
  for (const [i, o] of owners.entries()) {
    await (receipts.connect(o) as Contract).registerModel(ethers.id(`model ${i}`), BigInt(3 + 4 * i));
    modelKeys.push(await receipts.modelKeyOf(o.address, ethers.id(`model ${i}`)));
  }
  return { admin, customer: customer!, attacker: attacker!, owners, contributors, distributor, receipts, datanets, stakes, tree, datanetId, modelKeys };
}
type World = Awaited<ReturnType<typeof deploy>>;

type Action =
  | { kind: "pay"; model: number; tokens: number; underpay: boolean }
  | { kind: "withdrawOwner"; owner: number }
  | { kind: "openEpoch"; percent: number; weights: number[] }
  | { kind: "claim"; epoch: number; who: number; extra: number }
  | { kind: "stake"; who: number }
  | { kind: "evidence"; who: number }
  | { kind: "challenge"; at: number; byAccused: boolean }
  | { kind: "wait"; seconds: number }
  | { kind: "slash"; at: number }
  | { kind: "decide"; at: number; upheld: boolean }
  | { kind: "withdrawReward" };

const who = fc.integer({ min: 0, max: 2 });
const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant("pay" as const), model: fc.integer({ min: 0, max: 1 }), tokens: fc.integer({ min: 1, max: 400 }), underpay: fc.boolean() }),
  fc.record({ kind: fc.constant("withdrawOwner" as const), owner: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant("openEpoch" as const), percent: fc.integer({ min: 1, max: 120 }), weights: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 3, maxLength: 3 }) }),
  fc.record({ kind: fc.constant("claim" as const), epoch: fc.integer({ min: 0, max: 3 }), who, extra: fc.constantFrom(0, 0, 0, 1) }),
  fc.record({ kind: fc.constant("stake" as const), who }),
  fc.record({ kind: fc.constant("evidence" as const), who }),
  fc.record({ kind: fc.constant("challenge" as const), at: fc.integer({ min: 0, max: 3 }), byAccused: fc.boolean() }),
  fc.record({ kind: fc.constant("wait" as const), seconds: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ kind: fc.constant("slash" as const), at: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant("decide" as const), at: fc.integer({ min: 0, max: 3 }), upheld: fc.boolean() }),
  fc.constant({ kind: "withdrawReward" as const }),
);

/** What the chain must agree with, kept beside it from what was sent and what succeeded. */
interface Ledger {
  funded: bigint;
  claimed: bigint;
  paidLeaves: Set<string>;
  epochs: RewardTree[];
  ownerCredited: bigint;
  ownerWithdrawn: bigint;
  calls: number;
}

async function attempt(p: Promise<{ wait(): Promise<unknown> }>): Promise<{ ok: boolean; receipt?: { blockNumber: number; logs: unknown[] } }> {
  try {
    const tx = await p;
    return { ok: true, receipt: (await tx.wait()) as { blockNumber: number; logs: unknown[] } };
  } catch {
    return { ok: false };
  }
}

async function step(w: World, l: Ledger, a: Action): Promise<void> {
  l.calls += 1;
  const { distributor, receipts, stakes } = w;
  switch (a.kind) {
    case "pay": {
      const fee = await receipts.feeOf(w.modelKeys[a.model], a.tokens, 0);
      const r = await attempt((receipts.connect(w.customer) as Contract).recordInference(w.modelKeys[a.model], ethers.ZeroHash, ethers.ZeroHash, a.tokens, 0, { value: a.underpay ? fee - 1n : fee }));
      expect(r.ok, "a fee is accepted exactly when paid in full").to.equal(!a.underpay);
      if (r.ok) {
        const data = (fee * DATA_BPS) / 10_000n;
        l.funded += data;
        l.ownerCredited += fee - data;
      }
      return;
    }
    case "withdrawOwner": {
      const due: bigint = await receipts.owed(w.owners[a.owner]!.address);
      const r = await attempt((receipts.connect(w.owners[a.owner]!) as Contract).withdraw());
      expect(r.ok).to.equal(due > 0n);
      if (r.ok) l.ownerWithdrawn += due;
      return;
    }
    case "openEpoch": {
      const pool: bigint = await distributor.rewardPool();
      const total = (pool * BigInt(a.percent)) / 100n;
      const weights = a.weights.map(BigInt);
      const sum = weights.reduce((x, y) => x + y, 0n);
      if (total === 0n || sum === 0n) return;
      const amounts = new Map<string, bigint>();
      let left = total;
      w.contributors.forEach((c, i) => {
        const v = i === 2 ? left : (total * weights[i]!) / sum;
        left -= v;
        if (v > 0n) amounts.set(c.address, v);
      });
      if (amounts.size === 0) return;
      const t = buildRewardTree(amounts);
      const r = await attempt(distributor.createEpochFromPool(t.root, t.total, ethers.ZeroHash));
      expect(r.ok, "an epoch opens exactly when the pool holds its total").to.equal(t.total <= pool);
      if (r.ok) l.epochs.push(t);
      return;
    }
    case "claim": {
      const t = l.epochs[a.epoch];
      const account = w.contributors[a.who]!.address;
      const leaf = t && [...t.tree.entries()].find(([, v]) => v[0] === account);
      if (!t || !leaf) return;
      const { amount: due, proof } = t.proofOf(account);
      const amount = due + BigInt(a.extra);
      const r = await attempt((distributor.connect(w.attacker) as Contract).claim(a.epoch, account, amount, proof));
      const key = `${a.epoch}:${account}`;
      expect(r.ok, "a leaf pays once, and only its own amount").to.equal(a.extra === 0 && !l.paidLeaves.has(key));
      if (r.ok) {
        l.paidLeaves.add(key);
        l.claimed += amount;
      }
      return;
    }
    case "stake": {
      const c = w.contributors[a.who]!;
      const [index, leaf] = [...w.tree.entries()].find(([, v]) => v[1] === c.address)!;
      await attempt((stakes.connect(c) as Contract).stake(w.datanetId, leaf[0], leaf[2], w.tree.getProof(index), { value: STAKE }));
      return;
    }
    case "evidence":
      await attempt(stakes.fileEvidence(w.datanetId, w.contributors[a.who]!.address, ethers.id("evidence")));
      return;
    case "challenge": {
      if (a.at >= Number(await stakes.caseCount())) return;
      const c = await stakes.caseOf(a.at);
      const caller = a.byAccused ? w.contributors.find((x) => x.address === c.contributor)! : w.attacker;
      await attempt((stakes.connect(caller) as Contract).challenge(a.at, ethers.id("answer")));
      return;
    }
    case "wait":
      await networkHelpers.time.increase(a.seconds);
      return;
    case "slash": {
      if (a.at >= Number(await stakes.caseCount())) return;
      const before = await stakes.caseOf(a.at);
      const r = await attempt((stakes.connect(w.attacker) as Contract).slash(a.at));
      if (r.ok) {
        const block = await ethers.provider.getBlock(r.receipt!.blockNumber);
        expect(BigInt(block!.timestamp) > before.deadline, "no slash without an expired window").to.equal(true);
        expect(before.status, "only an unchallenged case is slashed by anyone").to.equal(1n);
        const slashed: bigint = (await stakes.caseOf(a.at)).slashed;
        l.funded += slashed - (slashed * REPORTER_BPS) / 10_000n;
      }
      return;
    }
    case "decide": {
      if (a.at >= Number(await stakes.caseCount())) return;
      const r = await attempt(stakes.decide(a.at, a.upheld, ethers.id("reasons")));
      if (r.ok && a.upheld) {
        const slashed: bigint = (await stakes.caseOf(a.at)).slashed;
        l.funded += slashed - (slashed * REPORTER_BPS) / 10_000n;
      }
      return;
    }
    case "withdrawReward":
      await attempt(stakes.withdrawReward());
      return;
  }
}

async function checkInvariants(w: World, l: Ledger): Promise<void> {
  const { distributor, receipts, stakes } = w;
  const balance = (c: Contract) => ethers.provider.getBalance(c.target as string);
  // total paid out <= total funded; what is neither paid nor allocated sits in the pool
  expect(l.claimed <= l.funded, "total paid out <= total funded").to.equal(true);
  let unclaimed = 0n;
  for (let e = 0; e < l.epochs.length; e++) {
    const ep = await distributor.epoch(e);
    unclaimed += (ep.total as bigint) - (ep.claimed as bigint);
  }
  const pool: bigint = await distributor.rewardPool();
  // the data shares (and slashed stakes) received and not yet claimed = the pool plus every epoch's unclaimed rest = the balance
  expect(pool + unclaimed, "data shares not yet claimed").to.equal(l.funded - l.claimed);
  expect(await balance(distributor)).to.equal(pool + unclaimed);
  // owners' balances owed = their shares of the fees not yet withdrawn = what the contract holds
  const owed: bigint = await receipts.totalOwed();
  expect(owed).to.equal(l.ownerCredited - l.ownerWithdrawn);
  expect(await balance(receipts)).to.equal(owed);
  // stakes and reporters' shares are exactly what DataStakes holds
  expect(await balance(stakes)).to.equal((await stakes.totalStaked()) + (await stakes.totalOwed()));
}

describe("Invariants of the economics under random call sequences", function () {
  this.timeout(600_000);

  it(`holds after every step of ${SEQUENCES} random sequences of real contract calls`, async () => {
    let sequences = 0;
    let calls = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 8 }), async (actions) => {
        const w = await networkHelpers.loadFixture(deploy);
        const l: Ledger = { funded: 0n, claimed: 0n, paidLeaves: new Set(), epochs: [], ownerCredited: 0n, ownerWithdrawn: 0n, calls: 0 };
        for (const a of actions) {
          await step(w, l, a);
          await checkInvariants(w, l);
        }
        sequences += 1;
        calls += l.calls;
      }),
      { numRuns: SEQUENCES, seed: 21 },
    );
    console.log(`      ${sequences} sequences, ${calls} steps, invariants checked after each`);
    expect(sequences).to.equal(SEQUENCES);
  });
});
