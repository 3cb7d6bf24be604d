import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ATTRIBUTION_EXPERIMENTS, runExperiment } from "../attribution/experiments/registry.js";
import { metricSource } from "../attribution/metric-sources.js";
import { describeError, LabError } from "../errors.js";
import { checkParams, checkSpec, claimsFor, type ExperimentSpec, experimentParams, judgeClaims, loadExperimentSpec, type Metrics, overrideFields, scanExperimentSpecs } from "../experiments/index.js";
import { fromRoot, writeDirAtomic } from "../files.js";
import { type OverrideValue, splitSetPair, typeOverrides, unknownKey } from "../overrides.js";
import { resetStepCacheStats, type StepCacheMode, stepCacheStats } from "../step-cache.js";
import { type JobContext, runJobs, workerCount } from "../worker-pool.js";
import { environmentManifest } from "./environment.js";
import { renderReproductionHtml, renderReproductionMarkdown, reproductionFigures } from "./reproduce-report.js";
import type { ExperimentOutcome, Reproduction } from "./reproduction.js";

export type { ExperimentOutcome, Reproduction } from "./reproduction.js";

/**
 * `./lab reproduce`: each experiment spec run headless with the params of one mode (full, or the
 * spec's quick block), every claim recorded for that mode judged, and one reproduction folder
 * written at the end, atomically: results.json, report.md and report.html (pass/fail table,
 * environment manifest, timings, figures), figures/*.svg.
 */

export interface ReproducePlan {
  spec: ExperimentSpec;
  params: Record<string, unknown>;
  overrides: Record<string, OverrideValue>;
  /** Claims are judged only for params a claim was recorded with: the spec's own, or its quick mode. */
  judged: boolean;
}

export class ReproduceError extends LabError {}

/** A spec under experiments/ that could not be used, when all are reproduced: it fails alone, the others run. */
export interface RefusedSpec {
  file: string;
  error: string;
}

/** What runs: a plan per spec, and the specs refused (only when all specs are reproduced; a named spec that is refused stops the command). */
export interface PlannedReproduction {
  plans: ReproducePlan[];
  refused: RefusedSpec[];
}

/** Refuses a spec whose runner is no experiment of the lab, then checks its params and claims against the experiment's declarations. */
function checkRunnable(spec: ExperimentSpec): void {
  const definition = ATTRIBUTION_EXPERIMENTS.get(spec.runner);
  if (!definition) {
    const runners = [...ATTRIBUTION_EXPERIMENTS.keys()];
    throw new ReproduceError({
      code: "reproduce/unknown-runner",
      message: `${spec.file}: runner "${spec.runner}" is no experiment of the lab`,
      hint: `use one of: ${runners.join(", ")} (lib/attribution/experiments/registry.ts)`,
      fields: { file: spec.file, runner: spec.runner, known: runners },
    });
  }
  checkSpec(spec, definition);
}

/**
 * The specs named (spec names, experiments/ paths or spec files; all under experiments/ when
 * none), each checked against its experiment (params, quick params, claimed metrics), their params
 * for the mode and every `--set` typed and checked, before anything runs. A `--set` key applies to
 * the specs whose params have it; a key none has is refused. With no names, a spec that does not
 * read or check is set aside as refused and the others are planned.
 */
export function planReproduction(options: { names: readonly string[]; quick: boolean; sets: readonly string[]; dir?: string }): PlannedReproduction {
  const scanned = options.names.length ? { specs: options.names.map((n) => loadExperimentSpec(n, options.dir, checkRunnable)), refused: [] } : scanExperimentSpecs(options.dir, checkRunnable);
  const { specs } = scanned;
  const refused = scanned.refused.map((e) => ({ file: String(e.fields.file ?? "experiments/"), error: describeError(e) }));
  if (specs.length === 0 && refused.length === 0) {
    throw new ReproduceError({
      code: "reproduce/no-experiments",
      message: "there are no experiment specs to reproduce",
      hint: "add experiments/<layer>/NAME.yaml with kind: experiment, a runner and claims",
      fields: {},
    });
  }
  const keysBySpec = specs.map((s) => new Set(overrideFields(s).map((f) => f.key)));
  for (const pair of options.sets) {
    const [key] = splitSetPair(pair);
    if (!keysBySpec.some((keys) => keys.has(key))) {
      throw unknownKey(key, [...new Set(keysBySpec.flatMap((keys) => [...keys]))], `no selected experiment (${specs.map((s) => s.name).join(", ")})`);
    }
  }
  const plans = specs.map((spec, i) => {
    const pairs = options.sets.filter((pair) => keysBySpec[i].has(splitSetPair(pair)[0]));
    const overrides = typeOverrides(pairs, overrideFields(spec), `experiment ${spec.name}`);
    const params = experimentParams(spec, { quick: options.quick, overrides });
    if (pairs.length) checkParams(ATTRIBUTION_EXPERIMENTS.get(spec.runner)?.params ?? {}, params, { file: spec.file, field: "--set" });
    return { spec, params, overrides, judged: Object.keys(overrides).length === 0 };
  });
  return { plans, refused };
}

/** The function that runs an experiment, as a report names it. */
function experimentSource(runner: string): string {
  const definition = ATTRIBUTION_EXPERIMENTS.get(runner);
  return definition ? `${definition.name}: ${definition.run.name}() in lib/attribution/experiments/${definition.name}.ts` : `runner "${runner}"`;
}

/** A refused spec as an outcome: it stopped before running, so it counts as one failure. */
function refusedOutcome(r: RefusedSpec): ExperimentOutcome {
  const name = r.file.replace(/^.*\//, "").replace(/\.(ya?ml|json)$/, "");
  return {
    experiment: name,
    title: name,
    spec: r.file,
    runner: "",
    params: {},
    overrides: {},
    judged: false,
    metrics: {},
    claims: [],
    computedBy: "(refused)",
    sources: {},
    seconds: 0,
    cache: stepCacheStats(),
    error: r.error,
  };
}

/** Runs one planned experiment in this process and judges the claims of its mode. */
export async function reproduceExperiment(plan: ReproducePlan, quick: boolean, log: (line: string) => void): Promise<ExperimentOutcome> {
  const { spec } = plan;
  resetStepCacheStats();
  const t0 = performance.now();
  let metrics: Metrics = {};
  let error: string | undefined;
  try {
    metrics = await runExperiment(spec.runner, plan.params, (line) => log(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}`));
  } catch (e) {
    error = describeError(e);
  }
  const claims = judgeClaims(spec, metrics, { quick });
  return {
    experiment: spec.name,
    title: spec.title,
    spec: spec.file,
    runner: spec.runner,
    params: plan.params,
    overrides: plan.overrides,
    judged: plan.judged,
    metrics,
    claims,
    computedBy: experimentSource(spec.runner),
    sources: Object.fromEntries(claims.map((c) => [c.metric, metricSource(c.metric, spec.runner)?.computedBy ?? experimentSource(spec.runner)])),
    seconds: (performance.now() - t0) / 1000,
    cache: stepCacheStats(),
    error,
  };
}

/** One experiment of a reproduction as a pool job: its plan and the mode. */
export interface ReproduceJobSpec {
  plan: ReproducePlan;
  quick: boolean;
}

/**
 * Runs one planned experiment as a job of the worker pool: its header, its stages and its verdict
 * go to the job's log, and its outcome comes back to be gathered in plan order.
 */
export async function reproduceExperimentJob({ plan, quick }: ReproduceJobSpec, _index: number, context: JobContext): Promise<ExperimentOutcome> {
  const judged = plan.judged && claimsFor(plan.spec, { quick }).length > 0;
  const unjudged = Object.entries(plan.overrides)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  context.log(`▶ ${plan.spec.name} (${plan.spec.file}, ${quick ? "quick" : "full"} mode${plan.judged ? "" : `, ${unjudged}: claims shown, not judged`})`);
  const outcome = await reproduceExperiment({ ...plan, judged }, quick, (line) => context.log(`  ${line}`));
  const missed = outcome.claims.filter((c) => !c.holds).length;
  if (outcome.error) context.log(`  ✗ ${outcome.experiment} stopped: ${outcome.error}`);
  else if (!outcome.judged) context.log(`  · ${outcome.experiment} in ${outcome.seconds.toFixed(1)} s: ${outcome.claims.length} claim(s) shown, not judged`);
  else context.log(`  ${missed ? "✗" : "✓"} ${outcome.experiment} in ${outcome.seconds.toFixed(1)} s: ${outcome.claims.length - missed} of ${outcome.claims.length} claims hold`);
  return outcome;
}

/**
 * The planned experiments, each whole in one lane: with one worker (LAB_WORKERS=1) one after
 * another in this process, each using the worker pool for its own independent jobs; with more,
 * each lane a worker thread that takes the next experiment when it is free and runs that
 * experiment's own jobs itself, and a lane with no experiment left is lent to the jobs of the
 * ones still running (the last long experiment's re-trainings go on both cores). Experiments
 * share nothing but the caches (a base model both need is published once, by whichever lane
 * pretrains it first), so the outcomes, gathered in plan order, are the same for any worker
 * count; a lane's lines, and a lane's failure (`workers/job-failed`, field `name`), carry its
 * experiment's name.
 */
async function reproduceInLanes(plans: readonly ReproducePlan[], quick: boolean, log: (line: string) => void): Promise<ExperimentOutcome[]> {
  const lanes = Math.min(workerCount(), plans.length);
  const name = (index: number) => plans[index].spec.name;
  const width = Math.max(0, ...plans.map((p) => p.spec.name.length));
  return runJobs<ReproduceJobSpec, ExperimentOutcome>(
    { module: import.meta.url, name: reproduceExperimentJob.name, local: reproduceExperimentJob as never },
    plans.map((plan) => ({ plan, quick })),
    { workers: lanes, lendIdleWorkers: true, jobName: name, onLog: lanes > 1 ? (line, index) => log(`${name(index).padEnd(width)} │ ${line}`) : (line) => log(line) },
  );
}

/** Judged claims missed, plus experiments that stopped with an error. */
export function countFailures(outcomes: readonly ExperimentOutcome[]): number {
  return outcomes.reduce((n, o) => n + (o.error ? 1 : 0) + (o.judged ? o.claims.filter((c) => !c.holds).length : 0), 0);
}

function newReproductionId(quick: boolean): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  return `${stamp}-${quick ? "quick" : "full"}-${randomBytes(2).toString("hex")}`;
}

/** The folder reproductions land in: LAB_REPRODUCE_DIR, else experiments/runs/reproduce/. */
export function reproductionsDir(): string {
  return process.env.LAB_REPRODUCE_DIR ?? fromRoot("experiments", "runs", "reproduce");
}

export interface ReproduceOptions {
  quick: boolean;
  /** Read the step cache (LAB_STEP_CACHE=use) instead of recomputing every step. */
  useCache: boolean;
  /** The reproduction folder (default: a new one under reproductionsDir()). */
  out?: string;
}

/**
 * Reproduces the planned experiments (in lanes, one per worker: reproduceInLanes), then writes the
 * reproduction folder.
 * Unless `useCache`, the step cache is bypassed (every step recomputed and compared with its
 * cached value) and the gradient store is a fresh, empty one; the environment is restored after.
 */
export async function reproduce({ plans, refused }: PlannedReproduction, options: ReproduceOptions, log: (line: string) => void = console.log): Promise<{ reproduction: Reproduction; dir: string }> {
  const id = newReproductionId(options.quick);
  const dir = options.out ?? join(reproductionsDir(), id);
  if (existsSync(dir)) {
    throw new ReproduceError({
      code: "reproduce/out-exists",
      message: `the reproduction folder ${dir} exists already`,
      hint: "name a new folder with --out, or remove that one: a reproduction never writes over another",
      fields: { out: dir },
    });
  }
  const startedAt = new Date();
  const environment = environmentManifest();
  const cacheMode: StepCacheMode = options.useCache ? "use" : "bypass";
  const previous = { LAB_STEP_CACHE: process.env.LAB_STEP_CACHE, LAB_GRADIENT_STORE: process.env.LAB_GRADIENT_STORE };
  process.env.LAB_STEP_CACHE = cacheMode;
  // Bypassing, the gradient store starts empty too: gradients are shared within the reproduction, never read from an earlier one.
  const freshGradients = cacheMode === "bypass" ? mkdtempSync(join(tmpdir(), "lab-reproduce-gradients-")) : undefined;
  if (freshGradients) process.env.LAB_GRADIENT_STORE = freshGradients;
  const outcomes: ExperimentOutcome[] = [];
  for (const r of refused) {
    log(`✗ ${r.file} refused: ${r.error}`);
    outcomes.push(refusedOutcome(r));
  }
  try {
    outcomes.push(...(await reproduceInLanes(plans, options.quick, log)));
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (freshGradients) rmSync(freshGradients, { recursive: true, force: true });
  }
  const failures = countFailures(outcomes);
  const reproduction: Reproduction = {
    id,
    mode: options.quick ? "quick" : "full",
    startedAt: startedAt.toISOString(),
    seconds: (Date.now() - startedAt.getTime()) / 1000,
    cacheMode,
    environment,
    experiments: outcomes,
    failures,
    passed: failures === 0,
  };
  const figures = reproductionFigures(reproduction);
  const files: Record<string, string> = {
    "results.json": `${JSON.stringify(reproduction, (_, v) => (typeof v === "number" && !Number.isFinite(v) ? String(v) : v), 2)}\n`,
    "report.md": renderReproductionMarkdown(reproduction, figures),
    "report.html": renderReproductionHtml(reproduction, figures),
  };
  for (const figure of figures) files[`figures/${figure.file}`] = figure.svgFile;
  writeDirAtomic(dir, files);
  return { reproduction, dir };
}
