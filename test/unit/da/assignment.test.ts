// Ported from EigenDA's core/v2/assignment_test.go (test names kept), on mainnet blob version 0.
import { expect } from "chai";
import fc from "fast-check";
import { addAssignmentsForQuorum, assignmentForBlob, assignmentsForBlob, assignmentsForQuorum, type OperatorStake } from "../../../lib/da/assignment.js";
import { MAINNET_BLOB_PARAMS as blobParams, chunkLength, reconstructionThreshold } from "../../../lib/da/blob-params.js";
import { DAConfigError } from "../../../lib/da/errors.js";
import { LabError } from "../../../lib/errors.js";
import { rng } from "../../../lib/random.js";
import { expectCode } from "../expect-code.js";

/** mock.MakeOperatorId: the number little-endian in the id's first 8 bytes (so 1 sorts after 256). */
const makeOperatorId = (i: number) => {
  const id = new Uint8Array(32);
  new DataView(id.buffer).setBigUint64(0, BigInt(i), true);
  return `0x${Buffer.from(id).toString("hex")}`;
};
const quorum0 = (stakes: number[]): OperatorStake[] => stakes.map((s, i) => ({ id: makeOperatorId(i), stakes: new Map([[0, BigInt(s)]]) }));
/** mock.NewChainDataMock's stakes: quorum -> operator number -> stake. */
const fromStakes = (byQuorum: Record<number, Record<number, number>>): OperatorStake[] => {
  const ops = new Map<number, Map<number, bigint>>();
  for (const [q, members] of Object.entries(byQuorum)) {
    for (const [i, stake] of Object.entries(members)) {
      const m = ops.get(Number(i)) ?? new Map<number, bigint>();
      m.set(Number(q), BigInt(stake));
      ops.set(Number(i), m);
    }
  }
  return [...ops].map(([i, stakes]) => ({ id: makeOperatorId(i), stakes }));
};
const twoQuorumStakes = {
  0: { 0: 1, 1: 10, 2: 1, 3: 1, 4: 3 },
  1: { 0: 2, 1: 1, 2: 10, 3: 1 },
};
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

  it("TestNonExistentQuorum", () => {
    expectCode(() => assignmentsForBlob(fromStakes(twoQuorumStakes), blobParams, [99]), DAConfigError, "da/no-operators-in-quorum", { quorum: 99 });
  });

  it("TestNonExistentOperator", () => {
    expectCode(() => assignmentForBlob(fromStakes(twoQuorumStakes), blobParams, [0], makeOperatorId(999)), DAConfigError, "da/operator-not-assigned", { id: makeOperatorId(999) });
  });

  for (const [name, stakes, first, second] of [
    ["TestTwoQuorums", twoQuorumStakes, 0, 1],
    ["TestTwoQuorumsReverseOrder", { 1: twoQuorumStakes[0], 0: twoQuorumStakes[1] }, 1, 0],
  ] as const) {
    it(name, () => {
      const ops = fromStakes(stakes);
      const both = assignmentsForBlob(ops, blobParams, [0, 1]);
      const onlyFirst = assignmentsForBlob(ops, blobParams, [first]);
      const onlySecond = assignmentsForBlob(ops, blobParams, [second]);
      expect(both.size).to.equal(5);
      expect(onlyFirst.size).to.equal(5);
      expect(onlySecond.size).to.equal(4);
      // Each operator's merged assignment is no longer than its larger single-quorum assignment.
      for (const [id, indices] of both) {
        const max = Math.max(onlyFirst.get(id)?.length ?? 0, onlySecond.get(id)?.length ?? 0);
        expect(indices.length, id).to.be.at.most(max);
        expect(new Set(indices).size, `${id}: unique`).to.equal(indices.length);
      }
    });
  }

  it("merges as MergeAssignmentsAndCap: the baseline quorum's indices first, in order, then the other quorum's new ones, unsorted", () => {
    const ops = fromStakes(twoQuorumStakes);
    const base = assignmentsForQuorum(ops, blobParams, 0);
    const added = addAssignmentsForQuorum(base, ops, blobParams, 1);
    const merged = assignmentsForBlob(ops, blobParams, [1, 0]); // quorum order does not matter: the lowest is the baseline
    const cap = blobParams.numChunks / blobParams.codingRate;
    // Operator 2 has 1/16 of quorum 0 and 10/14 of quorum 1: its quorum-0 indices come first and
    // the indices it gets only for quorum 1 (lower numbers, freed by the others) follow them.
    const id2 = makeOperatorId(2);
    const expected = [...base.get(id2)!];
    for (const i of added.get(id2)!) if (!expected.includes(i) && expected.length < cap) expected.push(i);
    expect(merged.get(id2)).to.deep.equal(expected);
    expect(merged.get(id2)!.slice(0, base.get(id2)!.length)).to.deep.equal(base.get(id2));
    const firstAdded = merged.get(id2)![base.get(id2)!.length]!;
    expect(firstAdded, "a quorum-1 index smaller than the baseline's follows it").to.be.lessThan(base.get(id2)![0]!);
    expect(merged.get(id2)!.length).to.equal(cap);
    // Operator 1 (10/16 of quorum 0) is capped inside its baseline run.
    expect(merged.get(makeOperatorId(1))).to.deep.equal(base.get(makeOperatorId(1))!.slice(0, cap));
  });

  it("TestManyQuorums", () => {
    const r = rng(7);
    for (const numQuorums of [1, 2, 3, 4, 5, 10, 15, 20, 50, 100, 200, 255]) {
      const quorums = Array.from({ length: numQuorums }, (_, q) => q);
      const ops: OperatorStake[] = Array.from({ length: 100 }, (_, j) => ({ id: makeOperatorId(j), stakes: new Map(quorums.map((q) => [q, BigInt(r.int(100) + 1)])) }));
      const all = assignmentsForBlob(ops, blobParams, quorums);
      for (const q of quorums) {
        const single = assignmentsForBlob(ops, blobParams, [q]);
        for (const [id, indices] of all) expect(indices.length, `${numQuorums} quorums, quorum ${q}`).to.be.at.least(single.get(id)!.length);
      }
    }
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
