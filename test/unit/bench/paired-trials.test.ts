import { expect } from "chai";
import { abbaOrder, armMedian, type PairedTrials, pairRatios, runPaired, summarizeRatios } from "../../../lib/bench/paired-trials.js";

describe("paired trials: the thread ratios of ./lab bench platform", () => {
  it("interleaves the two arms in ABBA order, each pair once of each arm", () => {
    expect(abbaOrder(3).map((s) => `${s.pair}${"AB"[s.arm]}`)).to.deep.equal(["0A", "0B", "1B", "1A", "2A", "2B"]);
    expect(abbaOrder(1)).to.deep.equal([
      { pair: 0, arm: 0 },
      { pair: 0, arm: 1 },
    ]);
  });

  for (const pairs of [0, -1, 1.5, Number.NaN]) {
    it(`refuses ${pairs} pairs`, () => {
      expect(() => abbaOrder(pairs)).to.throw(RangeError);
    });
  }

  it("runs the trials in that order and files each under its pair and arm", async () => {
    const ran: string[] = [];
    const paired = await runPaired(2, async (arm, slot) => {
      ran.push(`${slot.pair}${"AB"[arm]}`);
      return 10 * slot.pair + arm;
    });
    expect(ran).to.deep.equal(["0A", "0B", "1B", "1A"]);
    expect(paired.map(([a, b]) => [a.value, b.value])).to.deep.equal([
      [0, 1],
      [10, 11],
    ]);
    for (const [a, b] of paired) {
      expect([a.arm, b.arm]).to.deep.equal([0, 1]);
      for (const t of [a, b]) expect(t.loadBefore).to.be.a("number").and.at.least(0);
    }
  });

  const trials = (values: Array<[number, number]>): PairedTrials<{ rate?: number }> =>
    values.map(([x, y], pair) => [
      { pair, arm: 0, loadBefore: 1, loadAfter: 1, value: { rate: x } },
      { pair, arm: 1, loadBefore: 1, loadAfter: 1, value: { rate: y } },
    ]);

  it("takes the ratio B / A within each pair, not of the arms' medians", () => {
    const paired = trials([
      [10, 20],
      [5, 9],
      [20, 22],
    ]);
    expect(pairRatios(paired, (v) => v.rate)).to.deep.equal([2, 1.8, 1.1]);
    // the arms' medians (10 and 20) would give 2.0: the pairs' median is 1.8
    expect(armMedian(paired, 0, (v) => v.rate)).to.equal(10);
    expect(armMedian(paired, 1, (v) => v.rate)).to.equal(20);
    expect(summarizeRatios(pairRatios(paired, (v) => v.rate)).median).to.equal(1.8);
  });

  it("gives NaN for a pair missing a figure, and the summary leaves it out", () => {
    const paired: PairedTrials<{ rate?: number }> = trials([
      [10, 20],
      [4, 6],
    ]);
    paired[1][1].value = {};
    const ratios = pairRatios(paired, (v) => v.rate);
    expect(ratios[0]).to.equal(2);
    expect(ratios[1]).to.be.NaN;
    expect(summarizeRatios(ratios)).to.deep.equal({ median: 2, q1: 2, q3: 2, min: 2, max: 2, pairs: 1 });
  });

  it("summarises with the median, quartiles (linear interpolation), extremes and the pairs counted", () => {
    expect(summarizeRatios([1.9, 0.5, 1.7, 1.6, 1.8])).to.deep.equal({ median: 1.7, q1: 1.6, q3: 1.8, min: 0.5, max: 1.9, pairs: 5 });
    const even = summarizeRatios([1, 2, 3, 4]);
    expect(even.median).to.equal(2.5);
    expect(even.q1).to.equal(1.75);
    expect(even.q3).to.equal(3.25);
    expect(summarizeRatios([]).pairs).to.equal(0);
    expect(summarizeRatios([]).median).to.be.NaN;
  });
});
