import { RunInterruptedError } from "../intelligence/factory/fine-tune.js";
import { type FactoryOptions, type FactoryResult, type FactorySpec, runFactory as runFactoryQuietly } from "../intelligence/factory/index.js";
import { kernelDisplay } from "./display.js";
import { figureMarkup } from "./plot.js";
import { type Progress, progress } from "./progress.js";

export interface CurvePoint {
  step: number;
  loss?: number;
  valLoss?: number;
  valAccuracy?: number;
  testAccuracy?: number;
}

/**
 * Live loss/accuracy curves: in a notebook one output area redrawn in place as training goes
 * (plotly from the lab's bundle, which an earlier plot() in the notebook has loaded); outside a
 * notebook nothing (the terminal shows the progress bar).
 */
export function liveCurves(title: string, opts: { accuracy: boolean; minIntervalMs?: number }) {
  const kernel = kernelDisplay();
  const entry = kernel?.newDisplay();
  let last = 0;
  const draw = (train: CurvePoint[], evals: CurvePoint[], force = false) => {
    if (!entry) return;
    const now = Date.now();
    if (!force && now - last < (opts.minIntervalMs ?? 1000)) return;
    last = now;
    const traces: Record<string, unknown>[] = [
      { x: train.map((p) => p.step), y: train.map((p) => p.loss), name: "train loss", mode: "lines", line: { width: 1 } },
      { x: evals.map((p) => p.step), y: evals.map((p) => p.valLoss), name: "validation loss", mode: "lines+markers" },
    ];
    if (opts.accuracy) {
      traces.push({ x: evals.map((p) => p.step), y: evals.map((p) => p.testAccuracy), name: "test accuracy", mode: "lines+markers", yaxis: "y2" });
    }
    entry.html(
      figureMarkup(traces, {
        title: { text: title },
        height: 360,
        xaxis: { title: { text: "step" } },
        yaxis: { title: { text: "loss (nats)" } },
        ...(opts.accuracy ? { yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0, 1] } } : {}),
        legend: { orientation: "h" },
      }),
    );
  };
  return { update: (train: CurvePoint[], evals: CurvePoint[]) => draw(train, evals), done: (train: CurvePoint[], evals: CurvePoint[]) => draw(train, evals, true) };
}

export interface FactoryViewOptions {
  /** Live curves (drawn only in a notebook; default true). */
  live?: boolean;
  /** No progress bar and no console lines. */
  quiet?: boolean;
}

/** The callbacks that draw a Factory run, and what to call when it ends. */
export interface FactoryDrawing {
  callbacks: Pick<FactoryOptions, "onStart" | "onStep" | "onEvaluation">;
  finish(outcome: "done" | "interrupted"): void;
}

/** Draws a Factory run as it trains: a progress bar (unless quiet) and live curves (unless live is false). */
export function drawFactory(view: FactoryViewOptions = {}): FactoryDrawing {
  let bar: Progress | undefined;
  let curves: ReturnType<typeof liveCurves> | undefined;
  let train: CurvePoint[] = [];
  let evals: CurvePoint[] = [];
  let lastLoss = Number.NaN;
  const evalPoint = (e: { step: number; validation_loss: number; validation_accuracy: number; test_accuracy: number }): CurvePoint => ({
    step: e.step,
    valLoss: e.validation_loss,
    valAccuracy: e.validation_accuracy,
    testAccuracy: e.test_accuracy,
  });
  return {
    callbacks: {
      onStart(start) {
        train = start.history.map((h) => ({ step: h.step, loss: h.loss }));
        evals = start.evals.map(evalPoint);
        lastLoss = start.history.length ? start.history[start.history.length - 1].loss : Number.NaN;
        if (!view.quiet) {
          bar = progress(`factory ${start.spec.name}`, start.totalSteps);
          bar.tick(start.startStep);
        }
        if (view.live !== false) {
          const { spec } = start;
          curves = liveCurves(`${spec.name}: ${spec.method}${spec.method === "lora" ? ` r=${spec.lora.r}` : ""}`, { accuracy: start.classifier });
        }
      },
      onEvaluation(evaluation) {
        evals.push(evalPoint(evaluation));
      },
      onStep(step) {
        lastLoss = step.loss;
        train.push({ step: step.step, loss: step.loss });
        bar?.tick(1, `loss ${step.loss.toFixed(4)}${step.lastEvaluation ? ` val ${step.lastEvaluation.validation_loss.toFixed(4)}` : ""}`);
        curves?.update(train, evals);
      },
    },
    finish(outcome) {
      if (outcome === "interrupted") {
        bar?.done("interrupted");
        return;
      }
      bar?.done(`loss ${lastLoss.toFixed(4)}`);
      curves?.done(train, evals);
    },
  };
}

/**
 * The Model Factory run as a notebook or terminal shows it: lib/intelligence's runFactory with
 * a progress bar and live curves attached (see drawFactory); the options are runFactory's plus
 * `live`.
 */
export async function runFactory(specOrPath: FactorySpec | string | Record<string, unknown>, opts: FactoryOptions & FactoryViewOptions = {}): Promise<FactoryResult> {
  const { live, ...factoryOptions } = opts;
  const drawing = drawFactory({ live, quiet: opts.quiet });
  try {
    const result = await runFactoryQuietly(specOrPath, { ...factoryOptions, ...chain(factoryOptions, drawing.callbacks) });
    drawing.finish("done");
    return result;
  } catch (error) {
    if (error instanceof RunInterruptedError) drawing.finish("interrupted");
    throw error;
  }
}

/** Calls the caller's own callbacks as well as the drawing's. */
function chain(own: FactoryOptions, drawing: FactoryDrawing["callbacks"]): FactoryDrawing["callbacks"] {
  return {
    onStart: (s) => {
      drawing.onStart?.(s);
      own.onStart?.(s);
    },
    onEvaluation: (e) => {
      drawing.onEvaluation?.(e);
      own.onEvaluation?.(e);
    },
    onStep: (s) => {
      drawing.onStep?.(s);
      own.onStep?.(s);
    },
  };
}
