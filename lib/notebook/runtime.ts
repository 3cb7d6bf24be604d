import { formatAdapter, initTf, type TfRuntime } from "../tf/index.js";
import { markdown } from "./display.js";

/**
 * What a run computes on, in one line: the backend, TensorFlow.js's version, on webgpu the
 * adapter, and the faster backends passed over with their codes.
 */
export function runtimeSummary(rt: TfRuntime): string {
  const passedOver = rt.skipped.map((s) => (s.code ? `${s.choice} (${s.code})` : s.choice));
  return [
    `Computing on **${rt.backend}** (TensorFlow.js ${rt.tfjsVersion}, backend \`${rt.tfBackendName}\`)`,
    ...(rt.adapter ? [formatAdapter(rt.adapter)] : []),
    ...(passedOver.length ? [`passed over: ${passedOver.join(", ")}`] : []),
  ].join(" · ");
}

/**
 * The TensorFlow.js runtime of a notebook, chosen as the command line chooses it (initTf: webgpu on
 * a hardware adapter, else the fastest CPU backend), and shown as an output so a reader sees the
 * backend and adapter that produced the figures below.
 */
export async function notebookTf(): Promise<TfRuntime> {
  const rt = await initTf({ quiet: true });
  markdown(runtimeSummary(rt));
  return rt;
}
