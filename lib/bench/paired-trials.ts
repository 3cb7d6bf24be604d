/**
 * Paired trials for ratios on a machine shared with other work. A ratio of two measurements taken
 * minutes apart is decided by whatever else ran during one of them; so the two arms (one thread and
 * every core) are measured in pairs, back to back, in ABBA order (A B, B A, A B, …: neither arm
 * always goes first, so a drift in load favours neither), a ratio is taken within each pair, and the
 * median of those ratios is reported with its spread and the number of pairs.
 */
import { loadavg } from "node:os";
import { quantile } from "../attribution/evaluation/stats.js";

/** One trial's place: the pair it belongs to and its arm (0 is A, the denominator; 1 is B). */
export interface TrialSlot {
  pair: number;
  arm: 0 | 1;
}

/** The ABBA order of `pairs` pairs: pair 0 runs A then B, pair 1 B then A, and so on. */
export function abbaOrder(pairs: number): TrialSlot[] {
  if (!Number.isInteger(pairs) || pairs < 1) throw new RangeError(`pairs must be a whole number ≥ 1, got ${pairs}`);
  const order: TrialSlot[] = [];
  for (let pair = 0; pair < pairs; pair++) {
    const arms: Array<0 | 1> = pair % 2 === 0 ? [0, 1] : [1, 0];
    for (const arm of arms) order.push({ pair, arm });
  }
  return order;
}

/** One trial's result, with the 1-minute load average just before it started and just after it ended. */
export interface Trial<T> extends TrialSlot {
  loadBefore: number;
  loadAfter: number;
  value: T;
}

/** The trials of both arms, pair by pair: `byPair[pair][arm]`. */
export type PairedTrials<T> = Array<[Trial<T>, Trial<T>]>;

/**
 * Runs `trial(arm)` for `pairs` pairs in ABBA order, one at a time, recording the 1-minute load
 * average around each, and returns them by pair.
 */
export async function runPaired<T>(pairs: number, trial: (arm: 0 | 1, slot: TrialSlot) => Promise<T>): Promise<PairedTrials<T>> {
  const byPair: Array<Partial<[Trial<T>, Trial<T>]>> = Array.from({ length: pairs }, () => []);
  for (const slot of abbaOrder(pairs)) {
    const loadBefore = loadavg()[0];
    const value = await trial(slot.arm, slot);
    byPair[slot.pair][slot.arm] = { ...slot, loadBefore, loadAfter: loadavg()[0], value };
  }
  return byPair as PairedTrials<T>;
}

/** B / A within each pair, for the figure `pick` reads from a trial's value (NaN where either is missing). */
export function pairRatios<T>(paired: PairedTrials<T>, pick: (value: T) => number | undefined): number[] {
  return paired.map(([a, b]) => {
    const [x, y] = [pick(a.value), pick(b.value)];
    return x === undefined || y === undefined ? NaN : y / x;
  });
}

/** The median of per-pair ratios with its spread: the interquartile range, the extremes and the pairs it rests on. */
export interface RatioSummary {
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
  pairs: number;
}

/** Summarises per-pair ratios; pairs whose ratio is not a finite number are left out of every figure. */
export function summarizeRatios(ratios: readonly number[]): RatioSummary {
  const finite = ratios.filter(Number.isFinite);
  if (finite.length === 0) return { median: NaN, q1: NaN, q3: NaN, min: NaN, max: NaN, pairs: 0 };
  return {
    median: quantile(finite, 0.5),
    q1: quantile(finite, 0.25),
    q3: quantile(finite, 0.75),
    min: Math.min(...finite),
    max: Math.max(...finite),
    pairs: finite.length,
  };
}

/** The median of one arm's figures over its trials (the per-thread-count rate the bench prints). */
export function armMedian<T>(paired: PairedTrials<T>, arm: 0 | 1, pick: (value: T) => number | undefined): number {
  const values = paired.map((p) => pick(p[arm].value)).filter((v): v is number => v !== undefined && Number.isFinite(v));
  return values.length ? quantile(values, 0.5) : NaN;
}
