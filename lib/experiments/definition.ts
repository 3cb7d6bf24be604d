import { closest, suggestion } from "../did-you-mean.js";
import { ExperimentSpecError } from "./errors.js";
import type { ExperimentSpec } from "./experiment-spec.js";
import { checkParams, type ParamDecls, type ParamsOf } from "./params.js";

/**
 * An experiment as a layer's registry declares it: its params (types and ranges, checked when a
 * spec is loaded), its metrics (each with what it measures and the function that computes it,
 * which claims, reports and the metric-source table read) and the function that runs it.
 *
 * A metric's key is its name as the run reports it; `{…}` marks a part the params decide, e.g.
 * `lds_{method}` for `lds_datainf`, `lds_trak_10`. The run's return type follows from the keys, so
 * a metric the registry does not declare does not type-check.
 */

/** Where a metric is computed: an export of a module (`Class.method` for a method), by its path from the repository root. */
export interface MetricSource {
  export: string;
  module: string;
}

export interface MetricDecl {
  /** What the metric measures, in a line. */
  meaning: string;
  computedBy: MetricSource;
  /** The values a `{…}` part of the key takes, where it is not free text (so `auc_{method}_{datanet}` does not read `auc_tracin_cp`). */
  values?: Record<string, readonly string[]>;
}

export type MetricDecls = Record<string, MetricDecl>;

/** `lds_{method}` → `lds_${string}`: the names a declared key stands for. */
export type MetricKey<T extends string> = T extends `${infer A}{${string}}${infer B}` ? `${A}${string}${MetricKey<B>}` : T;

/** The metrics a run reports, by the names its declarations allow. */
export type MetricsOf<M extends MetricDecls> = Record<MetricKey<keyof M & string>, number>;

export type ExperimentLog = (line: string) => void;

export interface ExperimentDefinition<P extends ParamDecls = ParamDecls, M extends MetricDecls = MetricDecls> {
  /** The name specs give as `runner`. */
  name: string;
  /** What it measures, in a line. */
  summary: string;
  params: P;
  metrics: M;
  run(params: ParamsOf<P>, log: ExperimentLog): Promise<MetricsOf<M>> | MetricsOf<M>;
}

/** Declares an experiment; its params and metrics type its `run`. */
export function defineExperiment<P extends ParamDecls, M extends MetricDecls>(definition: ExperimentDefinition<P, M>): ExperimentDefinition<P, M> {
  return definition;
}

/** `computedBy` for an export of a module under lib/ (`at("lds", "attribution/evaluation/lds.ts")`). */
export function at(exportName: string, libPath: string): MetricSource {
  return { export: exportName, module: `lib/${libPath}` };
}

/** A metric source as a report prints it: `lds() in lib/attribution/evaluation/lds.ts`. */
export function describeSource(source: MetricSource): string {
  return `${source.export}() in ${source.module}`;
}

function keyPattern(key: string, decl: MetricDecl): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^$()|[\]\\{}]/g, "\\$&");
  const source = key
    .split(/(\{[^}]*\})/)
    .map((part) => {
      const name = /^\{([^}]*)\}$/.exec(part)?.[1];
      if (name === undefined) return literal(part);
      const values = decl.values?.[name];
      return values ? `(?:${values.map(literal).join("|")})` : ".+";
    })
    .join("");
  return new RegExp(`^${source}$`);
}

/**
 * The declaration a reported metric name falls under: its own key when declared as is, else the
 * templated key with the most fixed text that matches (`auc_ngram` before `auc_{method}`).
 */
export function metricDeclOf(metrics: MetricDecls, name: string): { key: string; decl: MetricDecl } | undefined {
  if (Object.hasOwn(metrics, name)) return { key: name, decl: metrics[name] };
  const fixedText = (key: string) => key.replace(/\{[^}]*\}/g, "").length;
  const hits = Object.keys(metrics)
    .filter((key) => key.includes("{") && keyPattern(key, metrics[key]).test(name))
    .sort((a, b) => fixedText(b) - fixedText(a));
  return hits.length ? { key: hits[0], decl: metrics[hits[0]] } : undefined;
}

/**
 * A spec checked against the experiment it names: its params, and its params under quick mode,
 * against the declared types and ranges; every claimed metric against the declared metrics.
 */
export function checkSpec(spec: ExperimentSpec, definition: ExperimentDefinition): void {
  checkParams(definition.params, spec.params, { file: spec.file, field: "params" });
  checkParams(definition.params, { ...spec.params, ...spec.quick }, { file: spec.file, field: "quick" });
  const declared = Object.keys(definition.metrics);
  for (const [list, claims] of [
    ["claims", spec.claims],
    ["quickClaims", spec.quickClaims],
  ] as const) {
    claims.forEach((claim, i) => {
      for (const [key, metric] of [
        ["metric", claim.metric],
        ["quickMetric", claim.quickMetric],
      ] as const) {
        if (metric === undefined || metricDeclOf(definition.metrics, metric)) continue;
        throw new ExperimentSpecError({
          code: "experiment/unknown-metric",
          message: `${spec.file}: ${list}[${i}].${key} names "${metric}", which ${definition.name} does not report${suggestion(metric, declared)}`,
          hint: `claim one of ${definition.name}'s metrics: ${declared.join(", ")}`,
          fields: { file: spec.file, field: `${list}[${i}].${key}`, metric, runner: definition.name, suggestion: closest(metric, declared) },
        });
      }
    });
  }
}
