/**
 * What the attribution experiments share: their log, the gradient store, timers, the models'
 * negative test loss (the output LDS and LOO score), TRAK's ridge as a spec writes it, and the
 * Factory MLP on the lab's TensorFlow.js backend.
 */
import { cpuUsage } from "node:process";
import { cacheDir } from "../../cache.js";
import type { ExperimentLog } from "../../experiments/index.js";
import { initTf } from "../../tf/index.js";
import { AttributionError } from "../errors.js";
import { attributionMlp } from "../factory-train.js";
import { GradientStore } from "../gradients.js";
import type { Batch, TraceableModel } from "../model.js";

export type Log = ExperimentLog;

/**
 * The gradient store the experiments share: per-example gradients are computed once per (model,
 * parameters, examples, target, projection) and every method reads them from disk; a re-run with
 * the same seed reads them all. `gradientStore` in a spec's params (or LAB_GRADIENT_STORE) moves it.
 */
export function experimentGradientStore(dir?: string): GradientStore {
  return new GradientStore(dir ?? process.env.LAB_GRADIENT_STORE ?? cacheDir("gradient-store"));
}

/** The store's counts as metrics, logged: sets computed and written, sets read back. */
export function gradientStoreMetrics(store: GradientStore, log: Log): { gradient_sets_computed: number; gradient_sets_read: number } {
  log(`  gradient store ${store.dir}: ${store.misses} sets computed and written, ${store.hits} read back`);
  return { gradient_sets_computed: store.misses, gradient_sets_read: store.hits };
}

/** `f`'s value and its wall seconds (awaited when `f` is asynchronous). */
export async function timed<T>(f: () => T | Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

/** CPU seconds of `f`: unlike wall time, it does not count the neighbours on a shared machine. */
export function cpuTimed<T>(f: () => T): [T, number] {
  const c0 = cpuUsage();
  const r = f();
  const c = cpuUsage(c0);
  return [r, (c.user + c.system) / 1e6];
}

/** The model's output per test point: its negative loss (the log-likelihood of the label). */
export async function negLoss(model: TraceableModel, params: Float64Array, test: Batch): Promise<Float64Array> {
  return (await model.trace(params, test, "loss")).values.map((v) => -v);
}

/**
 * TRAK's ridge in a spec: a number, or "objective": the training objective's own l2 term n·l2·I
 * seen through the projection (PᵀP ≈ (p/k)·I for k < p), n·l2·max(1, p/k).
 */
export type TrakRidge = number | "objective";

export function resolveTrakRidge(ridge: TrakRidge, n: number, l2: number, numParams: number, projectionDim: number): number {
  if (ridge === "objective") return n * l2 * Math.max(1, numParams / projectionDim);
  if (typeof ridge !== "number" || !(ridge >= 0)) {
    throw new AttributionError({
      code: "spec/bad-trak-ridge",
      message: `trakRidge ${JSON.stringify(ridge)} is neither a number ≥ 0 nor "objective"`,
      hint: 'write trakRidge: 0 (the paper\'s formula), a positive number, or "objective"',
      fields: { trakRidge: String(ridge) },
    });
  }
  return ridge;
}

/** The metric key of TRAK's LDS with an ensemble of `models` (`lds_trak_10`): the ensemble size is part of the name. */
export function trakLdsKey(models: number): `lds_trak_${number}` {
  return `lds_trak_${models}`;
}

/**
 * The lab's TensorFlow.js runtime, started only by the experiments that train (its wasm backend is
 * heavy). Imported statically: a dynamic import can load a second copy of lib/tf under a
 * TypeScript loader, with a runtime and error classes of its own.
 */
export async function experimentTf() {
  return (await initTf({ quiet: true })).tf;
}

/** The Factory's MLP for a spec's `hidden` width (10 classes), on the lab's TensorFlow.js backend. */
export async function mlpFor(inputDim: number, hidden: number) {
  return attributionMlp(await experimentTf(), inputDim, hidden, 10);
}
