/**
 * The attribution experiments, by the name specs give as `runner`: what `./lab reproduce` runs,
 * what a spec's params and claims are checked against when it is loaded, and where each metric
 * is computed (metric-sources.ts).
 */
import { checkSpec, type ExperimentDefinition, type ExperimentLog, type ExperimentSpec, experimentParams, loadExperimentSpec, scanExperimentSpecs } from "../../experiments/index.js";
import { fromRoot } from "../../files.js";
import { nextTurn, type OnProgress } from "../../progress.js";
import { AttributionError } from "../errors.js";
import { FACTORY_CONTRIBUTORS } from "./factory-contributors.js";
import { LM_DATANETS } from "./lm-datanets.js";
import { LOGREG_FMNIST } from "./logreg-fmnist.js";
import { LORA_DATANETS } from "./lora-datanets.js";
import { MLP_FMNIST } from "./mlp-fmnist.js";

/** Each experiment's definition, widened to the registry's common type (its params are checked against its own declarations before it runs). */
function entry<D extends { name: string }>(definition: D): [string, ExperimentDefinition] {
  return [definition.name, definition as unknown as ExperimentDefinition];
}

export const ATTRIBUTION_EXPERIMENTS: ReadonlyMap<string, ExperimentDefinition> = new Map([
  entry(LOGREG_FMNIST),
  entry(MLP_FMNIST),
  entry(LORA_DATANETS),
  entry(FACTORY_CONTRIBUTORS),
  entry(LM_DATANETS),
]);

/** The experiment a spec's `runner` names. */
export function attributionExperiment(runner: string): ExperimentDefinition {
  const definition = ATTRIBUTION_EXPERIMENTS.get(runner);
  if (!definition) {
    const known = [...ATTRIBUTION_EXPERIMENTS.keys()];
    throw new AttributionError({
      code: "spec/unknown-runner",
      message: `no attribution experiment called "${runner}"`,
      hint: `use one of: ${known.join(", ")}`,
      fields: { runner, known },
    });
  }
  return definition;
}

/** A spec checked against its experiment: params (types, ranges, unknown keys) and claimed metrics. */
export function checkAttributionSpec(spec: ExperimentSpec): void {
  checkSpec(spec, attributionExperiment(spec.runner));
}

/** The spec called `nameOrPath` (see loadExperimentSpec), checked against its experiment. */
export function loadAttributionSpec(nameOrPath: string, dir = fromRoot("experiments")): ExperimentSpec {
  return loadExperimentSpec(nameOrPath, dir, checkAttributionSpec);
}

/** Every spec under `dir` that reads and checks against its experiment, and a refusal for each that does not. */
export function scanAttributionSpecs(dir = fromRoot("experiments")) {
  return scanExperimentSpecs(dir, checkAttributionSpec);
}

/** Runs the experiment `runner` with params (the spec's, checked), logging its stages. */
export async function runExperiment(runner: string, params: unknown, log: ExperimentLog = () => {}): Promise<Record<string, number>> {
  return attributionExperiment(runner).run(params as never, log);
}

/**
 * Each spec's experiment run with the spec's params for the mode, one after another: metrics by spec
 * name. `onProgress` counts the specs done; its stage names the running spec, then each line the
 * spec's experiment logs ("spec: line"), so a minute-long experiment shows where it is. `log` gets
 * the lines as the experiment writes them.
 */
export async function runSpecExperiments(specs: readonly ExperimentSpec[], options: { quick: boolean; log?: ExperimentLog; onProgress?: OnProgress }): Promise<Record<string, Record<string, number>>> {
  const measured: Record<string, Record<string, number>> = {};
  for (const [done, spec] of specs.entries()) {
    options.onProgress?.(done, specs.length, spec.name);
    await nextTurn();
    const log: ExperimentLog = (line) => {
      options.log?.(line);
      options.onProgress?.(done, specs.length, `${spec.name}: ${line.trim()}`);
    };
    measured[spec.name] = await runExperiment(spec.runner, experimentParams(spec, { quick: options.quick }), log);
  }
  options.onProgress?.(specs.length, specs.length);
  return measured;
}
