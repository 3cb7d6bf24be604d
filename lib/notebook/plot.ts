import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import { html } from "./display.js";
import { inNotebook } from "../run-context.js";

const require = createRequire(import.meta.url);

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;

let bundleSent = false;

/**
 * The plotly.js bundle from its npm package, wrapped so the classic notebook's RequireJS does
 * not capture it: with `define` hidden, the bundle sets `window.Plotly` like a plain script.
 */
export function plotlyBundleScript(): string {
  const bundle = readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
  return `<script type="text/javascript">(function(){var define=undefined;var d=window.define;window.define=undefined;\n${bundle}\n;window.define=d;})();</script>`;
}

/** The markup of one figure: a div and the call that draws into it. */
export function figureMarkup(traces: Trace[], layout: Layout = {}): string {
  const id = `lab-plot-${randomBytes(6).toString("hex")}`;
  const fullLayout: Layout = { margin: { t: 48, r: 24, b: 48, l: 56 }, ...layout };
  const json = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");
  return `<div id="${id}" style="width:100%;min-height:${Number(fullLayout.height ?? 420)}px"></div>
<script type="text/javascript">(function(){function draw(){if(!window.Plotly){return setTimeout(draw,50);}window.Plotly.newPlot(${json(id)},${json(traces)},${json(fullLayout)},{responsive:true,displaylogo:false});}draw();})();</script>`;
}

/**
 * Draws a plotly figure that works offline: in the live notebook and in the exported HTML. The
 * bundle is embedded once per kernel session, in the first figure's output.
 */
export function plot(traces: Trace[], layout: Layout = {}): void {
  if (!inNotebook()) {
    const title = typeof layout.title === "string" ? layout.title : (layout.title as { text?: string } | undefined)?.text;
    console.log(`[figure${title ? `: ${title}` : ""}: ${traces.length} trace(s)]`);
    return;
  }
  let markup = figureMarkup(traces, layout);
  if (!bundleSent) {
    markup = plotlyBundleScript() + markup;
    bundleSent = true;
  }
  html(markup);
}
