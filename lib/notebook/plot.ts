import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { LabError } from "../errors.js";
import { inNotebook } from "../run-context.js";
import { html } from "./display.js";

const require = createRequire(import.meta.url);

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;

let bundleSent = false;

export class PlotError extends LabError {}

/** Trace types drawn on x/y axes (the rest, like pie or sunburst, have none to title). */
const CARTESIAN = new Set(["scatter", "scattergl", "bar", "histogram", "histogram2d", "histogram2dcontour", "box", "violin", "heatmap", "contour", "candlestick", "ohlc", "waterfall", "funnel"]);

function titleText(title: unknown, where: string): string | undefined {
  if (title === undefined || title === null) return undefined;
  if (typeof title === "string") {
    throw new PlotError({
      code: "plot/string-title",
      fields: { where, title },
      message: `${where} is the string "${title}"; plotly.js 3 draws only titles written as { text }`,
      hint: `write ${where}: { text: ${JSON.stringify(title)} }`,
    });
  }
  const text = (title as { text?: unknown }).text;
  return typeof text === "string" && text.trim() ? text : undefined;
}

/** The layout keys ("xaxis", "yaxis2", …) of the axes the traces draw on. */
function axesUsed(traces: Trace[]): string[] {
  const keys = new Set<string>();
  for (const t of traces) {
    if (!CARTESIAN.has(String(t.type ?? "scatter"))) continue;
    keys.add(`xaxis${String(t.xaxis ?? "x").slice(1)}`);
    keys.add(`yaxis${String(t.yaxis ?? "y").slice(1)}`);
  }
  return [...keys].sort();
}

/**
 * The layout as plotly.js 3 reads it, or a refusal: a figure needs a title and a title on every
 * visible axis its traces use, each written in plotly 3's form `{ text: "…" }` (it ignores plain
 * strings and would draw the figure untitled). Axis titles get `automargin`, so they are never cut.
 */
export function checkedLayout(traces: Trace[], layout: Layout): Layout {
  const out: Layout = structuredClone(layout);
  if (!titleText(layout.title, "layout.title")) {
    throw new PlotError({ code: "plot/no-title", fields: {}, message: "the figure has no title", hint: 'give the layout a title: { title: { text: "what the figure shows" } }' });
  }
  for (const key of axesUsed(traces)) {
    const axis = (layout[key] ?? {}) as Record<string, unknown>;
    if (axis.visible === false) continue;
    if (!titleText(axis.title, `layout.${key}.title`)) {
      throw new PlotError({
        code: "plot/no-axis-title",
        fields: { axis: key },
        message: `the figure's ${key} has no title`,
        hint: `name what the axis shows and its unit: ${key}: { title: { text: "…" } } (or hide it with visible: false)`,
      });
    }
    out[key] = { automargin: true, ...axis };
  }
  return out;
}

/**
 * The plotly.js bundle from its npm package, wrapped so the classic notebook's RequireJS does
 * not capture it: with `define` hidden, the bundle sets `window.Plotly` like a plain script. The
 * `data-lab-plotly-bundle` attribute lets a run folder keep the bundle once (lib/runner/run-report.ts).
 */
export function plotlyBundleScript(): string {
  const bundle = readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
  return `<script type="text/javascript" data-lab-plotly-bundle>(function(){var define=undefined;var d=window.define;window.define=undefined;\n${bundle}\n;window.define=d;})();</script>`;
}

/** The markup of one figure: a div and the call that draws into it. */
export function figureMarkup(traces: Trace[], layout: Layout): string {
  const id = `lab-plot-${randomBytes(6).toString("hex")}`;
  const fullLayout: Layout = { margin: { t: 48, r: 24, b: 48, l: 56 }, ...checkedLayout(traces, layout) };
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");
  return `<div id="${id}" style="width:100%;min-height:${Number(fullLayout.height ?? 420)}px"></div>
<script type="text/javascript">(function(){function draw(){if(!window.Plotly){return setTimeout(draw,50);}window.Plotly.newPlot(${json(id)},${json(traces)},${json(fullLayout)},{responsive:true,displaylogo:false});}draw();})();</script>`;
}

/**
 * Draws a plotly figure that works offline: in the live notebook and in the exported HTML. The
 * bundle is embedded once per kernel session, in the first figure's output. The layout must title
 * the figure and its axes in plotly 3's form (see checkedLayout).
 */
export function plot(traces: Trace[], layout: Layout): void {
  const checked = checkedLayout(traces, layout);
  if (!inNotebook()) {
    console.log(`[figure: ${(checked.title as { text: string }).text}: ${traces.length} trace(s)]`);
    return;
  }
  let markup = figureMarkup(traces, layout);
  if (!bundleSent) {
    markup = plotlyBundleScript() + markup;
    bundleSent = true;
  }
  html(markup);
}
