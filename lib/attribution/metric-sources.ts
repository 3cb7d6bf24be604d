import { describeSource, metricDeclOf } from "../experiments/index.js";
import { attributionExperiment } from "./experiments/registry.js";

/**
 * Where each metric of the attribution experiments is computed, read from the registry's
 * declarations: what a reproduction report prints beside each claim, so a reviewer can read the
 * code behind a number.
 */
export interface MetricSourceEntry {
  /** The declared key the metric falls under (`lds_{method}` for `lds_datainf`). */
  key: string;
  /** What the metric measures, in a line. */
  meaning: string;
  /** The function and the file that compute it: `lds() in lib/attribution/evaluation/lds.ts`. */
  computedBy: string;
}

/** The source of an experiment's metric, or undefined when the experiment declares no such metric. */
export function metricSource(metric: string, runner: string): MetricSourceEntry | undefined {
  const hit = metricDeclOf(attributionExperiment(runner).metrics, metric);
  return hit && { key: hit.key, meaning: hit.decl.meaning, computedBy: describeSource(hit.decl.computedBy) };
}
