/**
 * Experiment specs (experiments/<layer>/NAME.yaml): types, loading with field-by-field checks,
 * quick-mode params, claims and targets judged, anchors (published values with their source).
 *
 * spec.ts     the spec's types, loading and checks, params for a run (quick, --set)
 * targets.ts  ">= 0.75" goals parsed and judged
 * claims.ts   claims judged against a run; the evaluation table beside the anchors
 */

export * from "./claims.js";
export * from "./errors.js";
export * from "./experiment-spec.js";
export * from "./targets.js";
