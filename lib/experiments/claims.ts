import { type Anchor, type Claim, type ExperimentSpec, NOT_REPORTED } from "./experiment-spec.js";
import { type TargetStatus, targetStatus } from "./targets.js";

export type Metrics = Record<string, number>;

/** One claim judged against a run's metrics. */
export interface ClaimResult {
  metric: string;
  measured: number;
  claimed: number;
  tolerance: number;
  /** The measured value lies within claimed ± tolerance. */
  holds: boolean;
  target: string;
  /** The measured value against the target ("" when the claim has none). */
  targetStatus: TargetStatus;
}

/** Judges one claim; a metric the run did not produce (or a non-finite one) does not hold. */
export function judgeClaim(claim: Claim, metrics: Metrics): ClaimResult {
  const measured = metrics[claim.metric] ?? Number.NaN;
  const holds = Number.isFinite(measured) && Math.abs(measured - claim.value) <= claim.tolerance;
  return {
    metric: claim.metric,
    measured,
    claimed: claim.value,
    tolerance: claim.tolerance,
    holds,
    target: claim.target ?? "",
    targetStatus: targetStatus(claim.target, measured),
  };
}

/** The claims recorded for a mode: `claims` for the spec's params, `quickClaims` for its quick mode. */
export function claimsFor(spec: ExperimentSpec, options: { quick?: boolean } = {}): Claim[] {
  return options.quick ? spec.quickClaims : spec.claims;
}

/** Every claim of a spec for the mode its run used (full or quick), judged against the run's metrics. */
export function judgeClaims(spec: ExperimentSpec, metrics: Metrics, options: { quick?: boolean } = {}): ClaimResult[] {
  return claimsFor(spec, options).map((claim) => judgeClaim(claim, metrics));
}

/** An anchor as a table shows it: the number (≈ when read off a figure) or "not reported". */
export function anchorText(anchor: Anchor): number | string {
  if (anchor.value === NOT_REPORTED) return NOT_REPORTED;
  return anchor.approximate ? `≈ ${anchor.value}` : anchor.value;
}

export type EvaluationRow = Record<string, string | number>;

/**
 * The evaluation table of a set of runs: one row per claim and anchor (a claim without an
 * anchor gets one row, its anchor "—"). In quick mode the measured column is the quick run,
 * judged against the spec's quick claim for that metric where one is recorded, and targets are
 * judged on the full run's recorded claim, as quick runs are smaller than the settings the
 * targets are for.
 */
export function evaluationRows(specs: readonly ExperimentSpec[], measured: Record<string, Metrics>, options: { quick: boolean }): EvaluationRow[] {
  const ours = options.quick ? "ours (this quick run)" : "ours (this run)";
  return specs.flatMap((spec) =>
    spec.claims.flatMap((claim) => {
      const key = options.quick ? (claim.quickMetric ?? claim.metric) : claim.metric;
      const value = measured[spec.name]?.[key] ?? Number.NaN;
      const judged = options.quick ? claim.value : value;
      const quickClaim = options.quick ? spec.quickClaims.find((c) => c.metric === key) : undefined;
      const row = {
        experiment: spec.name,
        metric: claim.metric,
        [ours]: Number(value.toFixed(4)),
        ...(options.quick
          ? {
              "quick claim": quickClaim ? `${quickClaim.value} ± ${quickClaim.tolerance}` : "—",
              "quick claim holds": quickClaim ? (judgeClaim(quickClaim, measured[spec.name] ?? {}).holds ? "yes" : "NO") : "",
            }
          : {}),
        "ours (full run, spec claim)": claim.value,
        target: claim.target ?? "",
        status: targetStatus(claim.target, judged),
      };
      const anchors = spec.anchors.filter((a) => a.metric === claim.metric);
      if (anchors.length === 0) return [{ ...row, anchor: "—", "anchor method": "", "anchor setting": "", "anchor source": "" }];
      return anchors.map((a) => ({ ...row, anchor: anchorText(a), "anchor method": a.method, "anchor setting": a.setting, "anchor source": a.source }));
    }),
  );
}
