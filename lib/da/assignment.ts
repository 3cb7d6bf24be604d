// Chunk assignment (EigenDA "Assignment Module", core/v2/assignment.go). Within a quorum, operator
// i with stake share eta_i gets ceil(eta_i * (numChunks - maxNumOperators)) chunks, contiguous, in
// order of operator id. Further quorums reuse each operator's quorum-0 indices first (overlap
// maximization) and hand out the unused ones; the merged assignment keeps the baseline's indices
// first, in their order, appends the other quorums' new ones, and stops at numChunks / codingRate
// chunks, enough for any one operator to rebuild the blob alone (MergeAssignmentsAndCap: no sort).

import type { VersionedBlobParams } from "./blob-params.js";
import { DAConfigError } from "./errors.js";

export interface OperatorStake {
  id: string;
  /** Stake per quorum number; absent = not registered in that quorum. */
  stakes: ReadonlyMap<number, bigint>;
}

export type Assignment = Map<string, number[]>;

function quorumMembers(operators: readonly OperatorStake[], quorum: number): OperatorStake[] {
  return operators.filter((o) => (o.stakes.get(quorum) ?? 0n) > 0n).sort((a, b) => (a.id.toLowerCase() < b.id.toLowerCase() ? -1 : 1));
}

function chunksPerOperator(operators: readonly OperatorStake[], params: VersionedBlobParams, quorum: number): Map<string, number> {
  const members = quorumMembers(operators, quorum);
  if (members.length === 0) {
    throw new DAConfigError({
      code: "da/no-operators-in-quorum",
      message: `no operator has stake in quorum ${quorum}`,
      hint: "disperse only to quorums the operator set is registered in",
      fields: { quorum },
    });
  }
  if (members.length > params.maxNumOperators) {
    throw new DAConfigError({
      code: "da/too-many-operators",
      message: `quorum ${quorum} has ${members.length} operators; blob params allow ${params.maxNumOperators}`,
      hint: "use a blob version with a larger maxNumOperators",
      fields: { quorum, operators: members.length, max: params.maxNumOperators },
    });
  }
  const total = members.reduce((a, o) => a + o.stakes.get(quorum)!, 0n);
  const effective = BigInt(params.numChunks - params.maxNumOperators);
  const out = new Map<string, number>();
  for (const o of members) {
    const stake = o.stakes.get(quorum)!;
    out.set(o.id, Number((effective * stake + total - 1n) / total)); // ceil
  }
  return out;
}

/** GetAssignmentsForQuorum: contiguous indices by stake share, operators in id order. */
export function assignmentsForQuorum(operators: readonly OperatorStake[], params: VersionedBlobParams, quorum: number): Assignment {
  const out: Assignment = new Map();
  let offset = 0;
  for (const [id, count] of chunksPerOperator(operators, params, quorum)) {
    out.set(
      id,
      Array.from({ length: count }, (_, k) => offset + k),
    );
    offset += count;
  }
  return out;
}

/** AddAssignmentsForQuorum: reuse each operator's baseline indices, then fill from unused ones. */
export function addAssignmentsForQuorum(baseline: Assignment, operators: readonly OperatorStake[], params: VersionedBlobParams, quorum: number): Assignment {
  const counts = chunksPerOperator(operators, params, quorum);
  const used = new Set<number>();
  const out: Assignment = new Map();
  for (const [id, count] of counts) {
    const reused = (baseline.get(id) ?? []).slice(0, count);
    for (const i of reused) used.add(i);
    out.set(id, reused);
  }
  const unused = Array.from({ length: params.numChunks }, (_, i) => i).filter((i) => !used.has(i));
  let next = 0;
  for (const [id, count] of counts) {
    const have = out.get(id)!;
    while (have.length < count) have.push(unused[next++]!);
  }
  return out;
}

/**
 * MergeAssignmentsAndCap: the union per operator in first-seen order (the baseline quorum's
 * indices first), stopping at numChunks / codingRate indices. Unsorted, as EigenDA keeps it: which
 * indices survive the cap decides which chunks an operator stores and signs for.
 */
export function mergeAssignmentsAndCap(perQuorum: readonly Assignment[], params: VersionedBlobParams): Assignment {
  const cap = params.numChunks / params.codingRate;
  const out: Assignment = new Map();
  const seen = new Map<string, Set<number>>();
  for (const a of perQuorum) {
    for (const [id, indices] of a) {
      const merged = out.get(id) ?? [];
      const have = seen.get(id) ?? new Set<number>();
      out.set(id, merged);
      seen.set(id, have);
      for (const i of indices) {
        if (merged.length >= cap) break;
        if (have.has(i)) continue;
        merged.push(i);
        have.add(i);
      }
    }
  }
  return out;
}

/** GetAssignmentsForBlob: the lowest quorum as baseline, the rest overlapped onto it, merged and capped. */
export function assignmentsForBlob(operators: readonly OperatorStake[], params: VersionedBlobParams, quorums: readonly number[]): Assignment {
  const sorted = [...quorums].sort((a, b) => a - b);
  const base = assignmentsForQuorum(operators, params, sorted[0]!);
  const rest = sorted.slice(1).map((q) => addAssignmentsForQuorum(base, operators, params, q));
  return mergeAssignmentsAndCap([base, ...rest], params);
}

/** GetAssignmentForBlob: one operator's indices; an operator outside the blob's quorums is refused. */
export function assignmentForBlob(operators: readonly OperatorStake[], params: VersionedBlobParams, quorums: readonly number[], id: string): number[] {
  const indices = assignmentsForBlob(operators, params, quorums).get(id);
  if (!indices) {
    throw new DAConfigError({
      code: "da/operator-not-assigned",
      message: `operator ${id} has no stake in quorums ${quorums.join(", ")}`,
      hint: "ask for an operator registered in one of the blob's quorums",
      fields: { id, quorums: quorums.join(",") },
    });
  }
  return indices;
}
