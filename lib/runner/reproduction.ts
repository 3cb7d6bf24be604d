import type { ClaimResult, Metrics } from "../experiments/index.js";
import type { OverrideValue } from "../overrides.js";
import type { StepCacheMode, StepCacheStats } from "../step-cache.js";
import type { EnvironmentManifest } from "./environment.js";

/** The record of one `./lab reproduce`: what reproduce-experiments.ts writes and reproduce-report.ts renders. */

export interface ExperimentOutcome {
  experiment: string;
  title: string;
  spec: string;
  runner: string;
  params: Record<string, unknown>;
  overrides: Record<string, OverrideValue>;
  judged: boolean;
  metrics: Metrics;
  claims: ClaimResult[];
  /** The experiment function that ran. */
  computedBy: string;
  /** Where each claimed metric is computed (function and file), by metric. */
  sources: Record<string, string>;
  seconds: number;
  cache: StepCacheStats;
  /** The error that stopped the experiment, if one did (all its claims then fail). */
  error?: string;
}

export interface Reproduction {
  id: string;
  mode: "full" | "quick";
  startedAt: string;
  seconds: number;
  cacheMode: StepCacheMode;
  environment: EnvironmentManifest;
  experiments: ExperimentOutcome[];
  /** Claims judged and missed, plus experiments that stopped with an error. */
  failures: number;
  passed: boolean;
}
