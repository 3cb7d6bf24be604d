import { createRequire } from "node:module";
import { inNotebook } from "../run-context.js";

type TslabDisplay = import("tslab").Display;
type Tslab = { display: TslabDisplay; newDisplay(): TslabDisplay };

const require = createRequire(import.meta.url);
let tslab: Tslab | undefined;

/** tslab's display API, loaded only inside the kernel (it pulls in a TypeScript compiler). */
export function kernelDisplay(): Tslab | undefined {
  if (!inNotebook()) return undefined;
  tslab ??= require("tslab") as Tslab;
  return tslab;
}

/** Shows HTML in a notebook; in a terminal prints the given text fallback, if any. */
export function html(markup: string, terminalText?: string): void {
  const k = kernelDisplay();
  if (k) k.display.html(markup);
  else if (terminalText !== undefined) console.log(terminalText);
}

export function markdown(text: string): void {
  const k = kernelDisplay();
  if (k) k.display.markdown(text);
  else console.log(text);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}
