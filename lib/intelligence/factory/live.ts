import { kernelDisplay } from "../../notebook/display.js";
import { figureMarkup } from "../../notebook/plot.js";

export interface CurvePoint { step: number; loss?: number; valLoss?: number; valAccuracy?: number; testAccuracy?: number }

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
    entry.html(figureMarkup(traces, {
      title: { text: title }, height: 360, xaxis: { title: { text: "step" } }, yaxis: { title: { text: "loss (nats)" } },
      ...(opts.accuracy ? { yaxis2: { title: { text: "accuracy" }, overlaying: "y", side: "right", range: [0, 1] } } : {}),
      legend: { orientation: "h" },
    }));
  };
  return { update: (train: CurvePoint[], evals: CurvePoint[]) => draw(train, evals), done: (train: CurvePoint[], evals: CurvePoint[]) => draw(train, evals, true) };
}
