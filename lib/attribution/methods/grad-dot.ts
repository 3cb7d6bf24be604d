/** Hessian-free baselines: Grad-Dot gᵢ·g_t and Grad-Cos (the same on unit vectors), at the final parameters. */
import { taskGradients } from "../gradients.js";
import type { ProjectionSpec } from "../projection.js";
import { type AttributionTask, type Attributor, pairScores, rowDots, type Scores, verifyTask } from "./attributor.js";

/** Each of the n rows of a (n × d) scaled to unit length (an all-zero row stays zero). */
export function normalizeRows(a: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(a);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += a[i * d + j] ** 2;
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = 0; j < d; j++) out[i * d + j] *= inv;
  }
  return out;
}

export class GradDot implements Attributor {
  readonly name: string;
  constructor(readonly opts: { cosine?: boolean; projection?: ProjectionSpec } = {}) {
    this.name = opts.cosine ? "grad-cos" : "grad-dot";
  }
  async attribute(task: AttributionTask): Promise<Scores> {
    verifyTask(task);
    const G = await taskGradients(task, task.params, task.train, { projection: this.opts.projection });
    const V = await taskGradients(task, task.params, task.test, { projection: this.opts.projection });
    const d = G.dim;
    const g = this.opts.cosine ? normalizeRows(G.data, G.n, d) : G.data;
    const v = this.opts.cosine ? normalizeRows(V.data, V.n, d) : V.data;
    return pairScores(this.name, v, V.n, g, G.n, d);
  }
  /** ‖gᵢ‖² (Grad-Cos: 1 for every example with a non-zero gradient). */
  async selfInfluence(task: AttributionTask): Promise<Float64Array> {
    verifyTask(task);
    const G = await taskGradients(task, task.params, task.train, { projection: this.opts.projection });
    const g = this.opts.cosine ? normalizeRows(G.data, G.n, G.dim) : G.data;
    return rowDots(g, g, G.n, G.dim);
  }
}
