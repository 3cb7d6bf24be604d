/**
 * Rewards: the inference fee split by configuration (platform / model owner / stakers / data),
 * the data share allocated to contributors by their aggregated weights in exact integer wei
 * (largest remainder, so payouts sum to the pool to the last wei), and the Merkle tree of
 * (account, amount) leaves that RewardDistributor verifies (OpenZeppelin StandardMerkleTree).
 */
import { readFileSync } from "node:fs";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { getAddress } from "ethers";
import { parse } from "yaml";
import type { Aggregate } from "./aggregation.js";
import { AttributionError, NothingToPayError } from "./errors.js";

export interface FeeSplit {
  platformBps: number;
  modelOwnerBps: number;
  stakersBps: number;
  dataBps: number;
}

export const DEFAULT_FEE_SPLIT_PATH = "config/fee-split.yaml";

export function validateFeeSplit(s: FeeSplit): FeeSplit {
  const parts = [s.platformBps, s.modelOwnerBps, s.stakersBps, s.dataBps];
  if (parts.some((p) => !Number.isInteger(p) || p < 0) || parts.reduce((a, b) => a + b, 0) !== 10_000) {
    throw new AttributionError({
      code: "rewards/bad-fee-split",
      message: `fee split ${JSON.stringify(s)} must be non-negative integer basis points summing to 10000`,
      hint: "fix the fee-split configuration (platformBps + modelOwnerBps + stakersBps + dataBps = 10000)",
      fields: { platformBps: s.platformBps, modelOwnerBps: s.modelOwnerBps, stakersBps: s.stakersBps, dataBps: s.dataBps },
    });
  }
  return s;
}

export function loadFeeSplit(path = DEFAULT_FEE_SPLIT_PATH): FeeSplit {
  const doc = parse(readFileSync(path, "utf8"));
  return validateFeeSplit({ platformBps: doc.platformBps, modelOwnerBps: doc.modelOwnerBps, stakersBps: doc.stakersBps, dataBps: doc.dataBps });
}

/** Floors each named share; the rounding dust goes to the data share, so the parts sum to the fee. */
export function splitFee(fee: bigint, split: FeeSplit): { platform: bigint; modelOwner: bigint; stakers: bigint; data: bigint } {
  validateFeeSplit(split);
  if (fee < 0n)
    throw new AttributionError({
      code: "rewards/negative-fee",
      message: `fee ${fee} is negative`,
      hint: "pass the fee in wei as a non-negative bigint",
      fields: { fee },
    });
  const platform = (fee * BigInt(split.platformBps)) / 10_000n;
  const modelOwner = (fee * BigInt(split.modelOwnerBps)) / 10_000n;
  const stakers = (fee * BigInt(split.stakersBps)) / 10_000n;
  return { platform, modelOwner, stakers, data: fee - platform - modelOwner - stakers };
}

/** Integer allocation of `pool` in proportion to `weights` (largest remainder; ties to the lower index). */
export function allocate(pool: bigint, weights: number[]): bigint[] {
  const total = weights.reduce((a, w) => (w > 0 ? a + w : a), 0);
  if (!(total > 0)) return weights.map(() => 0n);
  // weights become integers at 1e-18 resolution; the rest of the arithmetic is exact
  const scaled = weights.map((w) => (w > 0 ? BigInt(Math.round((w / total) * 1e18)) : 0n));
  const denom = scaled.reduce((a, b) => a + b, 0n);
  const out = scaled.map((s) => (pool * s) / denom);
  let rest = pool - out.reduce((a, b) => a + b, 0n);
  const order = scaled
    .map((s, i) => ({ i, rem: (pool * s) % denom }))
    .filter((e) => scaled[e.i] > 0n)
    .sort((a, b) => (b.rem > a.rem ? 1 : b.rem < a.rem ? -1 : a.i - b.i));
  for (let k = 0; rest > 0n; k = (k + 1) % order.length, rest--) out[order[k].i] += 1n;
  return out;
}

export interface Payouts {
  /** Checksummed address → wei, one entry per paid contributor (addresses merged across datanets). */
  amounts: Map<string, bigint>;
  pool: bigint;
  datanetShares: { name: string; weight: number; amount: bigint }[];
  unpaid: { negative: Aggregate["negative"]; flagged: number[] };
}

/** The data pool paid out by the aggregate's weights. Refuses (NothingToPayError) when no influence is positive. */
export function computePayouts(agg: Aggregate, pool: bigint): Payouts {
  const paid = agg.contributors.filter((c) => c.weight > 0);
  if (paid.length === 0) {
    const reason =
      agg.contributors.length === 0
        ? "the influence set is empty (no unflagged training example was scored)"
        : `all influence is negative or zero (${agg.contributors.length} contributors, ${agg.flagged.length} flagged examples)`;
    throw new NothingToPayError(
      "rewards/no-positive-influence",
      { reason, contributors: agg.contributors.length, flagged: agg.flagged.length },
      "no datanet helped this inference, so its data share stays unpaid; check the model and the attribution method before retrying",
    );
  }
  if (pool <= 0n)
    throw new AttributionError({
      code: "rewards/empty-data-pool",
      message: `data pool is ${pool} wei`,
      hint: "pay a positive data share (check the fee and its split)",
      fields: { pool },
    });
  const amounts = allocate(
    pool,
    paid.map((c) => c.weight),
  );
  const byAddress = new Map<string, bigint>();
  paid.forEach((c, i) => {
    const a = getAddress(c.name);
    byAddress.set(a, (byAddress.get(a) ?? 0n) + amounts[i]);
  });
  for (const [a, v] of byAddress) if (v === 0n) byAddress.delete(a);
  const datanetShares = agg.datanets.map((d) => ({
    name: d.name,
    weight: d.weight,
    amount: paid.reduce((s, c, i) => (c.datanet === d.name ? s + amounts[i] : s), 0n),
  }));
  return { amounts: byAddress, pool, datanetShares, unpaid: { negative: agg.negative, flagged: agg.flagged } };
}

export interface RewardTree {
  root: string;
  tree: StandardMerkleTree<[string, bigint]>;
  total: bigint;
  proofOf(account: string): { amount: bigint; proof: string[] };
}

/** The Merkle tree over (address, uint256) leaves that RewardDistributor.claim verifies. */
export function buildRewardTree(amounts: Map<string, bigint>): RewardTree {
  if (amounts.size === 0) throw new NothingToPayError("rewards/empty-payout", { reason: "no positive payout to commit" }, "compute payouts first; an epoch needs at least one leaf");
  const values: [string, bigint][] = [...amounts.entries()].map(([a, v]) => [getAddress(a), v]);
  const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
  const total = values.reduce((s, [, v]) => s + v, 0n);
  return {
    root: tree.root,
    tree,
    total,
    proofOf(account: string) {
      const want = getAddress(account);
      for (const [i, [a, v]] of tree.entries()) if (a === want) return { amount: v, proof: tree.getProof(i) };
      throw new AttributionError({
        code: "rewards/no-leaf",
        message: `${account} has no leaf in this reward tree`,
        hint: "only contributors with positive influence can claim; check the epoch's payout list",
        fields: { account },
      });
    },
  };
}
