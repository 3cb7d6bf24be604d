// Ported from EigenDA's core/v2/assignment_test.go (test names kept), on mainnet blob version 0.
import { expect } from "chai";
import fc from "fast-check";
import { assignmentsForBlob, type OperatorStake } from "../../../lib/da/assignment.js";
import { MAINNET_BLOB_PARAMS as blobParams, chunkLength, reconstructionThreshold } from "../../../lib/da/blob-params.js";
import { LabError } from "../../../lib/errors.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";

const makeOperatorId = (i: number) => `0x${i.toString(16).padStart(64, "0")}`;
const quorum0 = (stakes: number[]): OperatorStake[] => stakes.map((s, i) => ({ id: makeOperatorId(i), stakes: new Map([[0, BigInt(s)]]) }));
/** GetReconstructionThresholdBips: the threshold in basis points, rounded up. */
const thresholdBips = Math.ceil(reconstructionThreshold(blobParams) * 10_000);

describe("chunk assignment (ported from EigenDA core/v2 assignment_test.go)", () => {
  it("TestChunkLength", () => {
    for (const [blobLength, expected] of [
      [512, 1],
      [1024, 1],
      [2048, 2],
      [4096, 4],
      [8192, 8],
    ]) {
      expect(chunkLength(blobLength!, blobParams), `blob length ${blobLength}`).to.equal(expected);
    }
  });

  it("TestInvalidChunkLength", () => {
    for (const length of [0, 3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 31, 63, 127, 255, 511, 1023]) {
      expectCode(() => chunkLength(length, blobParams), LabError, "da/blob-length-not-power-of-two");
    }
  });

  it("TestSingleOperator", () => {
    const assignments = assignmentsForBlob(quorum0([100]), blobParams, [0]);
    expect(assignments.size).to.equal(1);
    expect(assignments.get(makeOperatorId(0))!.length).to.equal(blobParams.numChunks / blobParams.codingRate);
  });

  it("TestValidatorSizes", () => {
    const cases = [
      { name: "Negligible Stake", operatorStake: 1, otherStake: 1_000_000, expectedNumChunks: 1 },
      { name: "Exactly Threshold Stake", operatorStake: thresholdBips, otherStake: 10_000 - thresholdBips, expectedNumChunks: blobParams.numChunks / blobParams.codingRate },
      { name: "Double Threshold Stake", operatorStake: thresholdBips * 2, otherStake: 10_000 - thresholdBips * 2, expectedNumChunks: blobParams.numChunks / blobParams.codingRate },
    ];
    for (const tc of cases) {
      const indices = assignmentsForBlob(quorum0([tc.operatorStake, tc.otherStake]), blobParams, [0]).get(makeOperatorId(0))!;
      expect(indices.length, tc.name).to.equal(tc.expectedNumChunks);
      expect(new Set(indices).size, `${tc.name}: unique indices`).to.equal(indices.length);
      for (const i of indices) expect(i, tc.name).to.be.lessThan(blobParams.numChunks);
    }
  });

  it("TestDeterministicAssignment", () => {
    const ops = quorum0([5, 9, 2, 7]);
    const twoQuorums = ops.map((o, i) => ({ ...o, stakes: new Map([...o.stakes, [1, BigInt(10 - i)]]) }));
    const a1 = assignmentsForBlob(ops, blobParams, [0]).get(makeOperatorId(0));
    expect(assignmentsForBlob(ops, blobParams, [0]).get(makeOperatorId(0))).to.deep.equal(a1);
    expect(assignmentsForBlob(ops, blobParams, [0]).get(makeOperatorId(1))).to.not.deep.equal(a1);
    expect(assignmentsForBlob(twoQuorums, blobParams, [0, 1]).get(makeOperatorId(0))).to.not.deep.equal(a1);
  });

  it("FuzzOperatorAssignmentsV2", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 400 }), fc.integer(), (stakes, seed) => {
        const ops = quorum0(stakes);
        const assignments = assignmentsForBlob(ops, blobParams, [0]);
        if (ops.length > 20) {
          const total = [...assignments.values()].reduce((a, x) => a + x.length, 0);
          expect(total).to.be.at.least(blobParams.numChunks - blobParams.maxNumOperators);
        }
        // A random collection of operators whose stake reaches the threshold holds enough chunks.
        const totalStake = stakes.reduce((a, s) => a + s, 0);
        const order = rng(seed).shuffle(ops.map((_, i) => i));
        const unique = new Set<number>();
        let stake = 0;
        for (const i of order) {
          for (const c of assignments.get(makeOperatorId(i))!) unique.add(c);
          stake += stakes[i]!;
          if (stake * 10_000 >= totalStake * thresholdBips) break;
        }
        expect(unique.size).to.be.at.least(blobParams.numChunks / blobParams.codingRate);
      }),
      { numRuns: 60, seed: 42 },
    );
  });
});
