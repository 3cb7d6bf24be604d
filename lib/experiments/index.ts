/**
 * Experiment specs (experiments/<layer>/NAME.yaml): types, loading with field-by-field checks,
 * quick-mode params, claims and targets judged, anchors (published values with their source).
 *
 * spec.ts     the spec's types, loading and checks, params for a run (quick, --set)
 * targets.ts  ">= 0.75" goals parsed and judged
 * claims.ts   claims judged against a run; the evaluation table beside the anchors
 * params.ts   params declared with types and ranges, and checked
 * definition.ts an experiment as a registry declares it: params, metrics (meaning, source), run
 */

export * from "./claims.js";
export * from "./definition.js";
export * from "./errors.js";
export * from "./experiment-spec.js";
export * from "./params.js";
export * from "./targets.js";
