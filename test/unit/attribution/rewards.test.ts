import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { expect } from "chai";
import { getAddress } from "ethers";
import fc from "fast-check";
import { aggregate, contributorWeight, type Provenance, topContributor } from "../../../lib/attribution/aggregation.js";
import { AttributionError, NothingToPayError } from "../../../lib/attribution/errors.js";
import { allocate, buildRewardTree, computePayouts, loadFeeSplit, splitFee } from "../../../lib/attribution/payouts.js";
import { expectCode } from "../expect-code.js";

const A = getAddress("0x00000000000000000000000000000000000000a1");
const B = getAddress("0x00000000000000000000000000000000000000b2");
const C = getAddress("0x00000000000000000000000000000000000000c3");
const prov: Provenance = {
  datanets: ["shoes", "tops", "bags"],
  contributors: [A, B, C],
  datanetOf: Int32Array.from([0, 0, 1, 1, 2, 2]),
  contributorOf: Int32Array.from([0, 1, 1, 2, 2, 2]),
};

describe("attribution: aggregation and rewards", () => {
  it("datanet weights are shares of positive influence; negative datanets get nothing and are reported", () => {
    const agg = aggregate([3, 1, 2, -1, -4, 1], prov);
    expect(agg.datanets.map((d) => d.influence)).to.deep.equal([4, 1, -3]);
    expect(agg.datanets.map((d) => d.weight)).to.deep.equal([0.8, 0.2, 0]);
    expect(agg.negative.datanets).to.deep.equal(["bags"]);
    // inside "tops": B +2 (paid the whole datanet share), C −1 (reported)
    const w = Object.fromEntries(agg.contributors.map((c) => [`${c.name}@${c.datanet}`, c.weight]));
    expect(w[`${A}@shoes`]).to.be.closeTo(0.6, 1e-15);
    expect(w[`${B}@shoes`]).to.be.closeTo(0.2, 1e-15);
    expect(w[`${B}@tops`]).to.be.closeTo(0.2, 1e-15);
    expect(w[`${C}@tops`]).to.equal(0);
    expect(agg.negative.contributors).to.deep.include({ contributor: C, datanet: "tops" });
    expect(topContributor(agg)).to.include({ name: A, datanet: "shoes" });
    expect(contributorWeight(agg, B.toLowerCase())).to.be.closeTo(0.4, 1e-15);
    expect(contributorWeight(agg, getAddress("0x00000000000000000000000000000000000000d4"))).to.equal(0);
    expectCode(() => topContributor({ contributors: [] }), AttributionError, "aggregation/no-contributors");
  });

  it("flagged examples are left out of every sum and listed", () => {
    const agg = aggregate([3, 1, 2, -1, -4, 1], { ...prov, flagged: new Set([0]) });
    expect(agg.flagged).to.deep.equal([0]);
    expect(agg.datanets[0].influence).to.equal(1);
  });

  it("payouts sum to the pool to the wei and merge one address across datanets", () => {
    const p = computePayouts(aggregate([3, 1, 2, -1, -4, 1], prov), 1_000_000_000_000_000_007n);
    const sum = [...p.amounts.values()].reduce((a, b) => a + b, 0n);
    expect(sum).to.equal(1_000_000_000_000_000_007n);
    expect(p.amounts.size).to.equal(2);
    expect(p.amounts.has(C)).to.equal(false);
    expect(Number(p.amounts.get(A)!) / 1e18).to.be.closeTo(0.6, 1e-12);
    const tree = buildRewardTree(p.amounts);
    const { amount, proof } = tree.proofOf(A);
    expect(StandardMerkleTree.verify(tree.root, ["address", "uint256"], [A, amount], proof)).to.equal(true);
    expectCode(() => tree.proofOf(C), AttributionError, "rewards/no-leaf", { account: C });
  });

  it("an all-negative or empty influence set pays nothing and says why", () => {
    expect(expectCode(() => computePayouts(aggregate([-1, -2, -3, -1, -4, -1], prov), 100n), NothingToPayError, "rewards/no-positive-influence").fields.contributors).to.be.greaterThan(0);
    const allFlagged = { ...prov, flagged: new Set([0, 1, 2, 3, 4, 5]) };
    expectCode(() => computePayouts(aggregate([1, 1, 1, 1, 1, 1], allFlagged), 100n), NothingToPayError, "rewards/no-positive-influence", { contributors: 0, flagged: 6 });
  });

  it("allocations always sum to the pool (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -5, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.bigInt({ min: 0n, max: 10n ** 30n }), (w, pool) => {
        const out = allocate(pool, w);
        const positive = w.some((x) => x > 0);
        expect(out.reduce((a, b) => a + b, 0n)).to.equal(positive ? pool : 0n);
        for (const [i, x] of w.entries()) {
          if (x <= 0) expect(out[i]).to.equal(0n);
        }
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("the fee split comes from configuration and its parts sum to the fee", () => {
    const split = loadFeeSplit();
    const parts = splitFee(1_000_003n, split);
    expect(parts.platform + parts.modelOwner + parts.stakers + parts.data).to.equal(1_000_003n);
    expectCode(() => splitFee(1n, { ...split, dataBps: split.dataBps + 1 }), AttributionError, "rewards/bad-fee-split", { dataBps: split.dataBps + 1 });
  });
});
